"""Compilation as a pure function: the project's sources (and the previous output, which locks
field ids) -> {output path: text}. `gen` and `check` are thin wrappers around it."""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cascade.compiler.config import ProjectConfig
from cascade.compiler.diagnostics import Diagnostic, has_errors
from cascade.compiler.driver.cache import CompileCache, digest
from cascade.compiler.driver.files import FileState, file_state
from cascade.compiler.driver.previous import OutFolder, existing_generated_files, read_out_folder
from cascade.compiler.driver.write import user_files_in_the_way
from cascade.compiler.frontend.discover import discover_sources, source_folder_problems

if TYPE_CHECKING:
    from cascade.compiler.ir import Ingestion, TableSummary
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
    inputs: tuple[tuple[str, str | None], ...]  # every file read (state) or looked for (None)
    previous: str


class FileStates:
    """Each project file's state (driver/files.py), read once per compilation; its bytes are
    kept until parsed."""

    def __init__(self, root: Path):
        self.root = root
        self.states: dict[str, FileState] = {}
        self.contents: dict[str, bytes | Exception] = {}

    def state(self, path: str) -> FileState:
        if path not in self.states:
            self.states[path], self.contents[path] = file_state(self.root, path)
        return self.states[path]

    def take(self, path: str) -> bytes:
        """The file's bytes, once; raises the OSError that made it unreadable."""
        self.state(path)
        found = self.contents.pop(path)
        if isinstance(found, Exception):
            self.contents[path] = found
            raise found
        return found


def compile_project(
    config: ProjectConfig,
    previous: dict[str, str] | None = None,
    cache: CompileCache | None = None,
    out_folder: OutFolder | None = None,
    *,
    adopted: Sequence[TableContract] = (),
) -> Compilation:
    """Compiles the project. `previous` is the last generation's output (path -> text), whose
    schema modules lock the field ids; it defaults to what is on disk, `out_folder` (which a
    caller that reads `out` itself passes, so that it is read once). `adopted` contracts
    (`cascade adopt`) lock their tables' ids in place of the previous output's.

    Never raises for a mistake in the project: every problem is a diagnostic of the returned
    `Compilation` (whose `files` are then empty). `cache` (driver/cache.py) is read and
    updated, never trusted beyond its signature."""
    if out_folder is None:
        out_folder = read_out_folder(config)
    problems = source_folder_problems(config) + out_folder.problems
    if problems:
        return Compilation({}, sorted(problems))
    if previous is None:
        previous = out_folder.files
    sources = discover_sources(config)
    source_names = tuple(p.as_posix() for p in sources)
    previous_key = digest(*(f"{path}\n{text}" for path, text in sorted(previous.items())))
    states = FileStates(config.root)
    if adopted:
        cache = None  # a one-off compilation against a live table's ids
    if cache is not None and isinstance(cache.result, tuple):
        key, diagnostics, outputs = cache.result
        if (
            key.config == config_key(config)
            and key.sources == source_names
            and key.previous == previous_key
            and all(states.state(p) == d for p, d in key.inputs)
        ):
            cached = Compilation(with_previous(outputs, previous), diagnostics)
            return refuse_user_files(config, cached, out_folder)

    # The stages, imported on a cache miss only: a warm `check` never loads them.
    from cascade.compiler.driver.build import SourceReader, compile_sources

    if cache is not None:
        cache.know_on_disk(previous)

    with cyclic_gc_paused():
        reader = SourceReader(config.root, cache, states)
        compilation, inputs = compile_sources(config, sources, reader, previous, cache, adopted)
    if cache is not None:
        key = CompilationKey(config_key(config), source_names, inputs, previous_key)
        cache.result = (key, compilation.diagnostics, without_previous(compilation.files, previous))
    return refuse_user_files(config, compilation, out_folder)


def config_key(config: ProjectConfig) -> str:
    return repr((config.sources, config.out, config.namespace, config.partition_start))


def without_previous(
    files: dict[str, str], previous: dict[str, str]
) -> dict[str, str | None] | None:
    """The outputs as the cached result keeps them: None when they all equal the previous
    output, else each file's text, None for a file that equals its previous version."""
    if files == previous:
        return None
    return {path: None if previous.get(path) == text else text for path, text in files.items()}


def with_previous(
    outputs: dict[str, str | None] | None, previous: dict[str, str]
) -> dict[str, str]:
    if outputs is None:
        return dict(previous)
    return {path: previous[path] if text is None else text for path, text in outputs.items()}


def refuse_user_files(
    config: ProjectConfig, compilation: Compilation, out_folder: OutFolder
) -> Compilation:
    """No output at all when a file `gen` would write is the user's (checked on every run:
    the cache does not know those files)."""
    problems = user_files_in_the_way(config, compilation.files, out_folder.files)
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


def remember_written(config: ProjectConfig, cache: CompileCache, compilation: Compilation) -> None:
    """After `gen` wrote `compilation`, the output on disk is the previous output of the next
    run: compiling again with it as the lock gives the same files, so record that (for the
    whole compilation, and for each module result this run used)."""
    if isinstance(cache.result, tuple):
        key, diagnostics, _ = cache.result
        previous = digest(*(f"{p}\n{t}" for p, t in sorted(compilation.files.items())))
        cache.result = (replace(key, previous=previous), diagnostics, None)
    cache.know_on_disk(compilation.files)
    if cache.parts_loaded:
        from cascade.compiler.driver.incremental import relock_module_results

        relock_module_results(config, cache, compilation.files)


def analyze_project(
    config: ProjectConfig, previous: dict[str, str] | None = None
) -> tuple[list[Ingestion], list[Diagnostic]]:
    """The resolved ingestions (the IR) and the diagnostics, without rendering anything."""
    problems = source_folder_problems(config)
    if problems:
        return [], problems
    if previous is None:
        previous = existing_generated_files(config)
    from cascade.compiler.driver.build import SourceReader, analyze_sources
    from cascade.compiler.driver.incremental import PreviousLocks

    reader = SourceReader(config.root, None, FileStates(config.root))
    locks = PreviousLocks(config, previous, None)
    analysis = analyze_sources(config, discover_sources(config), reader, locks, None)
    ingestions = [i for module in analysis.resolved for i in module.ingestions]
    return sorted(ingestions, key=lambda i: (i.group, i.table_name)), analysis.diagnostics


def schema_module_path(config: ProjectConfig, table: TableSummary | Ingestion) -> str:
    return f"{config.out}/schemas/{table.group}/{table.table_name}.py"
