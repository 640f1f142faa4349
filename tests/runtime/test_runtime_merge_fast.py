"""The merge's contract: one snapshot, only touched files rewritten, safe under concurrent commits.

Real SqlCatalogs in tmp_path; a "concurrent writer" is a second Table object of the same table
that commits after ours was loaded, so our merge plans on a snapshot that is no longer the head.
"""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyiceberg.table
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.manifest import ManifestFile
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from pyiceberg.types import (
    ListType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

from cascade.runtime import manifest_cache, merge_batch

IDENTIFIER = "raw.items"
SCHEMA = Schema(
    NestedField(1, "id", StringType(), required=True),
    NestedField(2, "value", LongType(), required=False),
    NestedField(3, "tags", ListType(4, StringType(), element_required=False), required=False),
)
KEY = ("id",)
FILES, ROWS_PER_FILE = 10, 100


def rows(ids: range | list[int], value: int) -> pa.Table:
    """Rows `k0000`... with `value` (and a nested column, which Arrow joins cannot carry)."""
    return pa.Table.from_pylist(
        [{"id": f"k{i:04d}", "value": value, "tags": [f"t{value}"]} for i in ids],
        schema=SCHEMA.as_arrow(),
    )


def content(table: Table, ref: str = "main") -> dict[str, int]:
    """id -> value at the head of `ref`; fails on a duplicated id."""
    data = table.scan(snapshot_id=table.snapshot_by_name(ref).snapshot_id).to_arrow()
    ids = data.column("id").to_pylist()
    assert len(ids) == len(set(ids)), "duplicated keys"
    return dict(zip(ids, data.column("value").to_pylist(), strict=True))


def data_files(table: Table) -> set[str]:
    return set(table.inspect.files().column("file_path").to_pylist())


@pytest.fixture
def catalog(catalog: Catalog) -> Catalog:
    """tests/conftest.py's catalog, with the namespace the tables below are created in."""
    catalog.create_namespace("raw")
    return catalog


@pytest.fixture
def table(catalog: Catalog) -> Table:
    """Keys k0000-k0999 with value 0, in 10 files of 100 consecutive keys."""
    table = catalog.create_table(IDENTIFIER, schema=SCHEMA)
    with table.transaction() as transaction:  # one commit: quicker than ten
        for file in range(FILES):
            transaction.append(rows(range(file * ROWS_PER_FILE, (file + 1) * ROWS_PER_FILE), 0))
    return table


def expected(updates: dict[str, int] | None = None, size: int = 1000) -> dict[str, int]:
    return {f"k{i:04d}": 0 for i in range(size)} | (updates or {})


def test_one_snapshot_per_merge_that_rewrites_only_the_touched_files(table: Table) -> None:
    before_files = data_files(table)
    before_snapshots = len(table.metadata.snapshots)
    # Updates in the 3rd and 8th files, and new keys past the end.
    batch = rows([250, 251, 720, 1000, 1001], 7)

    outcome = merge_batch(table, batch, KEY)

    assert len(table.metadata.snapshots) == before_snapshots + 1
    snapshot = table.current_snapshot()
    assert snapshot.snapshot_id == outcome.snapshot_id
    assert snapshot.summary.operation.value == "overwrite"
    assert (
        outcome.rows_inserted,
        outcome.rows_updated,
        outcome.rows_unchanged,
        outcome.rows_deleted,
    ) == (2, 3, 0, 0)
    # Bounds ruled out the 8 other files without reading them.
    assert (outcome.files_scanned, outcome.files_rewritten, outcome.files_added) == (2, 2, 3)
    after_files = data_files(table)
    assert len(before_files - after_files) == 2
    assert len(after_files - before_files) == 3
    assert snapshot.summary["deleted-data-files"] == "2"
    assert snapshot.summary["added-data-files"] == "3"
    assert content(table) == expected({f"k{i:04d}": 7 for i in (250, 251, 720, 1000, 1001)}, 1002)


def test_a_merge_reads_each_manifest_once_and_the_table_metadata_once_per_change(
    table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planning reads every manifest of an unpartitioned table; pyiceberg's overwrite would
    read them all twice more while committing, and copy the table metadata at each of some
    thirty reads of `Transaction.table_metadata`."""
    manifests = [m.manifest_path for m in table.current_snapshot().manifests(table.io)]
    assert len(manifests) == FILES  # one per append
    reads: list[str] = []
    read = manifest_cache._read
    monkeypatch.setattr(
        manifest_cache,
        "_read",
        lambda manifest, io, discard: (
            reads.append(manifest.manifest_path) or read(manifest, io, discard)
        ),
    )
    metadata_updates = []
    update = pyiceberg.table.update_table_metadata
    monkeypatch.setattr(
        pyiceberg.table,
        "update_table_metadata",
        lambda *args, **kwargs: metadata_updates.append(args) or update(*args, **kwargs),
    )

    merge_batch(table, rows([250, 720, 1000], 7), KEY)

    assert sorted(reads) == sorted(manifests)
    assert len(metadata_updates) <= 1  # once the snapshot is staged
    assert not manifest_cache._entries  # nothing kept once no merge runs
    # and pyiceberg's own method is back: importing Cascade patches nothing.
    assert ManifestFile.fetch_manifest_entry is read
    # The next merge reads the manifests of its own snapshot again.
    manifests = [m.manifest_path for m in table.current_snapshot().manifests(table.io)]
    reads.clear()
    merge_batch(table, rows([251], 8), KEY)
    assert sorted(reads) == sorted(manifests)
    assert content(table) == expected({"k0250": 7, "k0251": 8, "k0720": 7, "k1000": 7}, 1001)


def test_a_rewritten_file_keeps_its_key_range(table: Table) -> None:
    """Replacement rows go into the file they replace, so later merges still prune by bounds."""
    merge_batch(table, rows([150, 160], 1), KEY)

    outcome = merge_batch(table, rows([170], 2), KEY)

    assert (outcome.files_scanned, outcome.files_rewritten) == (1, 1)
    assert content(table) == expected({"k0150": 1, "k0160": 1, "k0170": 2})


def test_a_file_whose_range_covers_a_key_it_lacks_is_read_but_not_rewritten(
    table: Table,
) -> None:
    table.append(rows([2000, 2002], 0))  # the range k2000-k2002 does not hold k2001
    before_files = data_files(table)

    outcome = merge_batch(table, rows([2001], 5), KEY)

    assert (outcome.files_scanned, outcome.files_rewritten, outcome.files_added) == (1, 0, 1)
    assert before_files <= data_files(table)
    assert content(table)["k2001"] == 5


def test_rerunning_the_same_batch_changes_nothing(table: Table) -> None:
    batch = rows([5, 505, 1500], 3)
    merge_batch(table, batch, KEY)
    first = content(table)

    again = merge_batch(table, batch, KEY)

    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 3)
    assert again.rows_deleted == 0
    assert content(table) == first == expected({"k0005": 3, "k0505": 3}) | {"k1500": 3}


def test_keys_held_twice_by_the_table_are_replaced_once(table: Table) -> None:
    table.append(rows([10], 9))  # a second k0010, e.g. written by another tool

    outcome = merge_batch(table, rows([10], 4), KEY)

    # One key, a new value: one row updated; the extra copy is gone from the table.
    counts = (outcome.rows_inserted, outcome.rows_updated, outcome.rows_unchanged)
    assert (*counts, outcome.rows_deleted) == (0, 1, 0, 1)
    assert content(table) == expected({"k0010": 4})

    # Two copies equal to the batch row: unchanged, and still one copy fewer.
    table.append(rows([10], 4))
    outcome = merge_batch(table, rows([10], 4), KEY)
    counts = (outcome.rows_inserted, outcome.rows_updated, outcome.rows_unchanged)
    assert (*counts, outcome.rows_deleted) == (0, 0, 1, 1)
    # One copy differs: updated.
    table.append(rows([10], 5))
    outcome = merge_batch(table, rows([10], 4), KEY)
    assert (outcome.rows_updated, outcome.rows_unchanged, outcome.rows_deleted) == (1, 0, 1)
    assert content(table) == expected({"k0010": 4})


def test_an_empty_table_and_an_empty_batch(catalog: Catalog) -> None:
    table = catalog.create_table(IDENTIFIER, schema=SCHEMA)

    first = merge_batch(table, rows([1, 2], 1), KEY)
    empty = merge_batch(table, rows([], 1), KEY)

    assert (first.rows_inserted, empty.rows_inserted, empty.rows_updated) == (2, 0, 0)
    assert len(table.metadata.snapshots) == 2
    assert content(table) == {"k0001": 1, "k0002": 1}


def test_the_batch_must_fit_the_table_like_an_append(table: Table) -> None:
    merge_batch(table, rows([3], 2).drop_columns(["tags"]), KEY)  # optional: becomes null

    assert table.scan(row_filter="id == 'k0003'").to_arrow().to_pylist() == [
        {"id": "k0003", "value": 2, "tags": None}
    ]
    with pytest.raises(ValueError, match="more columns: extra"):
        merge_batch(table, rows([3], 2).append_column("extra", pa.array([1])), KEY)


# Composite key (device, at), partitioned by day: the bounds of both columns prune.
EVENTS = Schema(
    NestedField(1, "device", StringType(), required=True),
    NestedField(2, "at", TimestamptzType(), required=True),
    NestedField(3, "value", LongType(), required=False),
)
EVENTS_KEY = ("device", "at")
START = datetime(2024, 1, 1, tzinfo=UTC)


def events(*keys: tuple[str, int], value: int) -> pa.Table:
    """Rows (device, hours after START) with `value`."""
    return pa.Table.from_pylist(
        [{"device": d, "at": START + timedelta(hours=h), "value": value} for d, h in keys],
        schema=EVENTS.as_arrow(),
    )


def test_composite_keys_match_whole_keys_only(catalog: Catalog) -> None:
    spec = PartitionSpec(PartitionField(2, 1000, DayTransform(), "at_day"))
    table = catalog.create_table("raw.events", schema=EVENTS, partition_spec=spec)
    for day in range(5):
        table.append(events(*[(d, day * 24 + h) for d in ("a", "b") for h in range(24)], value=0))
    before_files = data_files(table)

    # (a, day 2 hour 5) exists; (c, same hour) and (a, day 9) are new. (b, day 2 hour 5) stays.
    outcome = merge_batch(table, events(("a", 53), ("c", 53), ("a", 9 * 24), value=1), EVENTS_KEY)

    assert (
        outcome.rows_inserted,
        outcome.rows_updated,
        outcome.rows_unchanged,
        outcome.rows_deleted,
    ) == (2, 1, 0, 0)
    assert (outcome.files_scanned, outcome.files_rewritten) == (1, 1)
    assert len(before_files - data_files(table)) == 1
    data = table.scan().to_arrow()
    values = {
        (r["device"], int((r["at"] - START).total_seconds() // 3600)): r["value"]
        for r in data.to_pylist()
    }
    assert len(values) == data.num_rows == 5 * 48 + 2
    assert values[("a", 53)] == values[("c", 53)] == values[("a", 216)] == 1
    assert values[("b", 53)] == 0


def messages(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_a_concurrent_commit_outside_the_key_range_is_revalidated_not_redone(
    catalog: Catalog, table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    other = catalog.load_table(IDENTIFIER)
    other.append(rows([5000], 8))  # after `table` was loaded: its head is stale

    with caplog.at_level(logging.WARNING):
        outcome = merge_batch(table, rows([100, 1000], 1), KEY)

    # The first commit failed; pyiceberg validated the concurrent snapshot (no file in our key
    # range) and re-committed the same files on top of it: no redo, and nothing lost.
    assert messages(caplog, "Commit failed due to a concurrent update")
    assert not messages(caplog, "redoing")
    assert table.snapshot_by_id(outcome.snapshot_id).parent_snapshot_id == (
        other.current_snapshot().snapshot_id
    )
    assert content(catalog.load_table(IDENTIFIER)) == expected(
        {"k0100": 1, "k1000": 1, "k5000": 8}, 1000
    )


def test_a_concurrent_insert_of_a_batch_key_makes_the_merge_redo(
    catalog: Catalog, table: Table, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = catalog.load_table(IDENTIFIER)
    other.append(rows([1000, 1001], 8))  # k1000 is in our batch too

    with caplog.at_level(logging.WARNING):
        outcome = merge_batch(table, rows([100, 1000], 1), KEY)

    assert messages(caplog, "Added data files were found matching the filter")
    assert messages(caplog, "redoing")
    # Redone on the new head: k1000 now exists and is replaced, not duplicated.
    assert (outcome.rows_inserted, outcome.rows_updated) == (0, 2)
    assert content(catalog.load_table(IDENTIFIER)) == expected(
        {"k0100": 1, "k1000": 1, "k1001": 8}, 1000
    )
    assert_no_orphan_data_files(table, tmp_path)


def test_a_concurrent_rewrite_of_a_touched_file_makes_the_merge_redo(
    catalog: Catalog, table: Table, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = catalog.load_table(IDENTIFIER)
    merge_batch(other, rows([101], 8), KEY)  # rewrites the file holding k0100-k0199

    with caplog.at_level(logging.WARNING):
        merge_batch(table, rows([100], 1), KEY)

    assert messages(caplog, "redoing")

    assert content(catalog.load_table(IDENTIFIER)) == expected({"k0100": 1, "k0101": 8})
    assert_no_orphan_data_files(table, tmp_path)


def test_branch_writes_leave_main_unmoved(catalog: Catalog, table: Table) -> None:
    main_before = table.current_snapshot().snapshot_id

    first = merge_batch(table, rows([1, 1000], 2), KEY, branch="dev")
    second = merge_batch(table, rows([1, 2], 3), KEY, branch="dev")

    table = catalog.load_table(IDENTIFIER)
    assert table.current_snapshot().snapshot_id == main_before
    assert table.snapshot_by_id(first.snapshot_id).parent_snapshot_id == main_before
    assert table.snapshot_by_id(second.snapshot_id).parent_snapshot_id == first.snapshot_id
    assert (second.rows_inserted, second.rows_updated) == (0, 2)
    assert content(table, "dev") == expected({"k0001": 3, "k0002": 3, "k1000": 2}, 1001)
    assert content(table) == expected()


def test_a_branch_created_concurrently_is_merged_into_not_replaced(
    catalog: Catalog, table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    other = catalog.load_table(IDENTIFIER)
    merge_batch(other, rows([7], 6), KEY, branch="dev")  # creates dev after `table` was loaded

    with caplog.at_level(logging.WARNING):
        merge_batch(table, rows([8], 1), KEY, branch="dev")

    # Not pyiceberg's retry, which would drop the branch creation: a redo on the new state.
    assert not messages(caplog, "Commit failed due to a concurrent update")
    assert messages(caplog, "redoing")

    table = catalog.load_table(IDENTIFIER)
    assert content(table, "dev") == expected({"k0007": 6, "k0008": 1})
    assert content(table) == expected()


def assert_no_orphan_data_files(table: Table, warehouse: Path) -> None:
    """Every Parquet file on disk belongs to some snapshot: failed attempts cleaned up."""
    table.refresh()
    referenced = {
        path.removeprefix("file://")
        for path in table.inspect.all_files().column("file_path").to_pylist()
    }
    on_disk = {str(path) for path in warehouse.rglob("*.parquet")}
    assert on_disk == referenced
