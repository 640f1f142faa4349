"""A content-hash cache that lets `cascade gen` and `cascade check` re-read only what changed.

Four levels, each keyed by content, never by timestamps:
- a whole compilation, reused when every file it read (and every file it looked for and did
  not find) and the previous output are unchanged;
- each source module's part of it (its tables' rendered modules, its diagnostics), reused
  while the module, every project module its resolution read or looked for, and the previous
  schema modules that locked its tables' field ids are unchanged (driver/incremental.py): after
  one model is edited, only the ingestions that read it are resolved and rendered again;
- each module's parse facts, by the module's source text;
- each formatted file, by its rendered text (so ruff runs only on what rendering changed); a
  text that is in a file on disk (the previous output) is kept as its SHA-256 and read back
  from the file when that file still holds it.
Beside them: which table each previous generated file locks (by the file's text, so that one
table's lock is found without parsing every schema module) and dlt's answers for column
names (resolve/naming.py). Every file carries a fingerprint of the compiler's own code and
the versions of ruff and dlt, so a new compiler never reuses an old result. The cache is an
accelerator: compiling without it gives the same output.

The cache folder sits in the project (`.cascade/cache/`), where a pull request can commit files
and `cascade check` must still never run the project's code nor trust it. So a cache file is
data only (JSON, decoded by the explicit codec below into exactly the compiler's own types,
refusing anything else; nothing is ever unpickled), and it is signed: an HMAC-SHA256 with a
random key kept outside every checkout, in the user's cache folder. A file not signed with
that key (planted, copied from another machine), damaged, truncated or of another format
version is ignored with one warning line and rebuilt. A content hash alone would not do: the
keys are hashes of public text, so anyone could write a "this output is up to date" entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cascade.compiler.diagnostics import Diagnostic, Span

if TYPE_CHECKING:
    from cascade.compiler.driver.incremental import ModuleResult
    from cascade.compiler.frontend.facts import ModuleFacts
    from cascade.compiler.resolve.lock import TableLock

RESULT_FILE = "result.cache"  # small: read on every run
PARTS_FILE = "parts.cache"  # everything else: read only when the result is not reusable
FORMAT_VERSION = 1  # of the signed file; what is in it changes with the fingerprint
# The kinds of entries in the parts file. Parse facts are kept in it as compressed JSON text,
# decoded only when looked up: as plain JSON, reading and writing the facts of 500 modules
# (4.5 MB) took ~40 ms of every incremental compile, which needs a few of them.
PARTS = ("parse", "format", "module", "lock", "table_lock", "naming")
MAX_NAMING_ENTRIES = 200_000  # dlt's answers are kept across runs; past this, this run's only
MAGIC = b"cascade-compile-cache"
KEY_FILE = "compile-cache.key"
MAX_FILE_BYTES = 1 << 30  # a cache file larger than this is not ours (500 ingestions: ~3 MB)


def digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def text_digest(text: str) -> str:
    """A file's text, by content: a cached text equal to a file on disk is read from it, so
    this must be a cryptographic hash (a file crafted to match would pass `check`)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def compiler_fingerprint() -> str:
    """A digest of the compiler's source files and of the installed ruff (which formats the
    output) and dlt (whose naming rule the resolve stage asks)."""
    sources = compiler_sources()
    return digest(
        *installed_versions("ruff", "dlt"), *(p.read_text(encoding="utf-8") for p in sources)
    )


def compiler_sources() -> list[Path]:
    """Every module of the compiler, all stages (this file is in driver/)."""
    return sorted(Path(__file__).parents[1].rglob("*.py"))


def installed_versions(*packages: str) -> list[str]:
    """`<name>-<version>.dist-info` of each installed package, found next to the package
    without importing it or importlib.metadata (~25 ms, a tenth of a warm `cascade check`);
    importlib.metadata when there is no such folder there."""
    from importlib.util import find_spec

    found = []
    for package in packages:
        spec = find_spec(package)
        origin = spec.origin if spec is not None else None
        if origin is None:
            found.append(f"{package}: not installed")
            continue
        site = Path(origin).parent.parent
        prefix = f"{package}-"
        try:
            folders = sorted(
                name
                for name in os.listdir(site)
                if name.startswith(prefix) and name.endswith(".dist-info")
            )
        except OSError:
            folders = []
        if not folders:
            from importlib.metadata import PackageNotFoundError, version

            try:
                folders = [f"{package} {version(package)}"]
            except PackageNotFoundError:
                folders = [f"{package}: no version"]
        found.extend(folders)
    return found


class CacheFormatError(ValueError):
    """Cache data that is not exactly what this compiler writes."""


class CompileCache:
    def __init__(self, folder: Path | None):
        self.warned = False
        self.folder = folder if folder is None or usable_folder(folder) else None
        if folder is not None and self.folder is None:
            self.warn(f"{folder} is not a plain folder; the compile cache is off for this run")
        self.signing_key = signing_key() if self.folder is not None else None
        self.fingerprint = compiler_fingerprint()
        loaded = self.load(RESULT_FILE)
        self.result: Any = self.decoded(RESULT_FILE, decode_result, loaded.get("result"))
        self.saved_result = self.result  # what the result file holds: rewritten only on change
        self.stored: dict[str, dict[str, Any]] | None = None  # parts, loaded on first use
        # Entries are kept encoded: only those looked up are decoded, and saving re-encodes
        # nothing that was read. Saving writes the entries this run used (or kept), so the
        # cache never grows past one project's size.
        self.used: dict[str, dict[str, Any]] = {kind: {} for kind in PARTS}
        self.parts_saved = False
        self.on_disk: list[dict[str, str]] = []  # files whose texts need no copy in the cache
        self.disk_texts: dict[str, str] | None = None  # their texts, by text_digest()

    def warn(self, message: str) -> None:
        if not self.warned:  # one line per run, however many files are bad
            self.warned = True
            print(f"cascade: warning: {message}", file=sys.stderr)

    def load(self, name: str) -> dict[str, Any]:
        """The verified contents of a cache file; {} when it is absent or made by another
        compiler (silently), or when it is damaged, foreign or planted (with a warning)."""
        if self.folder is None:
            return {}
        path = self.folder / name
        try:
            data = read_regular_file(path)
        except FileNotFoundError:
            return {}
        except (OSError, CacheFormatError) as error:
            self.warn(f"ignoring the compile cache file {path} ({error}); rebuilding it")
            return {}
        try:
            stored = verified_body(data, self.signing_key)
        except CacheFormatError as error:
            self.warn(f"ignoring the compile cache file {path} ({error}); rebuilding it")
            return {}
        if stored.get("fingerprint") != self.fingerprint:
            return {}  # written by another version of the compiler: an ordinary miss
        return stored

    def decoded(self, name: str, decode: Any, value: Any) -> Any:
        if value is None:
            return None
        try:
            return decode(value)
        except (CacheFormatError, TypeError, ValueError, RecursionError) as error:
            assert self.folder is not None  # only a cache with a folder has read anything
            self.warn(f"ignoring the compile cache file {self.folder / name} ({error})")
            return None

    @property
    def parts_loaded(self) -> bool:
        return self.stored is not None

    def part(self, kind: str) -> dict[str, Any]:
        if self.stored is None:
            loaded = self.load(PARTS_FILE)
            self.stored = {k: {} for k in PARTS}
            if all(type(loaded.get(k, {})) is dict for k in PARTS):
                self.stored = {k: loaded.get(k, {}) for k in PARTS}
            else:
                assert self.folder is not None  # only a cache with a folder has read anything
                self.warn(f"ignoring the compile cache file {self.folder / PARTS_FILE} (damaged)")
        return self.stored[kind]

    def parsed(self, key: str) -> ModuleFacts | None:
        from cascade.compiler.driver.codec import decode_module_facts, unpacked

        return self.lookup("parse", key, lambda v: decode_module_facts(unpacked(v)))

    def store_parsed(self, key: str, facts: ModuleFacts) -> None:
        from cascade.compiler.driver.codec import encode_module_facts, packed

        try:
            self.use("parse", key, packed(encode_module_facts(facts)))
        except (CacheFormatError, RecursionError, ValueError):
            pass  # facts holding a value too deep or too large are re-parsed next time

    def formatted(self, key: str) -> str | None:
        found = self.entry("format", key)
        if type(found) is list and len(found) == 1 and type(found[0]) is str:
            formatted = self.text_on_disk(found[0])  # None when that file has changed since
        else:
            formatted = self.decoded(PARTS_FILE, text, found)
        if formatted is not None:
            self.use("format", key, found)
        return formatted

    def store_formatted(self, key: str, formatted: str) -> None:
        self.use("format", key, formatted)

    def know_on_disk(self, files: dict[str, str]) -> None:
        """Files now on disk (the previous output; after gen, what it wrote): a formatted text
        equal to one of them is kept as its digest, and read back from the file. Formatted
        texts are nearly all the cache would hold otherwise (~4 MB for 500 ingestions), and
        reading and writing them was a tenth of each incremental compile."""
        self.on_disk.append(files)
        self.disk_texts = None

    def text_on_disk(self, digest_: str) -> str | None:
        if self.disk_texts is None:
            self.disk_texts = {text_digest(t): t for files in self.on_disk for t in files.values()}
        return self.disk_texts.get(digest_)

    def formatted_by_reference(self) -> dict[str, Any]:
        """The format entries to save: each text that is in a file on disk as its digest."""
        entries = {}
        for key, found in self.used["format"].items():
            if type(found) is str:
                digest_ = text_digest(found)
                if self.text_on_disk(digest_) is not None:
                    found = [digest_]
            entries[key] = found
        return entries

    def module_result(self, key: str) -> ModuleResult | None:
        """A source module's cached result, or None. Not kept unless `keep_module_result`
        says it is still valid."""
        from cascade.compiler.driver.codec import decode_module_result

        found = self.entry("module", key)
        if found is None:
            return None
        return self.decoded(PARTS_FILE, decode_module_result, found)

    def keep_module_result(self, key: str) -> None:
        self.keep("module", key)

    def module_results_in_use(self) -> list[tuple[str, ModuleResult]]:
        """The module results this run reused or stored, by key."""
        from cascade.compiler.driver.codec import decode_module_result

        return [(key, decode_module_result(v)) for key, v in self.used["module"].items()]

    def store_module_result(self, key: str, result: ModuleResult) -> None:
        from cascade.compiler.driver.codec import encode_module_result

        self.use("module", key, encode_module_result(result))

    def lock_identifier(self, key: str) -> str | None:
        """The table a previous generated file (by its digest) locks: "" for none; None when
        the file was not seen before."""
        return self.lookup("lock", key, text)

    def store_lock_identifier(self, key: str, identifier: str) -> None:
        self.use("lock", key, identifier)

    def table_lock(self, key: str) -> TableLock | None:
        """The lock a previous generated file (by its digest) holds, as it was read."""
        from cascade.compiler.driver.codec import decode_table_lock

        return self.lookup("table_lock", key, decode_table_lock)

    def store_table_lock(self, key: str, lock: TableLock) -> None:
        from cascade.compiler.driver.codec import encode_table_lock

        try:
            self.use("table_lock", key, encode_table_lock(lock))
        except (CacheFormatError, RecursionError):
            pass  # read again next time

    def naming(self) -> dict[str, str]:
        """dlt's names for column names, as earlier runs asked it (resolve/naming.py)."""
        stored = self.part("naming")
        if not all(type(k) is str and type(v) is str for k, v in stored.items()):
            assert self.folder is not None  # only a cache with a folder has read anything
            self.warn(f"ignoring the compile cache file {self.folder / PARTS_FILE} (damaged)")
            stored.clear()
        return stored

    def store_naming(self, known: dict[str, str]) -> None:
        """Adds dlt's answers; all are kept (names are few), up to MAX_NAMING_ENTRIES."""
        stored = self.part("naming")
        for name, normalized in known.items():
            if stored.get(name) != normalized:
                self.use("naming", name, normalized)

    def entry(self, kind: str, key: str) -> Any:
        """An entry as encoded: stored in this run, or in the parts file."""
        found = self.used[kind].get(key)
        return found if found is not None else self.part(kind).get(key)

    def lookup(self, kind: str, key: str, decode: Any) -> Any:
        found = self.entry(kind, key)
        if found is None:
            return None
        value = self.decoded(PARTS_FILE, decode, found)
        if value is not None:
            self.use(kind, key, found)
        return value

    def keep(self, kind: str, key: str) -> None:
        """Keeps a stored entry without decoding it (the parse facts of a module whose cached
        result is reused: the next edit may need them)."""
        found = self.entry(kind, key)
        if found is not None:
            self.use(kind, key, found)

    def use(self, kind: str, key: str, encoded: Any) -> None:
        if self.used[kind].get(key) is not encoded:
            self.used[kind][key] = encoded
            self.parts_saved = False

    def save(self) -> None:
        """Writes the result, and the parts this run used when it used any (so the cache never
        grows past one project's size, and a run that reused the result rewrites no parts)."""
        if self.folder is None:
            return
        if self.signing_key is None:
            self.signing_key = signing_key(create=True)
            if self.signing_key is None:
                return  # nowhere to keep a key: no cache rather than an unverifiable one
        if self.result is None or self.result is not self.saved_result:
            try:
                result = encode_result(self.result) if self.result is not None else None
            except (CacheFormatError, RecursionError):
                result = None
            self.write(RESULT_FILE, {"fingerprint": self.fingerprint, "result": result})
            self.saved_result = self.result
        if self.stored is not None and not self.parts_saved:
            parts = dict(self.used)
            parts["format"] = self.formatted_by_reference()
            naming = {**self.stored["naming"], **self.used["naming"]}
            parts["naming"] = naming if len(naming) <= MAX_NAMING_ENTRIES else self.used["naming"]
            if parts != self.stored:  # a run that only reused entries has nothing to write
                self.write(PARTS_FILE, {"fingerprint": self.fingerprint, **parts})
            self.parts_saved = True

    def write(self, name: str, body: dict[str, Any]) -> None:
        """Writes atomically; a cache that cannot be written (read-only checkout, full disk)
        is only a slower next run."""
        assert self.folder is not None and self.signing_key is not None
        import tempfile

        try:
            data = signed_file(body, self.signing_key)
            self.folder.mkdir(parents=True, exist_ok=True)
            if not usable_folder(self.folder):
                return
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{name}-")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(data)
                os.replace(temporary, self.folder / name)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except (OSError, ValueError, RecursionError):
            pass


# -- where things live --------------------------------------------------------------------


def usable_folder(folder: Path) -> bool:
    """False when the cache folder, or the folder holding it (`.cascade`), is a symbolic link
    or not a folder: a checkout could point them anywhere, and the cache writes there."""
    for path in (folder, folder.parent):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        except OSError:
            return False
        if not stat.S_ISDIR(mode):
            return False
    return True


def read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file, never following a symbolic link (a planted link to a
    device or a huge file would hang or exhaust the run)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        handle = os.open(path, flags)
    except OSError as error:
        if isinstance(error, FileNotFoundError) or not os.path.lexists(path):
            raise FileNotFoundError(path) from error
        raise CacheFormatError("not a regular file") from error
    with os.fdopen(handle, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise CacheFormatError("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise CacheFormatError("too large")
        return stream.read(MAX_FILE_BYTES + 1)


def user_cache_home() -> Path:
    configured = os.environ.get("XDG_CACHE_HOME")
    if configured and os.path.isabs(configured):
        return Path(configured)
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches"
    return Path.home() / ".cache"


def key_path() -> Path:
    return user_cache_home() / "cascade" / KEY_FILE


def signing_key(create: bool = False) -> bytes | None:
    """The user's secret cache key (32 random bytes, hex, mode 0600), created on first save;
    None when there is none and it cannot be made (no home folder, read-only home)."""
    try:
        path = key_path()
        try:
            return parse_key(path.read_bytes())
        except (FileNotFoundError, CacheFormatError):
            if not create:
                return None
        import secrets
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE}-")
        try:
            with os.fdopen(handle, "wb") as stream:  # mkstemp makes it 0600
                stream.write(secrets.token_hex(32).encode("ascii") + b"\n")
            try:
                os.link(temporary, path)  # never replaces a key another run just made
            except FileExistsError:
                try:
                    return parse_key(path.read_bytes())
                except CacheFormatError:
                    os.replace(temporary, path)  # a damaged key: replace it
        finally:
            Path(temporary).unlink(missing_ok=True)
        return parse_key(path.read_bytes())
    except (OSError, RuntimeError, CacheFormatError):  # RuntimeError: no home folder
        return None


def parse_key(data: bytes) -> bytes:
    key = data.strip()
    if len(key) != 64 or any(c not in b"0123456789abcdef" for c in key):
        raise CacheFormatError("not a cache key")
    return bytes.fromhex(key.decode("ascii"))


# -- the file: a signed header line, then JSON ----------------------------------------------
# `cascade-compile-cache <version> <hmac-sha256 hex of the JSON>\n<JSON>`; the signature is
# checked before the JSON is parsed.


def signed_file(body: dict[str, Any], key: bytes) -> bytes:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"%s %d %s\n%s" % (MAGIC, FORMAT_VERSION, signature(key, data), data)


def signature(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).hexdigest().encode("ascii")


def verified_body(data: bytes, key: bytes | None) -> dict[str, Any]:
    header, newline, body = data.partition(b"\n")
    parts = header.split(b" ")
    if not newline or len(parts) != 3 or parts[0] != MAGIC:
        raise CacheFormatError("not a cascade cache file")
    if parts[1] != str(FORMAT_VERSION).encode("ascii"):
        raise CacheFormatError(f"cache format {parts[1][:20].decode('ascii', 'replace')!r}")
    if key is None or not hmac.compare_digest(parts[2], signature(key, body)):
        raise CacheFormatError("not written by cascade for this user")
    try:
        stored = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise CacheFormatError("damaged") from error
    if not isinstance(stored, dict):
        raise CacheFormatError("damaged")
    return stored


# -- the codec: exactly the compiler's types, nothing else ----------------------------------
# Dataclasses are JSON arrays of their fields in order; a literal value is JSON itself when it
# is a str, int, float, bool or None, else an array whose first item is a tag.


def text(value: Any) -> str:
    if type(value) is not str:
        raise CacheFormatError("expected a string")
    return value


def optional_text(value: Any) -> str | None:
    return None if value is None else text(value)


def integer(value: Any) -> int:
    if type(value) is not int:
        raise CacheFormatError("expected an integer")
    return value


def flag(value: Any) -> bool:
    if type(value) is not bool:
        raise CacheFormatError("expected a boolean")
    return value


def fields(value: Any, count: int) -> list[Any]:
    if type(value) is not list or len(value) != count:
        raise CacheFormatError(f"expected {count} fields")
    return value


def items(value: Any) -> list[Any]:
    if type(value) is not list:
        raise CacheFormatError("expected a list")
    return value


def encode_span(span: Span) -> list[Any]:
    return [span.path, span.line, span.column]


def decode_span(value: Any) -> Span:
    path, line, column = fields(value, 3)
    return Span(text(path), integer(line), integer(column))


def encode_diagnostic(diagnostic: Diagnostic) -> list[Any]:
    d = diagnostic
    return [encode_span(d.span), d.message, d.hint, d.severity]


def decode_diagnostic(value: Any) -> Diagnostic:
    span, message, hint, severity = fields(value, 4)
    return Diagnostic(decode_span(span), text(message), text(hint), text(severity))


def encode_result(result: Any) -> dict[str, Any]:
    """The whole compilation `compile_project` keeps: (CompilationKey, diagnostics, outputs),
    outputs None when they equal the previous output, and an output None when that file
    equals its previous version (after one edit, the result holds one file's text)."""
    from cascade.compiler.driver.compile import CompilationKey  # compile imports this module

    if type(result) is not tuple or len(result) != 3 or type(result[0]) is not CompilationKey:
        raise CacheFormatError("not a compilation")
    key, diagnostics, outputs = result
    return {
        "key": [key.config, list(key.sources), [list(i) for i in key.inputs], key.previous],
        "diagnostics": [encode_diagnostic(d) for d in diagnostics],
        "outputs": outputs,
    }


def decode_result(value: Any) -> tuple[Any, list[Diagnostic], dict[str, str | None] | None]:
    from cascade.compiler.driver.compile import CompilationKey  # compile imports this module

    if type(value) is not dict or set(value) != {"key", "diagnostics", "outputs"}:
        raise CacheFormatError("not a compilation")
    config, sources, inputs, previous = fields(value["key"], 4)
    key = CompilationKey(
        text(config),
        tuple(text(s) for s in items(sources)),
        tuple((text(p), optional_text(d)) for p, d in (fields(i, 2) for i in items(inputs))),
        text(previous),
    )
    diagnostics = [decode_diagnostic(d) for d in items(value["diagnostics"])]
    outputs = value["outputs"]
    if outputs is not None:
        if type(outputs) is not dict:
            raise CacheFormatError("damaged outputs")
        outputs = {text(path): optional_text(content) for path, content in outputs.items()}
    return key, diagnostics, outputs
