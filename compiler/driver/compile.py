"""Compilation as a pure function: the project's sources (and the previous output, which locks
field ids) -> {output path: text}. `gen` and `check` are thin wrappers around it."""

from __future__ import annotations

import gc
import io
import keyword
import stat
import tokenize
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cascade.compiler.config import ProjectConfig
from cascade.compiler.diagnostics import Diagnostic, Span, has_errors
from cascade.compiler.driver.cache import CompileCache, digest
from cascade.compiler.driver.previous import existing_generated_files, out_problems, previous_locks
from cascade.compiler.driver.write import user_files_in_the_way
from cascade.compiler.frontend.discover import (
    discover_sources,
    folders_without_ingestions,
    module_candidates,
    module_name,
    source_folder_problems,
)
from cascade.compiler.frontend.facts import ModuleFacts
from cascade.compiler.ir import Ingestion
from cascade.compiler.render.asset_module import render_asset_module
from cascade.compiler.render.definitions_module import render_definitions_module
from cascade.compiler.render.formatting import format_python
from cascade.compiler.render.python import header
from cascade.compiler.render.schema_module import render_schema_module
from cascade.compiler.resolve import resolve_project
from cascade.compiler.resolve.lock import lock_of

if TYPE_CHECKING:
    from cascade.runtime.contract import TableContract


@dataclass(frozen=True)
class Compilation:
    files: dict[str, str]  # path relative to the project root (POSIX) -> text
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


@dataclass(frozen=True)
class CompilationKey:
    """Everything a compilation depended on: reusing its result is safe while all is equal."""

    config: str
    sources: tuple[str, ...]
    inputs: tuple[tuple[str, str | None], ...]  # every file read (digest) or looked for (None)
    previous: str


class SourceReader:
    """Reads and parses project modules once each, recording every file it read or missed."""

    def __init__(self, root: Path, cache: CompileCache | None):
        self.root = root
        self.cache = cache
        self.modules: dict[str, ModuleFacts | None] = {}
        self.inputs: dict[str, str | None] = {}

    def parse_file(self, relative: Path) -> ModuleFacts:
        self.parse_many([relative])
        facts = self.modules[module_name(relative)]
        assert facts is not None
        return facts

    def parse_many(self, relatives: list[Path]) -> None:
        """Parses the modules not read yet, all at once: in parallel when there is much."""
        pending = []
        for relative in relatives:
            name = module_name(relative)
            if self.modules.get(name) is not None:
                continue
            path = relative.as_posix()
            try:
                data = read_source_file(self.root / relative)
                key = digest(path, as_text(data))
                self.inputs[path] = key
                source = python_source(data)
            except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as error:
                self.modules[name] = ModuleFacts(path, name, diagnostics=(unreadable(path, error),))
                continue
            facts = self.cache.parsed(key) if self.cache else None
            if facts is None:
                pending.append((key, (path, name, source)))
            else:
                self.modules[name] = facts
        if not pending:
            return
        # libcst is imported on a cache miss only: a warm `check` never pays for it.
        from cascade.compiler.frontend.parallel_parse import parse_all

        parsed = parse_all([job for _, job in pending])
        for (key, (_, name, _)), facts in zip(pending, parsed, strict=True):
            self.modules[name] = facts
            if self.cache:
                self.cache.store_parsed(key, facts)

    def load(self, name: str) -> ModuleFacts | None:
        if name not in self.modules:
            self.modules[name] = None
            for candidate in module_candidates(name):
                if (self.root / candidate).is_file():
                    self.modules[name] = self.parse_file(candidate)
                    break
                self.inputs[candidate.as_posix()] = None
        return self.modules[name]


def current_digest(root: Path, path: str) -> str | None:
    try:
        return digest(path, as_text(read_source_file(root / path)))
    except OSError:
        return None


# Top-level packages the generated modules (and the runtime they call) import: a project
# package of the same name would be imported in their place.
GENERATED_CODE_IMPORTS = frozenset(
    {"cascade", "collections", "dagster", "datetime", "dlt", "pandera", "pathlib", "pyiceberg"}
)
# No hand-written module comes near this; a larger one is a mistake (or /dev/zero).
MAX_SOURCE_BYTES = 16 * 1024 * 1024


def read_source_file(path: Path) -> bytes:
    """A source file's bytes; OSError for what is not a regular file of a sensible size (a
    FIFO would block, a link to /dev/zero never ends)."""
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise OSError(f"{path.name} is not a regular file")
    if info.st_size > MAX_SOURCE_BYTES:
        raise OSError(f"{path.name} is larger than {MAX_SOURCE_BYTES // 2**20} MiB")
    return path.read_bytes()


def as_text(data: bytes) -> str:
    """A file's bytes as text for its digest: every byte kept, whatever the encoding."""
    return data.decode("utf-8", "surrogateescape")


def python_source(data: bytes) -> str:
    """A source file decoded as Python decodes it: by its BOM or coding comment, else UTF-8.
    Raises SyntaxError (a bad coding comment), LookupError or UnicodeDecodeError."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def unreadable(path: str, error: Exception) -> Diagnostic:
    if isinstance(error, UnicodeDecodeError):
        reason = error.reason
    elif isinstance(error, OSError) and error.strerror:
        reason = error.strerror.lower()
    else:
        reason = str(error)
    return Diagnostic(
        Span(path, 1, 1),
        f"cannot read this file as Python source: {reason}",
        "save it as UTF-8, Python's default source encoding (or declare its encoding in a "
        "coding comment)",
    )


def compile_project(
    config: ProjectConfig,
    previous: dict[str, str] | None = None,
    cache: CompileCache | None = None,
    *,
    adopted: Sequence[TableContract] = (),
) -> Compilation:
    """Compiles the project. `previous` is the last generation's output (path -> text), whose
    schema modules lock the field ids; it defaults to what is on disk. `adopted` contracts
    (`cascade adopt`) lock their tables' ids in place of the previous output's.

    Never raises for a mistake in the project: every problem is a diagnostic of the returned
    `Compilation` (whose `files` are then empty). `cache` (driver/cache.py) is read and
    updated, never trusted beyond its signature."""
    problems = source_folder_problems(config) + out_problems(config)
    if problems:
        return Compilation({}, sorted(problems))
    if previous is None:
        previous = existing_generated_files(config)
    sources = discover_sources(config)
    config_key = repr((config.sources, config.out, config.namespace, config.partition_start))
    source_names = tuple(p.as_posix() for p in sources)
    previous_key = digest(*(f"{path}\n{text}" for path, text in sorted(previous.items())))
    if adopted:
        cache = None  # a one-off compilation against a live table's ids
    if cache is not None and isinstance(cache.result, tuple):
        key, diagnostics, outputs = cache.result
        if (
            key.config == config_key
            and key.sources == source_names
            and key.previous == previous_key
            and all(current_digest(config.root, p) == d for p, d in key.inputs)
        ):
            # `outputs` is None when the result equals the previous output: nothing to store.
            cached = Compilation(dict(previous) if outputs is None else outputs, diagnostics)
            return refuse_user_files(config, cached)

    reader = SourceReader(config.root, cache)
    with cyclic_gc_paused():
        compilation = compile_sources(config, sources, reader, previous, cache, adopted)
    if cache is not None:
        key = CompilationKey(
            config_key, source_names, tuple(sorted(reader.inputs.items())), previous_key
        )
        outputs = None if compilation.files == previous else compilation.files
        cache.result = (key, compilation.diagnostics, outputs)
    return refuse_user_files(config, compilation)


def refuse_user_files(config: ProjectConfig, compilation: Compilation) -> Compilation:
    """No output at all when a file `gen` would write is the user's (checked on every run:
    the cache does not know those files)."""
    problems = user_files_in_the_way(config, compilation.files)
    return Compilation({}, sorted(compilation.diagnostics + problems)) if problems else compilation


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Compiling builds hundreds of thousands of short-lived objects (syntax trees, facts) that
    reference counting frees, as nothing in them is cyclic; the cyclic collector would only
    walk them again and again (a cold compile of 500 ingestions runs ~10% faster without it)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def remember_written(cache: CompileCache, compilation: Compilation) -> None:
    """After `gen` wrote `compilation`, the output on disk is the previous output of the next
    run: compiling again with it as the lock gives the same files, so record that."""
    if isinstance(cache.result, tuple):
        key, diagnostics, _ = cache.result
        previous = digest(*(f"{p}\n{t}" for p, t in sorted(compilation.files.items())))
        cache.result = (replace(key, previous=previous), diagnostics, None)


def compile_sources(
    config: ProjectConfig,
    sources: list[Path],
    reader: SourceReader,
    previous: dict[str, str],
    cache: CompileCache | None,
    adopted: Sequence[TableContract] = (),
) -> Compilation:
    ingestions, diagnostics = analyze_sources(config, sources, reader, previous, adopted)
    if has_errors(diagnostics):
        return Compilation({}, diagnostics)
    files = render_project(config, ingestions)
    return Compilation(dict(sorted(format_python(files, cache).items())), diagnostics)


def analyze_project(
    config: ProjectConfig, previous: dict[str, str] | None = None
) -> tuple[list[Ingestion], list[Diagnostic]]:
    """The resolved ingestions (the IR) and the diagnostics, without rendering anything."""
    problems = source_folder_problems(config)
    if problems:
        return [], problems
    if previous is None:
        previous = existing_generated_files(config)
    reader = SourceReader(config.root, None)
    return analyze_sources(config, discover_sources(config), reader, previous)


def analyze_sources(
    config: ProjectConfig,
    sources: list[Path],
    reader: SourceReader,
    previous: dict[str, str],
    adopted: Sequence[TableContract] = (),
) -> tuple[list[Ingestion], list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    importable = [s for s in sources if all(p.isidentifier() for p in module_name(s).split("."))]
    if len(importable) > 1:
        # Read ahead, in two parallel batches, what resolving would otherwise parse one by
        # one: the ingestion modules, then the model modules they name (the rest, such as base
        # models and constants, is loaded on demand).
        from cascade.compiler.frontend.parallel_parse import referenced_module_files

        reader.parse_many(importable)
        ingestion_modules = [reader.modules[module_name(s)] for s in importable]
        wanted = referenced_module_files([m for m in ingestion_modules if m is not None])
        reader.parse_many([p for p in wanted if (reader.root / p).is_file()])
    modules = []
    for relative in sources:
        parts = module_name(relative).split(".")
        if not all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
            diagnostics.append(
                Diagnostic(
                    Span(relative.as_posix()),
                    "cannot import this file as a module",
                    "folder and file names under sources must be Python identifiers, not keywords",
                )
            )
            continue
        if parts[0] in GENERATED_CODE_IMPORTS:
            diagnostics.append(
                Diagnostic(
                    Span(relative.as_posix()),
                    f"the package {parts[0]!r} would hide the library of that name, which the "
                    "generated code imports",
                    f"rename the folder {parts[0]!r}",
                )
            )
            continue
        modules.append(reader.parse_file(relative))
    locks = previous_locks(config, previous) | {c.identifier: lock_of(c) for c in adopted}
    ingestions, problems = resolve_project(config, modules, reader.load, locks)
    if not has_errors(diagnostics + problems):
        problems += folders_without_ingestions(config, (i.path for i in ingestions))
    return ingestions, sorted(set(diagnostics + problems))


def schema_module_path(config: ProjectConfig, ingestion: Ingestion) -> str:
    return f"{config.out}/schemas/{ingestion.group}/{ingestion.table_name}.py"


def render_project(config: ProjectConfig, ingestions: list[Ingestion]) -> dict[str, str]:
    out = config.out
    package = config.out_package
    init = header(", ".join(config.sources)) + "\n"
    files: dict[str, str] = {f"{out}/__init__.py": init}
    for kind in ("schemas", "assets"):
        files[f"{out}/{kind}/__init__.py"] = init
        for ingestion in ingestions:
            files[f"{out}/{kind}/{ingestion.group}/__init__.py"] = init
    for ingestion in ingestions:
        files[schema_module_path(config, ingestion)] = render_schema_module(ingestion)
        files[f"{out}/assets/{ingestion.group}/{ingestion.table_name}.py"] = render_asset_module(
            ingestion, package
        )
    files[f"{out}/definitions.py"] = render_definitions_module(ingestions, package, config.sources)
    return files
