"""Compiling the sources when the cached result cannot be reused: read, parse what changed,
resolve the source modules whose cached part (driver/incremental.py) is no longer valid,
render their tables and the project-wide modules, format. Imported on a cache miss only: a
warm `cascade check` never loads the resolve and render stages."""

from __future__ import annotations

import io
import keyword
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cascade.compiler.config import ProjectConfig
from cascade.compiler.diagnostics import Diagnostic, Span, has_errors
from cascade.compiler.driver.cache import CompileCache
from cascade.compiler.driver.compile import (
    Compilation,
    FileStates,
    config_key,
    schema_module_path,
)
from cascade.compiler.driver.files import FileState, unreadable
from cascade.compiler.driver.incremental import (
    ModuleResult,
    PreviousLocks,
    Recorder,
    lock_file_key,
    module_result_key,
)
from cascade.compiler.frontend.discover import (
    folders_without_ingestions,
    module_candidates,
    module_name,
)
from cascade.compiler.frontend.facts import ModuleFacts
from cascade.compiler.ir import Ingestion, TableSummary
from cascade.compiler.render.asset_module import render_asset_module
from cascade.compiler.render.definitions_module import render_definitions_module
from cascade.compiler.render.formatting import format_key, format_python
from cascade.compiler.render.python import header
from cascade.compiler.render.schema_module import render_schema_module
from cascade.compiler.resolve import naming
from cascade.compiler.resolve.ingestions import duplicate_tables, resolve_module
from cascade.compiler.resolve.lock import lock_of

if TYPE_CHECKING:
    from cascade.runtime.contract import TableContract

# Top-level packages the generated modules (and the runtime they call) import: a project
# package of the same name would be imported in their place.
GENERATED_CODE_IMPORTS = frozenset(
    {"cascade", "collections", "dagster", "datetime", "dlt", "pandera", "pathlib", "pyiceberg"}
)


class SourceReader:
    """Reads each project file once: its state (the digest that keys its cache entries, which
    needs no parse) and, on demand, its parse facts (from the cache, or parsed in one batch)."""

    def __init__(self, root: Path, cache: CompileCache | None, states: FileStates | None = None):
        self.root = root
        self.cache = cache
        self.states = states if states is not None else FileStates(root)
        self.facts: dict[str, ModuleFacts] = {}  # by path
        self.modules: dict[str, ModuleFacts | None] = {}  # by module name, as load() found it

    def state(self, path: str) -> FileState:
        return self.states.state(path)

    def parse_file(self, relative: Path) -> ModuleFacts:
        self.parse_many([relative])
        return self.facts[relative.as_posix()]

    def parse_many(self, relatives: list[Path]) -> None:
        """Parses the modules not read yet, all at once: in parallel when there is much."""
        pending = []
        for relative in relatives:
            path = relative.as_posix()
            if path in self.facts:
                continue
            name = module_name(relative)
            key = self.state(path)
            # Facts are cached only for files that decoded: a hit needs no decoding.
            facts = self.cache.parsed(key) if self.cache and key is not None else None
            if facts is not None:
                self.facts[path] = facts
                continue
            try:
                source = python_source(self.states.take(path))
            except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as error:
                self.facts[path] = ModuleFacts(path, name, diagnostics=(unreadable(path, error),))
                continue
            assert key is not None
            pending.append((key, (path, name, source)))
        if not pending:
            return
        # libcst is imported on a cache miss only: a warm `check` never pays for it.
        from cascade.compiler.frontend.parallel_parse import parse_all

        parsed = parse_all([job for _, job in pending])
        for (key, (path, _, _)), facts in zip(pending, parsed, strict=True):
            self.facts[path] = facts
            if self.cache:
                self.cache.store_parsed(key, facts)

    def load(self, name: str) -> ModuleFacts | None:
        if name not in self.modules:
            self.modules[name] = None
            for candidate in module_candidates(name):
                if (self.root / candidate).is_file():
                    self.modules[name] = self.parse_file(candidate)
                    break
        return self.modules[name]


def python_source(data: bytes) -> str:
    """A source file decoded as Python decodes it: by its BOM or coding comment, else UTF-8.
    Raises SyntaxError (a bad coding comment), LookupError or UnicodeDecodeError."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


@dataclass
class ResolvedModule:
    """A source module resolved in this run, with what its resolution read."""

    path: str
    state: FileState
    ingestions: list[Ingestion]
    diagnostics: list[Diagnostic]
    inputs: dict[str, FileState]
    locks: dict[str, str]  # table identifier -> PreviousLocks.key()


@dataclass
class Analysis:
    diagnostics: list[Diagnostic]  # of the whole project, sorted
    tables: list[TableSummary]
    modules: dict[str, FileState]  # every source module resolved or reused, by path
    resolved: list[ResolvedModule]  # in this run
    reused: dict[str, tuple[ModuleResult, dict[str, str]]]  # from the cache, with the texts

    def inputs(self) -> tuple[tuple[str, FileState], ...]:
        """Every file the compilation read or looked for, with its state."""
        found = dict(self.modules)
        for module in self.resolved:
            found.update(module.inputs)
        for result, _ in self.reused.values():
            found.update(result.inputs)
        return tuple(sorted(found.items()))


def compile_sources(
    config: ProjectConfig,
    sources: list[Path],
    reader: SourceReader,
    previous: dict[str, str],
    cache: CompileCache | None,
    adopted: Sequence[TableContract] = (),
) -> tuple[Compilation, tuple[tuple[str, FileState], ...]]:
    """The compilation, and every file it read or looked for (with its state). `adopted`
    contracts lock their tables in place of the previous output (no cache is used then)."""
    assert cache is None or not adopted  # module results are keyed by the previous output
    locks = PreviousLocks(config, previous, cache, {c.identifier: lock_of(c) for c in adopted})
    analysis = analyze_sources(config, sources, reader, locks, cache)
    inputs = analysis.inputs()
    if has_errors(analysis.diagnostics):
        return Compilation({}, analysis.diagnostics), inputs
    rendered: dict[str, str] = {}
    for module in analysis.resolved:
        for ingestion in module.ingestions:
            rendered.update(render_tables(config, ingestion))
    rendered.update(render_project(config, analysis.tables))
    formatted = format_python(rendered, cache)
    files = dict(formatted)
    for _, texts in analysis.reused.values():
        files.update(texts)
    if cache is not None:
        key_of = config_key(config)
        for module in analysis.resolved:
            outputs = tuple(
                (path, format_key(rendered[path]))
                for ingestion in module.ingestions
                for path in render_paths(config, ingestion)
            )
            for ingestion in module.ingestions:
                # Once written, this schema module is the lock of this table and no other
                # (the output is the lock): the next run need not parse it to know that.
                path = schema_module_path(config, ingestion)
                cache.store_lock_identifier(lock_file_key(path, files[path]), ingestion.identifier)
            result = ModuleResult(
                tuple(module.diagnostics),
                tuple(i.summary for i in module.ingestions),
                outputs,
                tuple(sorted(module.inputs.items())),
                tuple(sorted(module.locks.items())),
            )
            cache.store_module_result(module_result_key(key_of, module.path, module.state), result)
    return Compilation(dict(sorted(files.items())), analysis.diagnostics), inputs


def analyze_sources(
    config: ProjectConfig,
    sources: list[Path],
    reader: SourceReader,
    locks: PreviousLocks,
    cache: CompileCache | None,
) -> Analysis:
    """Resolves the source modules whose cached result (if any) is no longer valid."""
    diagnostics: list[Diagnostic] = []
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
        modules.append(relative)
    reused: dict[str, tuple[ModuleResult, dict[str, str]]] = {}
    pending = []
    for relative in modules:
        found = reusable_result(config, relative.as_posix(), reader, locks, cache)
        if found is None:
            pending.append(relative)
        else:
            reused[relative.as_posix()] = found
    if len(pending) > 1:
        # Read ahead, in two parallel batches, what resolving would otherwise parse one by
        # one: the ingestion modules, then the model modules they name (the rest, such as base
        # models and constants, is loaded on demand).
        from cascade.compiler.frontend.parallel_parse import referenced_module_files

        reader.parse_many(pending)
        wanted = referenced_module_files([reader.facts[p.as_posix()] for p in pending])
        reader.parse_many([p for p in wanted if (reader.root / p).is_file()])
    if pending and cache is not None:
        naming.KNOWN.update(cache.naming())
    resolved = []
    for relative in pending:
        module = reader.parse_file(relative)
        recorder = Recorder(reader.load, locks)
        ingestions, problems = resolve_module(config, module, recorder.load, recorder)
        resolved.append(
            ResolvedModule(
                module.path,
                reader.state(module.path),
                ingestions,
                problems,
                {path: reader.state(path) for path in recorder.input_files()},
                {identifier: locks.key(identifier) for identifier in recorder.identifiers},
            )
        )
    if pending and cache is not None:
        cache.store_naming(naming.KNOWN)
    tables = [t for result, _ in reused.values() for t in result.tables]
    tables += [i.summary for module in resolved for i in module.ingestions]
    problems = [d for result, _ in reused.values() for d in result.diagnostics]
    problems += [d for module in resolved for d in module.diagnostics]
    problems += duplicate_tables(tables)
    problems += locks.unreadable()
    if not has_errors(diagnostics + problems):
        problems += folders_without_ingestions(config, (t.path for t in tables))
    states = {p.as_posix(): reader.state(p.as_posix()) for p in modules}
    return Analysis(sorted(set(diagnostics + problems)), tables, states, resolved, reused)


def reusable_result(
    config: ProjectConfig,
    path: str,
    reader: SourceReader,
    locks: PreviousLocks,
    cache: CompileCache | None,
) -> tuple[ModuleResult, dict[str, str]] | None:
    """The module's cached result and its rendered texts, when all it read is unchanged."""
    if cache is None:
        return None
    state = reader.state(path)
    key = module_result_key(config_key(config), path, state)
    result = cache.module_result(key)
    if result is None:
        return None
    if any(reader.state(p) != s for p, s in result.inputs):
        return None
    if any(locks.key(identifier) != k for identifier, k in result.locks):
        return None
    texts = {}
    for output, text_key in result.outputs:
        text = cache.formatted(text_key)
        if text is None:
            return None
        texts[output] = text
    cache.keep_module_result(key)
    # The parse facts it was computed from: the next edit may need them to resolve it again.
    for state_key in [state, *(s for _, s in result.inputs)]:
        if state_key is not None:
            cache.keep("parse", state_key)
    return result, texts


def render_paths(config: ProjectConfig, ingestion: Ingestion) -> tuple[str, str]:
    """Where an ingestion's schema module and asset module go."""
    asset_path = f"{config.out}/assets/{ingestion.group}/{ingestion.table_name}.py"
    return schema_module_path(config, ingestion), asset_path


def render_tables(config: ProjectConfig, ingestion: Ingestion) -> dict[str, str]:
    schema_path, asset_path = render_paths(config, ingestion)
    return {
        schema_path: render_schema_module(ingestion),
        asset_path: render_asset_module(ingestion, config.out_package),
    }


def render_project(config: ProjectConfig, tables: list[TableSummary]) -> dict[str, str]:
    """The modules made from every table at once: the packages and the definitions."""
    out = config.out
    init = header(", ".join(config.sources)) + "\n"
    files: dict[str, str] = {f"{out}/__init__.py": init}
    for kind in ("schemas", "assets"):
        files[f"{out}/{kind}/__init__.py"] = init
        for table in tables:
            files[f"{out}/{kind}/{table.group}/__init__.py"] = init
    files[f"{out}/definitions.py"] = render_definitions_module(
        tables, config.out_package, config.sources
    )
    return files
