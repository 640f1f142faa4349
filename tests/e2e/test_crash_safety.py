"""A load killed with SIGKILL at any moment leaves the table as it was before or after the load.

Each load is a real `merge_batch` in a child process, against the embedded SQLite catalog and a
local warehouse: it updates rows spread over several data files and inserts new ones, so it
rewrites files, writes manifests and metadata, and swaps the catalog's pointer. The test kills
loads at random moments of their run and checks, after each kill, that the table is exactly at
its previous snapshot with its previous rows, or at one new snapshot with all the new rows;
a load that did not land is rerun (as a retry policy would) until it does.

Each load's child is forked from a prepared "loader" process that imported everything once,
so a load starts in milliseconds instead of seconds, and 30 kills take well under a minute.
The test runs twice: with batches in memory, and with batches sorted on disk in chunks of
`CHUNK_ROWS` rows (`SortedSpill`, as a load of more than `chunk_rows` rows merges them), whose
merge rewrites files and writes new ones chunk after chunk before its one commit.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import LongType, NestedField, StringType

from cascade.runtime import IcebergResource, merge_batch
from cascade.runtime.spill import SortedSpill
from tests.e2e.kill_points import Progress

# Slow: loads in processes killed with SIGKILL.
pytestmark = pytest.mark.slow

IDENTIFIER = "raw.readings"
SCHEMA = Schema(
    NestedField(1, "id", StringType(), required=True),
    NestedField(2, "value", LongType(), required=True),
    NestedField(3, "payload", StringType(), required=False),
)
KEY = ("id",)
CHUNK_ROWS = 100

# The table before the first load: FILES data files of consecutive keys.
FILES, ROWS_PER_FILE = 8, 2500
# Each load updates this many existing rows (spread over most files) and inserts new ones.
UPDATES_PER_LOAD, INSERTS_PER_LOAD = 400, 200
KILLS = 30
# The share of kills aimed at the catalog commit (the rest fall anywhere in the merge).
COMMIT_KILL_SHARE = 1 / 3
# Kills hit a load that is running; one that finished first is not a kill. This bounds how
# many loads the test starts to get its KILLS kills.
MAX_ATTEMPTS = 3 * KILLS
TIMEOUT_SECONDS = 120
# Set to replay a failed run's kill delays.
SEED_VARIABLE = "CASCADE_CRASH_SEED"

Rows = dict[str, tuple[int, str]]

# What a load imports at run time, which the loader process imports once for all its children.
PRELOADED = (
    "cascade.runtime.catalog",
    "cascade.runtime.merge",
    "cascade.runtime.spill",
    "pyiceberg.catalog",
    "pyiceberg.catalog.sql",
    "pyiceberg.io.pyarrow",
    "pyiceberg.utils.config",
)


def payload(key: str, value: int) -> str:
    return f"{key} has value {value}; " * 4


def initial_rows() -> Rows:
    keys = [f"k{n:06d}" for n in range(FILES * ROWS_PER_FILE)]
    return {key: (0, payload(key, 0)) for key in keys}


def load_batch(load: int) -> pa.Table:
    """Load number `load` (from 1): random initial keys get value `load`, and new keys appear."""
    rng = np.random.default_rng(load)
    updated = rng.choice(FILES * ROWS_PER_FILE, UPDATES_PER_LOAD, replace=False)
    first_new = FILES * ROWS_PER_FILE + (load - 1) * INSERTS_PER_LOAD
    numbers = [*sorted(updated.tolist()), *range(first_new, first_new + INSERTS_PER_LOAD)]
    keys = [f"k{n:06d}" for n in numbers]
    return pa.Table.from_pydict(
        {
            "id": keys,
            "value": [load] * len(keys),
            "payload": [payload(key, load) for key in keys],
        },
        schema=SCHEMA.as_arrow(),
    )


def after_load(rows: Rows, load: int) -> Rows:
    """`rows` once load number `load` has been merged into them."""
    batch = load_batch(load).to_pylist()
    return rows | {row["id"]: (row["value"], row["payload"]) for row in batch}


def table_rows(table: Table) -> Rows:
    """Every row at main's head (a full scan: every data file must be readable)."""
    rows = table.scan().to_arrow().to_pylist()
    repeated = [key for key, n in Counter(row["id"] for row in rows).items() if n > 1]
    assert not repeated, f"{len(repeated)} keys held by several rows, e.g. {repeated[:5]}"
    return {row["id"]: (row["value"], row["payload"]) for row in rows}


def differences(actual: Rows, expected: Rows) -> str:
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(key for key in actual.keys() & expected.keys() if actual[key] != expected[key])
    return (
        f"{len(missing)} missing (e.g. {missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]}), "
        f"{len(changed)} with other values (e.g. {changed[:3]})"
    )


def in_chunks(batch: pa.Table, folder: Path) -> SortedSpill:
    """The batch sorted on the key, on disk in chunks of CHUNK_ROWS rows."""
    from cascade.runtime.spill import SpillWriter

    batch = batch.sort_by([(name, "ascending") for name in KEY])
    writer = SpillWriter(folder / "sorted.arrow", batch.schema, KEY)
    for start in range(0, batch.num_rows, CHUNK_ROWS):
        writer.write(batch.slice(start, CHUNK_ROWS))
    return writer.close()


def run_load(project_dir: str, load: int, events: Progress, chunked: bool) -> None:
    """A forked child: merge load number `load`, telling the test how far it got."""
    from pyiceberg.catalog.sql import SqlCatalog

    commit_table = SqlCatalog.commit_table

    def observed_commit_table(self, *args, **kwargs):
        # Observation only, in this child: the catalog's commit (write the new metadata file,
        # then swap the table's pointer to it) runs unchanged, but the test now knows when it
        # starts, and can aim kills at it.
        events.committing.set()
        return commit_table(self, *args, **kwargs)

    SqlCatalog.commit_table = observed_commit_table
    table = IcebergResource(project_dir=project_dir).load_catalog().load_table(IDENTIFIER)
    batch: pa.Table | SortedSpill = load_batch(load)
    if chunked:
        folder = Path(project_dir) / f"spill-{os.getpid()}"
        folder.mkdir()
        batch = in_chunks(batch, folder)
    events.started.set()
    merge_batch(table, batch, KEY)
    events.returned.set()


def serve_loads(connection: Connection, events: Progress, project_dir: str, chunked: bool) -> None:
    """The loader process: imports the runtime once, then forks one child per requested load.

    For each load number it receives, it sends the child's pid, waits for the test to say the
    child may be reaped (the test kills it, or not, in between), then sends its exit code.
    Reaping only then guarantees that the pid the test kills is still the child's. None stops.
    """
    # Everything a load imports, imported before forking. This process runs no threads and
    # opens no catalog connection, so a forked child starts clean.
    for module in PRELOADED:
        importlib.import_module(module)

    fork = multiprocessing.get_context("fork")
    while (load := connection.recv()) is not None:
        child = fork.Process(target=run_load, args=(project_dir, load, events, chunked))
        child.start()
        connection.send(child.pid)
        connection.recv()
        child.join()
        connection.send(child.exitcode)


@dataclass(frozen=True)
class Kill:
    """SIGKILL `delay` seconds after the load's child set the event named `after`."""

    after: str
    delay: float


class Loader:
    """The test's handle on the loader process."""

    def __init__(self, project_dir: str, chunked: bool) -> None:
        # spawn: a fresh interpreter (this one runs threads, which must not be forked).
        context = multiprocessing.get_context("spawn")
        self.events = Progress.create("the merge", context)
        self.connection, theirs = context.Pipe()
        self.process = context.Process(
            target=serve_loads, args=(theirs, self.events, project_dir, chunked)
        )
        self.process.start()

    def run(self, load: int) -> tuple[int, float, float]:
        """Runs a load to its end: its exit code, and the seconds its merge took, from its start
        and from the start of its catalog commit."""
        self._start(load)
        self._wait("started", load)
        merge_started = time.monotonic()
        self._wait("committing", load)
        commit_started = time.monotonic()
        self._wait("returned", load)
        merge_ended = time.monotonic()
        exit_code = self._reap()
        return exit_code, merge_ended - merge_started, merge_ended - commit_started

    def kill(self, load: int, kill: Kill) -> tuple[int, str]:
        """Runs a load and kills it as `kill` says: its exit code (-SIGKILL if the kill found it
        running) and how far it had got by then."""
        pid = self._start(load)
        self._wait(kill.after, load)
        time.sleep(kill.delay)
        os.kill(pid, signal.SIGKILL)  # not reaped yet: the pid is still the child's
        moment = self.events.moment()
        return self._reap(), moment

    def _start(self, load: int) -> int:
        for event in self.events.all():
            event.clear()
        self.connection.send(load)
        assert self.connection.poll(TIMEOUT_SECONDS), "the loader did not start the load"
        return self.connection.recv()

    def _reap(self) -> int:
        self.connection.send("reap")
        assert self.connection.poll(TIMEOUT_SECONDS), "the load's process did not end"
        return self.connection.recv()

    def _wait(self, event: str, load: int) -> None:
        if not getattr(self.events, event).wait(TIMEOUT_SECONDS):
            exit_code = self._reap()
            pytest.fail(f"load {load} ended (exit code {exit_code}) before `{event}`")

    def close(self) -> None:
        try:
            self.connection.send(None)
            self.process.join(TIMEOUT_SECONDS)
        finally:
            if self.process.is_alive():
                self.process.kill()


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A project with no pyiceberg configuration: loads use the embedded SQLite catalog."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.pyiceberg.yaml
    monkeypatch.chdir(tmp_path)  # nor one in the working folder
    monkeypatch.delenv("PYICEBERG_HOME", raising=False)
    for name in ("TYPE", "URI", "WAREHOUSE"):
        monkeypatch.delenv(f"PYICEBERG_CATALOG__CASCADE__{name}", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    return str(project)


def create_table(catalog: Catalog) -> None:
    catalog.create_namespace("raw")
    table = catalog.create_table(IDENTIFIER, schema=SCHEMA)
    rows = initial_rows()
    keys = sorted(rows)
    with table.transaction() as transaction:  # one commit, one file per block of keys
        for file in range(FILES):
            block = keys[file * ROWS_PER_FILE : (file + 1) * ROWS_PER_FILE]
            transaction.append(
                pa.Table.from_pydict(
                    {
                        "id": block,
                        "value": [rows[key][0] for key in block],
                        "payload": [rows[key][1] for key in block],
                    },
                    schema=SCHEMA.as_arrow(),
                )
            )


@pytest.mark.parametrize("chunked", [False, True], ids=["in-memory", "in-chunks"])
def test_a_load_killed_at_any_moment_leaves_the_old_or_the_new_snapshot(
    project_dir: str, chunked: bool
) -> None:
    seed = int(os.environ.get(SEED_VARIABLE) or random.randrange(2**32))
    print(f"kill moments seeded with {seed} (replay: {SEED_VARIABLE}={seed})")
    moments = random.Random(seed)
    catalog = IcebergResource(project_dir=project_dir).load_catalog()
    create_table(catalog)
    loader = Loader(project_dir, chunked)
    try:
        # An unkilled first load: it must land, and it measures how long a merge runs, and how
        # long its end, from the catalog commit on, takes.
        exit_code, merge_seconds, commit_seconds = loader.run(load=1)
        assert exit_code == 0
        expected = after_load(initial_rows(), 1)
        assert table_rows(catalog.load_table(IDENTIFIER)) == expected

        load, kills, attempts = 2, 0, 0
        outcomes: Counter[str] = Counter()
        while kills < KILLS:
            attempts += 1
            assert attempts <= MAX_ATTEMPTS, f"seed {seed}: only {kills} kills hit a running load"
            # Most kills fall anywhere in the merge (reading files, writing data files and
            # manifests); the others aim at its short end, where the catalog commit writes the
            # new metadata and swaps the pointer, and the new snapshot becomes visible.
            if moments.random() < COMMIT_KILL_SHARE:
                kill = Kill("committing", moments.uniform(0, 1.5 * commit_seconds))
            else:
                kill = Kill("started", moments.uniform(0, merge_seconds))
            before = catalog.load_table(IDENTIFIER)
            new = after_load(expected, load)
            attempted = load
            context = (
                f"seed {seed}, attempt {attempts}: load {load} killed {kill.delay:.4f}s after "
                f"{kill.after} began (unkilled: merge {merge_seconds:.3f}s, of which the end "
                f"from the catalog commit on {commit_seconds:.3f}s)"
            )

            exit_code, moment = loader.kill(load, kill)

            assert exit_code in (0, -signal.SIGKILL), f"{context}: exit code {exit_code}"
            killed = exit_code == -signal.SIGKILL
            if killed:
                kills += 1
            table = catalog.load_table(IDENTIFIER)
            rows = table_rows(table)
            head = table.current_snapshot().snapshot_id
            if head == before.current_snapshot().snapshot_id:
                # Nothing of the load is visible: same pointer, same snapshots, same rows.
                assert killed, f"{context}: the load ended without committing"
                assert table.metadata_location == before.metadata_location, context
                assert table.metadata.snapshots == before.metadata.snapshots, context
                assert rows == expected, f"{context}: old snapshot, {differences(rows, expected)}"
                landed = False
                # The next attempt reruns the same load, from the same state.
            else:
                # All of the load is visible, as one snapshot on top of the old head.
                snapshots = table.metadata.snapshots
                assert snapshots[:-1] == before.metadata.snapshots, context
                assert snapshots[-1].snapshot_id == head, context
                assert snapshots[-1].parent_snapshot_id == before.current_snapshot().snapshot_id
                assert rows == new, f"{context}: new snapshot, {differences(rows, new)}"
                landed = True
                expected, load = new, load + 1
            if killed:
                outcomes[f"killed {moment}: {'new' if landed else 'old'} snapshot"] += 1
            else:
                outcomes["finished before the kill"] += 1
        print(f"{attempts} loads, {kills} killed, unkilled merge {merge_seconds:.3f}s:")
        for outcome, count in sorted(outcomes.items()):
            print(f"  {count:3} {outcome}")

        # Rerunning the last load attempted, unkilled, converges whether or not that attempt
        # landed: to the rows of every load, applied in order.
        exit_code, _, _ = loader.run(attempted)
        assert exit_code == 0
    finally:
        loader.close()
    converged = initial_rows()
    for number in range(1, attempted + 1):
        converged = after_load(converged, number)
    final = table_rows(catalog.load_table(IDENTIFIER))
    assert final == converged, f"seed {seed}: {differences(final, converged)}"
