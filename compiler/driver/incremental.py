"""What each source module's part of a compilation depended on, so that after an edit only the
edited module and the modules whose ingestions read it are resolved and rendered again.

A module's result (its tables, their rendered modules, its diagnostics) is a function of:
- the module's own text (the cache key holds its digest, and the project settings);
- every project module its resolution read, and every file it looked for and did not find
  (`Recorder.load` notes the module names; both candidate files of each name are inputs);
- the field-id lock of each table it asked for (`Recorder.get`): the previous schema
  module(s) with that table's identifier, by their text, kept opaque here (`PreviousLocks`);
- the compiler, ruff and dlt (the cache's fingerprint).
While all of these are unchanged, the cached result is the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cascade.compiler.config import ProjectConfig
from cascade.compiler.diagnostics import Diagnostic, Span
from cascade.compiler.driver.cache import CompileCache, digest
from cascade.compiler.driver.contract_reader import NotASchemaModule, read_contract
from cascade.compiler.driver.files import FileState
from cascade.compiler.driver.previous import is_schema_module_path, previous_locks
from cascade.compiler.frontend.discover import module_candidates
from cascade.compiler.frontend.facts import ModuleFacts
from cascade.compiler.ir import TableSummary
from cascade.compiler.resolve.classes import ModuleLoader
from cascade.compiler.resolve.ingestions import Locks
from cascade.compiler.resolve.lock import TableLock


@dataclass(frozen=True)
class ModuleResult:
    """One source module's part of a compilation, and everything it was computed from."""

    diagnostics: tuple[Diagnostic, ...]
    tables: tuple[TableSummary, ...]
    outputs: tuple[tuple[str, str], ...]  # generated path -> format-cache key of its text
    inputs: tuple[tuple[str, FileState], ...]  # module files read or looked for -> state
    locks: tuple[tuple[str, str], ...]  # table identifier -> PreviousLocks.key()


def module_result_key(config_key: str, path: str, state: FileState) -> str:
    return digest("module", config_key, path, state or "")


def lock_file_key(path: str, text: str) -> str:
    """The key under which the cache remembers which table a previous file locks."""
    return digest("lock", path, text)


class PreviousLocks:
    """The previous output's field-id locks, read on demand (a `Locks` for the resolver).

    Which table each previous file locks, and the lock it holds, are remembered by the file's
    digest in the cache: reading every schema module took longer than the rest of the compile,
    and reading even one imports PyIceberg (~0.1 s), into which its contract is evaluated.
    """

    def __init__(
        self,
        config: ProjectConfig,
        previous: dict[str, str],
        cache: CompileCache | None,
        adopted: dict[str, TableLock] | None = None,
    ):
        self.config = config
        self.previous = previous
        self.cache = cache
        self.adopted = adopted or {}  # `cascade adopt`: a live table's ids, in place of these
        self.by_identifier: dict[str, list[str]] | None = None  # previous paths, in order
        self.unreadable_paths: list[str] = []  # previous schema modules that lock nothing
        self.digests: dict[str, str] = {}
        self.read: dict[str, dict[str, TableLock]] = {}  # one file's locks, when it was read
        self.locks: dict[str, TableLock | None] = {}

    def files(self, identifier: str) -> list[str]:
        """The previous files that hold a lock of `identifier` (normally one)."""
        if self.by_identifier is None:
            self.by_identifier = {}
            for path, text in self.previous.items():
                key = self.digests[path] = lock_file_key(path, text)
                identifier_here = self.cache.lock_identifier(key) if self.cache else None
                if identifier_here is None:
                    locks = self.read[path] = previous_locks(self.config, {path: text})
                    identifier_here = next(iter(locks), "")
                    if self.cache is not None:
                        self.cache.store_lock_identifier(key, identifier_here)
                if identifier_here:
                    self.by_identifier.setdefault(identifier_here, []).append(path)
                elif is_schema_module_path(self.config, path):
                    self.unreadable_paths.append(path)
        return self.by_identifier.get(identifier, [])

    def unreadable(self) -> list[Diagnostic]:
        """An error for each previous schema module that cannot be read as a contract (a merge
        conflict left in it, a hand edit): compiling on would lose its table's field ids and
        reuse retired ones, so nothing may be written until it is restored."""
        self.files("")
        problems = []
        for path in self.unreadable_paths:
            try:
                read_contract(self.previous[path], path)
            except NotASchemaModule as error:  # read again: the cache kept no reason
                problems.append(
                    Diagnostic(
                        Span(path, error.line or 1, error.column),
                        "cannot read the field ids this generated schema module locks: "
                        + error.reason,
                        "cascade gen keeps each column's field id by reading the previous "
                        "generation: resolve the merge conflict in it or restore it (git "
                        f"checkout -- {path}), then run cascade gen again; delete it to give "
                        "the table new ids",
                    )
                )
        return problems

    def key(self, identifier: str) -> str:
        """What a table's lock is read from: its files and their texts."""
        return digest("locks", *(f"{p}\n{self.digests[p]}" for p in self.files(identifier)))

    def get(self, identifier: str) -> TableLock | None:
        if identifier in self.adopted:
            return self.adopted[identifier]
        if identifier not in self.locks:
            paths = self.files(identifier)
            if len(paths) == 1:
                self.locks[identifier] = self.file_lock(paths[0]).get(identifier)
            else:  # none, or several files for one table: as previous_locks picks among them
                found = previous_locks(self.config, {p: self.previous[p] for p in paths})
                self.locks[identifier] = found.get(identifier)
        return self.locks[identifier]

    def file_lock(self, path: str) -> dict[str, TableLock]:
        """The locks in one previous file (by identifier), from the cache when it has them."""
        if path not in self.read:
            key = self.digests[path]
            cached = self.cache.table_lock(key) if self.cache else None
            if cached is not None:
                self.read[path] = {cached.identifier: cached}
            else:
                self.read[path] = previous_locks(self.config, {path: self.previous[path]})
                if self.cache is not None and len(self.read[path]) == 1:
                    self.cache.store_table_lock(key, next(iter(self.read[path].values())))
        return self.read[path]


def relock_module_results(
    config: ProjectConfig, cache: CompileCache, written: dict[str, str]
) -> None:
    """After `gen` wrote `written`, it is the next run's previous output, whose schema modules
    lock the field ids. Resolving a module again with the locks read from what its own
    resolution wrote gives the same result (the output is the lock, a fixed point that
    `remember_written` relies on for the whole compilation too), so this run's module results
    are kept under the new locks' keys: after a gen, the first edit resolves again only what
    reads the edited module, not every table whose schema module was just written."""
    locks = PreviousLocks(config, written, cache)
    for key, result in cache.module_results_in_use():
        relocked = tuple((identifier, locks.key(identifier)) for identifier, _ in result.locks)
        if relocked != result.locks:
            cache.store_module_result(key, replace(result, locks=relocked))


class Recorder:
    """Stands between one module's resolution and the module loader and locks it is given,
    noting the module names and table locks it asks for: its inputs."""

    def __init__(self, load_module: ModuleLoader, locks: Locks):
        self.load_module = load_module
        self.locks = locks
        self.names: set[str] = set()
        self.identifiers: set[str] = set()

    def load(self, name: str) -> ModuleFacts | None:
        self.names.add(name)
        return self.load_module(name)

    def get(self, identifier: str) -> TableLock | None:
        self.identifiers.add(identifier)
        return self.locks.get(identifier)

    def input_files(self) -> list[str]:
        """Both places each module asked for may be (the one found, and the other, which
        would take its place or be shadowed by it if it appeared)."""
        return sorted({c.as_posix() for name in self.names for c in module_candidates(name)})
