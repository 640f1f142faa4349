"""A compaction killed with SIGKILL at any moment leaves the old snapshot or the new one, with
the same rows either way, every data file readable.

Each compaction is a real `compact_table` in a child process against the embedded SQLite
catalog and a local warehouse: it reads a table's small files, writes new ones, writes
manifests and metadata, and swaps the catalog's pointer. The test kills compactions at random
moments (a third of them aimed at the catalog commit) and checks after each kill that the table
is exactly at its previous snapshot, or at one new `replace` snapshot on top of it, with the
rows it held; between kills, merges in the test process make new small files, so each
compaction has work. At the end, orphan removal deletes what the killed compactions wrote, and
the table is still read whole by pyiceberg and DuckDB.

Children are forked from a "compactor" process that imported everything once, as in
tests/e2e/test_crash_safety.py.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation

from cascade.runtime import IcebergResource, merge_batch
from cascade.runtime.upkeep import referenced_files, remove_orphan_files
from tests.e2e.kill_points import Progress
from tests.runtime.upkeep_tables import (
    IDENTIFIER,
    KEY,
    build,
    duckdb_rows,
    files_under,
    load_batch,
    pyiceberg_rows,
)

# Slow: compactions in processes killed with SIGKILL.
pytestmark = pytest.mark.slow

KILLS = 20
COMMIT_KILL_SHARE = 1 / 3
MAX_ATTEMPTS = 3 * KILLS
TIMEOUT_SECONDS = 120
SEED_VARIABLE = "CASCADE_CRASH_SEED"
# Each merge between kills: new keys in every day, and updates of older ones.
NEW_PER_DAY, UPDATES_PER_DAY = 300, 60

PRELOADED = (
    "cascade.runtime.catalog",
    "cascade.runtime.compaction",
    "pyiceberg.catalog",
    "pyiceberg.catalog.sql",
    "pyiceberg.io.pyarrow",
    "pyiceberg.utils.config",
)


def run_compaction(project_dir: str, events: Progress) -> None:
    """A forked child: compact the table, telling the test how far it got."""
    from pyiceberg.catalog.sql import SqlCatalog

    from cascade.runtime.compaction import compact_table

    commit_table = SqlCatalog.commit_table

    def observed_commit_table(self, *args, **kwargs):
        events.committing.set()  # observation only: the commit runs unchanged
        return commit_table(self, *args, **kwargs)

    SqlCatalog.commit_table = observed_commit_table
    table = IcebergResource(project_dir=project_dir).load_catalog().load_table(IDENTIFIER)
    events.started.set()
    compact_table(table, KEY)
    events.returned.set()


def serve(connection: Connection, events: Progress, project_dir: str) -> None:
    """The compactor process: imports once, then forks a child per request (as
    tests/e2e/test_crash_safety.py's loader: it reaps a child only when the test says so)."""
    for module in PRELOADED:
        importlib.import_module(module)
    fork = multiprocessing.get_context("fork")
    while connection.recv() is not None:
        child = fork.Process(target=run_compaction, args=(project_dir, events))
        child.start()
        connection.send(child.pid)
        connection.recv()
        child.join()
        connection.send(child.exitcode)


class Compactor:
    def __init__(self, project_dir: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.events = Progress.create("the compaction", context)
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=serve, args=(theirs, self.events, project_dir))
        self.process.start()

    def run(self) -> tuple[int, float, float]:
        """A compaction to its end: exit code, seconds from its start and from its commit."""
        self._start()
        self._wait("started")
        started = time.monotonic()
        self._wait("committing")
        committing = time.monotonic()
        self._wait("returned")
        ended = time.monotonic()
        return self._reap(), ended - started, ended - committing

    def kill(self, after: str, delay: float) -> tuple[int, str]:
        pid = self._start()
        self._wait(after)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)  # not reaped yet: the pid is still the child's
        moment = self.events.moment()
        return self._reap(), moment

    def _start(self) -> int:
        for event in self.events.all():
            event.clear()
        self.connection.send("compact")
        assert self.connection.poll(TIMEOUT_SECONDS), "the compactor did not start"
        return self.connection.recv()

    def _reap(self) -> int:
        self.connection.send("reap")
        assert self.connection.poll(TIMEOUT_SECONDS), "the compaction's process did not end"
        return self.connection.recv()

    def _wait(self, event: str) -> None:
        if not getattr(self.events, event).wait(TIMEOUT_SECONDS):
            pytest.fail(f"the compaction ended (exit code {self._reap()}) before `{event}`")

    def close(self) -> None:
        try:
            self.connection.send(None)
            self.process.join(TIMEOUT_SECONDS)
        finally:
            if self.process.is_alive():
                self.process.kill()


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A project with no pyiceberg configuration: the embedded SQLite catalog."""
    (tmp_path / "home").mkdir()  # DuckDB wants one
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PYICEBERG_HOME", raising=False)
    for name in ("TYPE", "URI", "WAREHOUSE"):
        monkeypatch.delenv(f"PYICEBERG_CATALOG__CASCADE__{name}", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    return str(project)


class Loads:
    """Merges into the table from the test process, with the rows they leave."""

    def __init__(self, table: Table) -> None:
        self.table, self.next = table, 100
        self.expected = pyiceberg_rows(table)

    def fragment(self, merges: int = 3) -> None:
        for _ in range(merges):
            batch = load_batch(self.next, NEW_PER_DAY, UPDATES_PER_DAY)
            self.next += 1
            merge_batch(self.table, batch, KEY)
            by_key = {r["id"]: r for r in self.expected} | {r["id"]: r for r in batch.to_pylist()}
            self.expected = sorted(by_key.values(), key=lambda r: r["id"])


def test_a_compaction_killed_at_any_moment_leaves_the_old_or_the_new_snapshot(
    project_dir: str,
) -> None:
    seed = int(os.environ.get(SEED_VARIABLE) or random.randrange(2**32))
    print(f"kill moments seeded with {seed} (replay: {SEED_VARIABLE}={seed})")
    moments = random.Random(seed)
    catalog = IcebergResource(project_dir=project_dir).load_catalog()
    loads = Loads(build(catalog, loads=2))
    loads.fragment()
    compactor = Compactor(project_dir)
    try:
        exit_code, compaction_seconds, commit_seconds = compactor.run()  # unkilled: it lands
        assert exit_code == 0
        table = catalog.load_table(IDENTIFIER)
        assert table.current_snapshot().summary.operation == Operation.REPLACE
        assert pyiceberg_rows(table) == loads.expected

        kills, attempts = 0, 0
        outcomes: Counter[str] = Counter()
        landed = True
        while kills < KILLS:
            attempts += 1
            assert attempts <= MAX_ATTEMPTS, f"seed {seed}: only {kills} kills hit a compaction"
            if landed:
                loads.fragment()  # new small files to compact
            if moments.random() < COMMIT_KILL_SHARE:
                after, delay = "committing", moments.uniform(0, 1.5 * commit_seconds)
            else:
                after, delay = "started", moments.uniform(0, compaction_seconds)
            before = catalog.load_table(IDENTIFIER)
            context = (
                f"seed {seed}, attempt {attempts}: killed {delay:.4f}s after {after} began "
                f"(unkilled: compaction {compaction_seconds:.3f}s, of which the end from the "
                f"catalog commit on {commit_seconds:.3f}s)"
            )

            exit_code, moment = compactor.kill(after, delay)

            assert exit_code in (0, -signal.SIGKILL), f"{context}: exit code {exit_code}"
            killed = exit_code == -signal.SIGKILL
            kills += killed
            table = catalog.load_table(IDENTIFIER)
            rows = pyiceberg_rows(table)  # every data file of the head read
            assert rows == loads.expected, f"{context}: the rows changed"
            if table.metadata_location == before.metadata_location:
                assert killed, f"{context}: the compaction ended without committing"
                landed = False
            else:
                snapshots = table.metadata.snapshots
                assert snapshots[:-1] == before.metadata.snapshots, context
                head = snapshots[-1]
                assert head.snapshot_id == table.current_snapshot().snapshot_id, context
                assert head.parent_snapshot_id == before.current_snapshot().snapshot_id, context
                assert head.summary.operation == Operation.REPLACE, context
                landed = True
            outcomes[
                f"killed {moment}: {'new' if landed else 'old'} snapshot"
                if killed
                else "finished before the kill"
            ] += 1
        print(f"{attempts} compactions, {kills} killed, unkilled {compaction_seconds:.3f}s:")
        for outcome, count in sorted(outcomes.items()):
            print(f"  {count:3} {outcome}")
    finally:
        compactor.close()

    # What the killed compactions wrote is unreferenced: orphan removal deletes it (no load is
    # running, so the window may end now), and the table reads the same, whole.
    table = catalog.load_table(IDENTIFIER)
    duck = duckdb_rows(table)
    assert len(duck) == len(loads.expected)
    removed = remove_orphan_files(table, datetime.now(UTC) + timedelta(hours=1))
    print(f"orphan removal: {removed.files} files, {removed.bytes} bytes")
    table = catalog.load_table(IDENTIFIER)
    assert {str(path) for path in files_under(table)} <= referenced_files(table)
    assert pyiceberg_rows(table) == loads.expected
    assert duckdb_rows(table) == duck
    for snapshot in table.snapshots():  # and every snapshot kept is readable (time travel)
        assert pyiceberg_rows(table, snapshot.snapshot_id)
