"""Four OS processes merging into one table at the same time, against real catalogs.

Each worker process owns one partition of an existing table (one day, keys of its own) and
merges batches into it with `merge_batch`, the runtime's merge. The workers load the table,
then wait at a barrier, so that all their first merges are planned on the same table version:
only one of those commits can land first, and each of the others must find out and retry. The
table must end with exactly the union of what every worker loaded, and with one snapshot per
merge.

Both catalogs a deployment on one machine can use: the embedded SQLite default (one file that
every process writes) and a PostgreSQL SqlCatalog.
"""

from __future__ import annotations

import logging
import multiprocessing
import traceback
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.snapshots import ancestors_of
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import DateType, LongType, NestedField, StringType

from cascade.runtime import IcebergResource, merge_batch
from cascade.runtime.contract import TableContract
from cascade.runtime.table import prepare_table

# Slow: loads in four processes at once, on SQLite and PostgreSQL.
pytestmark = pytest.mark.slow

if TYPE_CHECKING:
    from multiprocessing.synchronize import Barrier

pytest_plugins = ["tests.e2e.postgres"]

IDENTIFIER = "raw.events"
SCHEMA = Schema(
    NestedField(1, "id", StringType(), required=True),
    NestedField(2, "day", DateType(), required=True),
    NestedField(3, "value", LongType(), required=True),
    NestedField(4, "payload", StringType(), required=False),
)
SPEC = PartitionSpec(
    PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="day")
)
KEY = ("id",)
FIRST_DAY = date(2024, 1, 1)

# Partition 0 is loaded before the race; the workers load partitions 1 to 4.
WORKER_PARTITIONS = (1, 2, 3, 4)
# Round r loads the first (r + 1) / ROUNDS of the partition's keys with value r: each round
# updates the rows the previous ones loaded and inserts as many new ones, as a day's data that
# grows during the day would.
ROUNDS = 4
ROWS_PER_PARTITION = 4000
ROWS_PER_ROUND = ROWS_PER_PARTITION // ROUNDS
# Then the last round again, this many times.
RERUNS = 2

# The messages of the two ways a lost commit race is retried (runtime/merge.py): pyiceberg
# re-commits the same files on top of the new head once it has validated that the concurrent
# snapshot touched nothing in the batch's key range; otherwise the merge is redone.
PYICEBERG_RETRY = "Commit failed due to a concurrent update"
MERGE_REDO = "conflicted with a concurrent commit"

# Generous: four processes importing pyiceberg and Dagster on two shared cores.
WORKER_TIMEOUT_SECONDS = 300


def partition_batch(partition: int, round_: int) -> pa.Table:
    """Round `round_` of `partition`: its first (round_ + 1) * ROWS_PER_ROUND keys, value round_.

    Keys are `p<partition>-<n>`, so the partitions' key ranges do not overlap.
    """
    count = (round_ + 1) * ROWS_PER_ROUND
    return pa.Table.from_pydict(
        {
            "id": [f"p{partition}-{n:05d}" for n in range(count)],
            "day": [FIRST_DAY + timedelta(days=partition)] * count,
            "value": [round_] * count,
            "payload": [f"partition {partition} row {n} round {round_} " * 3 for n in range(count)],
        },
        schema=SCHEMA.as_arrow(),
    )


def expected_rows(partitions: list[int]) -> dict[str, tuple[date, int, str]]:
    """id -> (day, value, payload) once every partition in `partitions` had all its rounds."""
    last = {}
    for partition in partitions:
        rows = partition_batch(partition, ROUNDS - 1).to_pylist()
        last |= {row["id"]: (row["day"], row["value"], row["payload"]) for row in rows}
    return last


def table_rows(table: Table) -> dict[str, tuple[date, int, str]]:
    """id -> (day, value, payload) at the head of main; fails on a key held by several rows."""
    rows = table.scan().to_arrow().to_pylist()
    repeated = {key: n for key, n in Counter(row["id"] for row in rows).items() if n > 1}
    assert not repeated, f"{len(repeated)} keys held by several rows, e.g. {list(repeated)[:5]}"
    return {row["id"]: (row["day"], row["value"], row["payload"]) for row in rows}


class _ConflictCounter(logging.Handler):
    """Counts the log records of retried commit conflicts."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for marker in (PYICEBERG_RETRY, MERGE_REDO):
            if marker in message:
                self.counts[marker] += 1


def merge_rounds(
    project_dir: str,
    partition: int,
    rounds: list[int],
    barrier: Barrier,
    results: multiprocessing.Queue,
) -> None:
    """A worker process: merge the given rounds of `partition`, one merge each, in order.

    Puts (partition, [(rows_inserted, rows_updated, rows_unchanged, snapshot_id) per merge],
    conflict counts,
    None) on `results`, or (partition, None, None, traceback) if anything failed.
    """
    conflicts = _ConflictCounter()
    logging.getLogger().addHandler(conflicts)
    try:
        # The catalog the way a load finds it: pyiceberg's configuration, else the embedded one.
        table = IcebergResource(project_dir=project_dir).load_catalog().load_table(IDENTIFIER)
        batches = [partition_batch(partition, round_) for round_ in rounds]
        barrier.wait(timeout=WORKER_TIMEOUT_SECONDS)
        outcomes = []
        for batch in batches:
            outcome = merge_batch(table, batch, KEY)
            outcomes.append(
                (
                    outcome.rows_inserted,
                    outcome.rows_updated,
                    outcome.rows_unchanged,
                    outcome.snapshot_id,
                )
            )
        results.put((partition, outcomes, dict(conflicts.counts), None))
    except BaseException:
        barrier.abort()  # release the other workers instead of leaving them waiting
        results.put((partition, None, None, traceback.format_exc()))
        raise


def run_workers(project_dir: str, rounds: list[int]) -> dict[int, tuple[list, dict]]:
    """Runs one `merge_rounds` process per worker partition, all released together.

    Returns partition -> (merge outcomes, conflict counts); fails with every worker's
    traceback if one failed.
    """
    # spawn: fresh interpreters, as separate Dagster run workers would be, and no copy of this
    # process's catalog connections or threads.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(WORKER_PARTITIONS))
    results = context.Queue()
    workers = [
        context.Process(
            target=merge_rounds, args=(project_dir, partition, rounds, barrier, results)
        )
        for partition in WORKER_PARTITIONS
    ]
    for worker in workers:
        worker.start()
    try:
        # Read the results before joining: a process does not exit while its queue is unread.
        reported = [results.get(timeout=WORKER_TIMEOUT_SECONDS) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=WORKER_TIMEOUT_SECONDS)
            if worker.is_alive():
                worker.kill()
    failures = [error for _, _, _, error in reported if error is not None]
    assert not failures, "\n".join(failures)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    return {partition: (outcomes, counts) for partition, outcomes, counts, _ in reported}


@pytest.fixture(params=["sqlite", "postgresql"])
def project_dir(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A project folder whose loads use the given catalog; the workers inherit the setting.

    sqlite: no pyiceberg configuration at all, so `IcebergResource` falls back to the embedded
    SQLite catalog under the project folder. postgresql: pyiceberg's environment variables
    point at a fresh database on the test PostgreSQL server.
    """
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.pyiceberg.yaml
    monkeypatch.chdir(tmp_path)  # nor one in the working folder
    monkeypatch.delenv("PYICEBERG_HOME", raising=False)
    if request.param == "postgresql":
        request.getfixturevalue("postgres_catalog_env")
    else:
        for name in ("TYPE", "URI", "WAREHOUSE"):
            monkeypatch.delenv(f"PYICEBERG_CATALOG__CASCADE__{name}", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    return str(project)


def load_table(project_dir: str) -> Table:
    return IcebergResource(project_dir=project_dir).load_catalog().load_table(IDENTIFIER)


def create_table_with_partition_zero(project_dir: str) -> Table:
    catalog = IcebergResource(project_dir=project_dir).load_catalog()
    table = prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC)).table
    merge_batch(table, partition_batch(0, ROUNDS - 1), KEY)
    return table


def new_snapshot_ids(table: Table, since: int) -> list[int]:
    """The ids of main's snapshots after `since`, newest first."""
    ids = []
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        if snapshot.snapshot_id == since:
            return ids
        ids.append(snapshot.snapshot_id)
    raise AssertionError(f"snapshot {since} is not an ancestor of main's head")


def test_four_processes_merge_and_rerun_their_partitions_into_one_table_at_once(
    project_dir: str,
) -> None:
    table = create_table_with_partition_zero(project_dir)
    head_before = table.current_snapshot().snapshot_id
    # Every round of each partition, then its last round again, as a retried or repeated
    # backfill would: the reruns must leave the same rows, even while others commit.
    rounds = [*range(ROUNDS), *[ROUNDS - 1] * RERUNS]

    reported = run_workers(project_dir, rounds)

    conflicts = sum((Counter(counts) for _, counts in reported.values()), Counter())
    print(f"retried commit conflicts: {dict(conflicts)}")
    # The workers' first merges were all planned on the same table version, so every commit
    # but the first to land lost a race: they really overlapped, and they were retried.
    assert conflicts[PYICEBERG_RETRY] + conflicts[MERGE_REDO] >= len(WORKER_PARTITIONS) - 1
    for outcomes, _ in reported.values():
        # Round r updated the rows of the rounds before it (new values) and inserted one
        # round's worth; a rerun delivered every row of the partition again, unchanged.
        # Counted on the table the commit landed on, whatever the retries.
        assert [counts for *counts, _ in outcomes] == [
            *[[ROWS_PER_ROUND, round_ * ROWS_PER_ROUND, 0] for round_ in range(ROUNDS)],
            *[[0, 0, ROWS_PER_PARTITION]] * RERUNS,
        ]

    table = load_table(project_dir)
    # Every merge produced its own snapshot, and they form main's history since the race,
    # with each worker's merges in the order it made them.
    history = new_snapshot_ids(table, head_before)[::-1]
    merged = [snapshot for outcomes, _ in reported.values() for *_, snapshot in outcomes]
    assert len(set(merged)) == len(WORKER_PARTITIONS) * len(rounds)
    assert sorted(history) == sorted(merged)
    for outcomes, _ in reported.values():
        positions = [history.index(snapshot) for *_, snapshot in outcomes]
        assert positions == sorted(positions)
    # A retried commit rebuilt on top of the others' snapshots still wrote only its own
    # worker's partition.
    for snapshot in history:
        summary = table.snapshot_by_id(snapshot).summary.additional_properties
        assert summary["changed-partition-count"] == "1"
    # No row lost, none duplicated, each with its partition's last round's values: the rows
    # one load of each partition leaves, however often it was rerun.
    assert table_rows(table) == expected_rows([0, *WORKER_PARTITIONS])
