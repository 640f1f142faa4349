"""A content-hash cache that lets `cascade gen` and `cascade check` re-read only what changed.

Three levels, each keyed by content, never by timestamps:
- a whole compilation, reused when every file it read (and every file it looked for and did
  not find) and the previous output are unchanged;
- each module's parse facts, by the module's source text;
- each formatted file, by its rendered text (so ruff runs only on what rendering changed).
Every key includes a fingerprint of the compiler's own code and the ruff version, so a new
compiler never reuses an old result. The cache is an accelerator: compiling without it gives
the same output.

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
import math
import os
import secrets
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from cascade.compiler.diagnostics import Diagnostic, Span
from cascade.compiler.frontend.facts import (
    Argument,
    CallValue,
    ClassFacts,
    FieldFacts,
    IngestionFacts,
    ModuleFacts,
    NameRef,
    NotLiteral,
    TypeRef,
)

RESULT_FILE = "result.cache"  # small: read on every run
PARTS_FILE = "parts.cache"  # parse facts and formatted files: read only when needed
FORMAT_VERSION = 1  # of the encoding below; a file of any other version is ignored
MAGIC = b"cascade-compile-cache"
KEY_FILE = "compile-cache.key"
MAX_FILE_BYTES = 1 << 30  # a cache file larger than this is not ours (500 ingestions: ~3 MB)
MAX_DEPTH = 64  # nesting of literal values; deeper ones are simply not cached
MAX_INT_BITS = 8192  # json refuses ints of more than 4300 digits; such ones are not cached


def digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def compiler_fingerprint() -> str:
    """A digest of the compiler's source files and the formatter version."""
    from importlib.metadata import version

    return digest(version("ruff"), *(p.read_text(encoding="utf-8") for p in compiler_sources()))


def compiler_sources() -> list[Path]:
    """Every module of the compiler package, all stages (this file is in driver/)."""
    return sorted(Path(__file__).parents[1].rglob("*.py"))


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
        # nothing that was read.
        self.used: dict[str, dict[str, Any]] = {"parse": {}, "format": {}}
        self.parts_saved = False

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
        except (CacheFormatError, TypeError, RecursionError) as error:
            assert self.folder is not None  # only a cache with a folder has read anything
            self.warn(f"ignoring the compile cache file {self.folder / name} ({error})")
            return None

    def part(self, kind: str) -> dict[str, Any]:
        if self.stored is None:
            loaded = self.load(PARTS_FILE)
            self.stored = {"parse": {}, "format": {}}
            if type(loaded.get("parse", {})) is dict and type(loaded.get("format", {})) is dict:
                self.stored = {k: loaded.get(k, {}) for k in self.stored}
            else:
                assert self.folder is not None  # only a cache with a folder has read anything
                self.warn(f"ignoring the compile cache file {self.folder / PARTS_FILE} (damaged)")
        return self.stored[kind]

    def parsed(self, key: str) -> ModuleFacts | None:
        return self.lookup("parse", key, decode_module_facts)

    def store_parsed(self, key: str, facts: ModuleFacts) -> None:
        try:
            self.use("parse", key, encode_module_facts(facts))
        except (CacheFormatError, RecursionError):
            pass  # facts holding a value too deep or too large are re-parsed next time

    def formatted(self, key: str) -> str | None:
        return self.lookup("format", key, text)

    def store_formatted(self, key: str, formatted: str) -> None:
        self.use("format", key, formatted)

    def lookup(self, kind: str, key: str, decode: Any) -> Any:
        found = self.part(kind).get(key)
        if found is None:
            return None
        value = self.decoded(PARTS_FILE, decode, found)
        if value is not None:
            self.use(kind, key, found)
        return value

    def use(self, kind: str, key: str, encoded: Any) -> None:
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
            self.write(PARTS_FILE, {"fingerprint": self.fingerprint, **self.used})
            self.parts_saved = True

    def write(self, name: str, body: dict[str, Any]) -> None:
        """Writes atomically; a cache that cannot be written (read-only checkout, full disk)
        is only a slower next run."""
        assert self.folder is not None and self.signing_key is not None
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


def encode_value(value: object, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise CacheFormatError("value nested too deeply")
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return value
    if kind is int:
        if value.bit_length() > MAX_INT_BITS:  # type: ignore[attr-defined]
            raise CacheFormatError("integer too large")
        return value
    if kind is float:
        return value if math.isfinite(value) else ["float", repr(value)]  # type: ignore[arg-type]
    deeper = depth + 1
    if kind is NameRef:
        return ["name", value.qualified_name, encode_span(value.span)]  # type: ignore[attr-defined]
    if kind is NotLiteral:
        return ["code", value.code, encode_span(value.span)]  # type: ignore[attr-defined]
    if kind is CallValue:
        call: CallValue = value  # type: ignore[assignment]
        return [
            "call",
            call.function,
            [encode_value(a, deeper) for a in call.args],
            [[k, encode_value(v, deeper)] for k, v in call.kwargs],
            encode_span(call.span),
        ]
    if kind is TypeRef:
        ref: TypeRef = value  # type: ignore[assignment]
        span = None if ref.span is None else encode_span(ref.span)
        return ["type", ref.name, [encode_value(a, deeper) for a in ref.args], ref.optional, span]
    if kind in (tuple, list, set, frozenset):
        return [kind.__name__, *(encode_value(v, deeper) for v in value)]  # type: ignore[attr-defined]
    if kind is dict:
        pairs = value.items()  # type: ignore[attr-defined]
        return ["dict", *(encode_value(v, deeper) for pair in pairs for v in pair)]
    if kind is bytes:
        return ["bytes", value.hex()]  # type: ignore[attr-defined]
    if kind is complex:
        return ["complex", repr(value.real), repr(value.imag)]  # type: ignore[attr-defined]
    if value is Ellipsis:
        return ["ellipsis"]
    raise CacheFormatError(f"cannot cache a {kind.__name__}")


def decode_float(value: Any) -> float:
    return float(text(value))  # reads only numbers, inf and nan


def decode_value(value: Any, depth: int = 0) -> object:
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int or kind is float:
        return value
    if kind is not list or not value or type(value[0]) is not str:
        raise CacheFormatError("not a value")
    if depth > MAX_DEPTH:
        raise CacheFormatError("value nested too deeply")
    deeper = depth + 1
    tag, rest = value[0], value[1:]
    if tag == "name":
        name, span = fields(rest, 2)
        return NameRef(text(name), decode_span(span))
    if tag == "code":
        code, span = fields(rest, 2)
        return NotLiteral(text(code), decode_span(span))
    if tag == "call":
        function, args, kwargs, span = fields(rest, 4)
        return CallValue(
            text(function),
            tuple(decode_value(a, deeper) for a in items(args)),
            tuple(
                (text(k), decode_value(v, deeper)) for k, v in (fields(p, 2) for p in items(kwargs))
            ),
            decode_span(span),
        )
    if tag == "type":
        return decode_type_ref(rest, deeper)
    try:
        if tag == "tuple":
            return tuple(decode_value(v, deeper) for v in rest)
        if tag == "list":
            return [decode_value(v, deeper) for v in rest]
        if tag == "set":
            return {decode_value(v, deeper) for v in rest}
        if tag == "frozenset":
            return frozenset(decode_value(v, deeper) for v in rest)
        if tag == "dict":
            if len(rest) % 2:
                raise CacheFormatError("damaged dict")
            values = [decode_value(v, deeper) for v in rest]
            return dict(zip(values[::2], values[1::2], strict=True))
        if tag == "float":
            return decode_float(fields(rest, 1)[0])
        if tag == "bytes":
            return bytes.fromhex(text(fields(rest, 1)[0]))
        if tag == "complex":
            real, imag = fields(rest, 2)
            return complex(decode_float(real), decode_float(imag))
    except (TypeError, ValueError) as error:  # an unhashable set member or dict key
        raise CacheFormatError("damaged value") from error
    if tag == "ellipsis" and not rest:
        return Ellipsis
    raise CacheFormatError(f"unknown value tag {tag[:40]!r}")


def decode_type_ref(rest: list[Any], depth: int) -> TypeRef:
    name, args, optional, span = fields(rest, 4)
    return TypeRef(
        text(name),
        tuple(decode_value(a, depth) for a in items(args)),
        flag(optional),
        None if span is None else decode_span(span),
    )


def encode_argument(argument: Argument) -> list[Any]:
    return [argument.name, encode_value(argument.value), encode_span(argument.span)]


def decode_argument(value: Any) -> Argument:
    name, argument, span = fields(value, 3)
    return Argument(text(name), decode_value(argument), decode_span(span))


def encode_module_facts(facts: ModuleFacts) -> list[Any]:
    return [
        facts.path,
        facts.module,
        [[name, encode_class(c)] for name, c in facts.classes.items()],
        [[name, encode_argument(a)] for name, a in facts.constants.items()],
        [encode_ingestion(i) for i in facts.ingestions],
        [encode_diagnostic(d) for d in facts.diagnostics],
    ]


def decode_module_facts(value: Any) -> ModuleFacts:
    path, module, classes, constants, ingestions, diagnostics = fields(value, 6)
    return ModuleFacts(
        text(path),
        text(module),
        {text(k): decode_class(c) for k, c in (fields(p, 2) for p in items(classes))},
        {text(k): decode_argument(a) for k, a in (fields(p, 2) for p in items(constants))},
        tuple(decode_ingestion(i) for i in items(ingestions)),
        tuple(decode_diagnostic(d) for d in items(diagnostics)),
    )


def encode_class(facts: ClassFacts) -> list[Any]:
    return [
        facts.name,
        [encode_value(b) for b in facts.bases],
        [
            [
                f.attribute,
                encode_value(f.annotation),
                [encode_argument(a) for a in f.arguments],
                encode_span(f.span),
            ]
            for f in facts.fields
        ],
        [encode_argument(a) for a in facts.config],
        facts.docstring,
        encode_span(facts.span),
    ]


def decode_class(value: Any) -> ClassFacts:
    name, bases, class_fields, config, docstring, span = fields(value, 6)
    decoded_bases = tuple(decode_value(b) for b in items(bases))
    if not all(type(b) is NameRef for b in decoded_bases):
        raise CacheFormatError("a base that is not a name")
    return ClassFacts(
        text(name),
        decoded_bases,  # type: ignore[arg-type]
        tuple(decode_field(f) for f in items(class_fields)),
        tuple(decode_argument(a) for a in items(config)),
        optional_text(docstring),
        decode_span(span),
    )


def decode_field(value: Any) -> FieldFacts:
    attribute, annotation, arguments, span = fields(value, 4)
    decoded = decode_value(annotation)
    if type(decoded) not in (TypeRef, NotLiteral):
        raise CacheFormatError("an annotation that is not a type")
    return FieldFacts(
        text(attribute),
        decoded,  # type: ignore[arg-type]
        tuple(decode_argument(a) for a in items(arguments)),
        decode_span(span),
    )


def encode_ingestion(facts: IngestionFacts) -> list[Any]:
    arguments = [encode_argument(a) for a in facts.arguments]
    return [facts.function, arguments, facts.docstring, encode_span(facts.span)]


def decode_ingestion(value: Any) -> IngestionFacts:
    function, arguments, docstring, span = fields(value, 4)
    return IngestionFacts(
        text(function),
        tuple(decode_argument(a) for a in items(arguments)),
        optional_text(docstring),
        decode_span(span),
    )


def encode_result(result: Any) -> dict[str, Any]:
    """The whole compilation `compile_project` keeps: (CompilationKey, diagnostics, outputs),
    outputs None when they equal the previous output."""
    from cascade.compiler.driver.compile import CompilationKey  # compile imports this module

    if type(result) is not tuple or len(result) != 3 or type(result[0]) is not CompilationKey:
        raise CacheFormatError("not a compilation")
    key, diagnostics, outputs = result
    return {
        "key": [key.config, list(key.sources), [list(i) for i in key.inputs], key.previous],
        "diagnostics": [encode_diagnostic(d) for d in diagnostics],
        "outputs": outputs,
    }


def decode_result(value: Any) -> tuple[Any, list[Diagnostic], dict[str, str] | None]:
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
        outputs = {text(path): text(content) for path, content in outputs.items()}
    return key, diagnostics, outputs
