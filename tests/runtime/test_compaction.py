"""Compaction on real tables built by many small merges: the same rows and values before and
after (read by pyiceberg and DuckDB), fewer files sorted on the key, one `replace` snapshot; and
merges landing while it runs lose nothing, whichever commits first (the interleavings forced
by running a merge inside the other's commit step)."""

from __future__ import annotations

import logging

import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.snapshots import Operation
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import LongType, NestedField, StringType

from cascade.runtime import compaction, merge, merge_batch
from cascade.runtime.compaction import CompactionConflict, compact_table
from cascade.runtime.contract import TableContract
from cascade.runtime.table import prepare_table
from cascade.runtime.upkeep import remove_orphan_files
from tests.runtime.upkeep_tables import (
    DAYS,
    IDENTIFIER,
    KEY,
    build,
    data_files,
    duckdb_rows,
    file_keys,
    load_batch,
    pyiceberg_rows,
    row,
)


def merged(rows: list[dict], batch) -> list[dict]:
    """`rows` once `batch` is merged into them: its rows replace those with their keys."""
    by_key = {r["id"]: r for r in rows} | {r["id"]: r for r in batch.to_pylist()}
    return sorted(by_key.values(), key=lambda r: r["id"])


def no_orphans(catalog: Catalog) -> None:
    """Nothing under the table's folder that no snapshot references: what a failed attempt
    wrote was deleted."""
    from datetime import UTC, datetime, timedelta

    table = catalog.load_table(IDENTIFIER)
    later = datetime.now(UTC) + timedelta(hours=1)
    found = remove_orphan_files(table, later, dry_run=True)
    assert found.files == 0, found.locations


def test_compaction_rewrites_each_partition_s_small_files_sorted_in_one_replace_snapshot(
    catalog: Catalog,
) -> None:
    table = build(catalog, loads=6)
    before_rows, before_duck = pyiceberg_rows(table), duckdb_rows(table)
    before_files = data_files(table)
    head = table.current_snapshot().snapshot_id
    assert len(before_files) >= 6 * DAYS
    null_lists = "SELECT count(*) FROM {table} WHERE lines IS NULL"
    from tests.duckdb_reader import query_iceberg

    [(nulls,)] = query_iceberg(table.metadata_location, null_lists)
    assert nulls > 0

    result = compact_table(table, KEY)

    table = catalog.load_table(IDENTIFIER)
    after_files = data_files(table)
    assert len(after_files) == DAYS  # one file per day: all of them were small
    assert (result.files_before, result.files_after) == (len(before_files), DAYS)
    assert result.files_rewritten == len(before_files) and result.files_written == DAYS
    assert result.partitions == DAYS and result.attempts == 1
    assert result.bytes_before == sum(f.file_size_in_bytes for f in before_files)
    assert result.bytes_after == sum(f.file_size_in_bytes for f in after_files)
    # One snapshot, a replace on top of the old head, with the same rows.
    snapshot = table.current_snapshot()
    assert snapshot.snapshot_id == result.snapshot_id
    assert snapshot.parent_snapshot_id == head
    assert snapshot.summary.operation == Operation.REPLACE
    assert snapshot.summary["total-records"] == str(len(before_rows))
    assert pyiceberg_rows(table) == before_rows
    assert duckdb_rows(table) == before_duck
    assert query_iceberg(table.metadata_location, null_lists) == [(nulls,)]
    # Each new file holds its rows sorted on the key.
    for file in after_files:
        keys = file_keys(file.file_path)
        assert keys == sorted(keys)
    assert table.schema() == catalog.load_table(IDENTIFIER).schema()
    # Time travel to before the compaction reads the same rows from the old files.
    assert pyiceberg_rows(table, snapshot_id=head) == before_rows

    # Nothing is small and alone: a second compaction has nothing to do.
    again = compact_table(table, KEY)
    assert again.files_rewritten == 0 and again.snapshot_id is None
    assert catalog.load_table(IDENTIFIER).current_snapshot().snapshot_id == snapshot.snapshot_id


def test_a_dry_run_plans_what_compaction_does_and_changes_nothing(catalog: Catalog) -> None:
    table = build(catalog, loads=4)
    location = table.metadata_location

    planned = compact_table(table, KEY, dry_run=True)

    assert catalog.load_table(IDENTIFIER).metadata_location == location
    assert planned.dry_run and planned.snapshot_id is None
    done = compact_table(table, KEY)
    assert (planned.files_before, planned.files_after, planned.partitions) == (
        done.files_before,
        done.files_after,
        done.partitions,
    )
    assert (planned.files_rewritten, planned.files_written) == (
        done.files_rewritten,
        done.files_written,
    )


def test_compacted_files_of_a_target_size_hold_consecutive_keys_so_merges_prune(
    catalog: Catalog,
) -> None:
    table = build(catalog, loads=8)
    before = pyiceberg_rows(table)
    day_bytes = sum(f.file_size_in_bytes for f in data_files(table)) // DAYS
    target = day_bytes // 3  # each day's small files hold about three targets

    result = compact_table(table, KEY, target_size=target)

    table = catalog.load_table(IDENTIFIER)
    files = data_files(table)
    assert result.files_written == len(files) and DAYS * 2 <= len(files) <= DAYS * 4
    assert pyiceberg_rows(table) == before
    for day in range(DAYS):
        ranges = sorted(
            (keys[0], keys[-1])
            for file in files
            if (keys := file_keys(file.file_path))[0].startswith(f"d{day}-")
        )
        # Consecutive, non-overlapping key ranges: each key lies in one file's bounds.
        assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False)), ranges
    # So a merge of one key reads the key columns of one file only.
    outcome = merge_batch(table, load_batch(0).slice(3, 1), KEY)
    assert outcome.files_scanned == 1 and outcome.rows_updated + outcome.rows_unchanged == 1


def test_compacted_files_hold_at_most_about_the_row_cap_and_are_not_compacted_again(
    catalog: Catalog,
) -> None:
    """Well-compressed rows reach the row cap long before the target size (128 MB here): a
    merge rewrites whole files, so a file's rows are what a merge updating one of them pays."""
    table = build(catalog, loads=8)
    before = pyiceberg_rows(table)
    day_rows = len(before) // DAYS
    cap = day_rows // 3

    result = compact_table(table, KEY, max_file_rows=cap)

    table = catalog.load_table(IDENTIFIER)
    files = data_files(table)
    assert result.max_file_rows == cap and result.files_written == len(files) == DAYS * 3
    assert all(cap <= file.record_count < 2 * cap for file in files)
    assert pyiceberg_rows(table) == before
    again = compact_table(table, KEY, max_file_rows=cap)
    assert (again.files_rewritten, again.snapshot_id) == (0, None)
    with pytest.raises(ValueError, match="max_file_rows must be at least 1, got 0"):
        compact_table(table, KEY, max_file_rows=0)


def test_files_of_an_earlier_partition_spec_are_rewritten_under_the_current_one(
    catalog: Catalog,
) -> None:
    schema = Schema(
        NestedField(1, "id", StringType(), required=True),
        NestedField(2, "group", StringType(), required=True),
        NestedField(3, "value", LongType(), required=False),
    )
    contract = TableContract(IDENTIFIER, schema, unique_key=KEY)  # unpartitioned first
    table = prepare_table(catalog, contract).table

    def batch(load: int):
        import pyarrow as pa

        return pa.Table.from_pylist(
            [{"id": f"k{load}-{n}", "group": f"g{n % 2}", "value": n} for n in range(30)],
            schema=schema.as_arrow(),
        )

    for load in range(3):
        merge_batch(table, batch(load), KEY)
    spec = PartitionSpec(
        PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="group")
    )
    table = prepare_table(
        catalog, TableContract(IDENTIFIER, schema, spec, unique_key=KEY, last_partition_id=1000)
    ).table
    for load in range(3, 5):
        merge_batch(table, batch(load), KEY)
    before = pyiceberg_rows(table)
    old_spec = {f.spec_id for f in data_files(table)} - {table.spec().spec_id}
    assert old_spec  # files of both specs

    compact_table(table, KEY)

    table = catalog.load_table(IDENTIFIER)
    files = data_files(table)
    assert {f.spec_id for f in files} == {table.spec().spec_id}
    # The old files became a file per group, beside the group's compacted current files...
    assert len(files) == 4
    assert pyiceberg_rows(table) == before
    # ...which the next compaction puts together.
    compact_table(table, KEY)
    assert len(data_files(catalog.load_table(IDENTIFIER))) == 2
    assert duckdb_rows(table) == sorted(tuple(r.values()) for r in before)


def test_a_table_without_its_key_column_is_refused_with_a_message(catalog: Catalog) -> None:
    table = build(catalog, loads=1)
    with pytest.raises(ValueError, match="raw.orders has no column missing of its unique key"):
        compact_table(table, ("missing",))


# --- Merges landing while a compaction runs -----------------------------------------------------


def a_merge_during_the_compaction_commit(monkeypatch, catalog, batch) -> list[int]:
    """Makes compaction's commit step run `batch`'s merge first (another writer, another table
    object), on its first call only; returns the merge's snapshot ids as they land."""
    commit = compaction.commit_files
    landed: list[int] = []

    def merge_first(*args, **kwargs):
        if not landed:
            landed.append(merge_batch(catalog.load_table(IDENTIFIER), batch, KEY).snapshot_id)
        return commit(*args, **kwargs)

    monkeypatch.setattr(compaction, "commit_files", merge_first)
    return landed


def test_a_merge_that_rewrote_files_being_compacted_makes_the_compaction_start_again(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    table = build(catalog, loads=5)
    # Updates of keys in every day's files, and new keys: it rewrites files the compaction is
    # rewriting.
    batch = load_batch(5)
    landed = a_merge_during_the_compaction_commit(monkeypatch, catalog, batch)
    expected_rows = merged(pyiceberg_rows(table), batch)

    with caplog.at_level(logging.WARNING):
        result = compact_table(table, KEY)

    assert result.attempts == 2
    assert "Compaction of raw.orders conflicted with a concurrent commit" in caplog.text
    table = catalog.load_table(IDENTIFIER)
    assert pyiceberg_rows(table) == expected_rows  # the merge's rows, none lost or undone
    head = table.current_snapshot()
    assert head.summary.operation == Operation.REPLACE
    assert head.parent_snapshot_id == landed[0]
    assert len(data_files(table)) == DAYS  # the merge's files compacted too
    no_orphans(catalog)  # the first attempt's files were deleted


def test_a_merge_into_other_files_is_kept_when_the_compaction_commits_on_top(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = build(catalog, loads=4)
    day = DAYS  # a new day: the merge adds a file the compaction never read
    import pyarrow as pa

    from tests.runtime.upkeep_tables import SCHEMA

    batch = pa.Table.from_pylist([row(day, n, 9) for n in range(20)], schema=SCHEMA.as_arrow())
    landed = a_merge_during_the_compaction_commit(monkeypatch, catalog, batch)
    before = pyiceberg_rows(table)

    result = compact_table(table, KEY)

    assert result.attempts == 1  # pyiceberg's retry validated the merge and committed on top
    table = catalog.load_table(IDENTIFIER)
    head = table.current_snapshot()
    assert head.summary.operation == Operation.REPLACE and head.parent_snapshot_id == landed[0]
    new_rows = sorted(batch.to_pylist(), key=lambda r: r["id"])
    assert pyiceberg_rows(table) == sorted(before + new_rows, key=lambda r: r["id"])
    assert len(data_files(table)) == DAYS + 1
    no_orphans(catalog)


def test_a_merge_planned_before_a_compaction_landed_is_redone_and_loses_nothing(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = build(catalog, loads=4)
    commit = merge.commit_files
    compacted: list[int | None] = []

    def compaction_first(*args, **kwargs):
        if not compacted:
            result = compact_table(catalog.load_table(IDENTIFIER), KEY)
            compacted.append(result.snapshot_id)
        return commit(*args, **kwargs)

    monkeypatch.setattr(merge, "commit_files", compaction_first)
    batch = load_batch(4)
    expected = merged(pyiceberg_rows(table), batch)

    outcome = merge_batch(table, batch, KEY)

    table = catalog.load_table(IDENTIFIER)
    assert compacted[0] is not None
    assert table.current_snapshot().snapshot_id == outcome.snapshot_id
    assert table.current_snapshot().parent_snapshot_id == compacted[0]
    assert pyiceberg_rows(table) == expected
    no_orphans(catalog)


def test_a_compaction_that_keeps_conflicting_is_refused_and_leaves_the_merges(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = build(catalog, loads=3)
    commit = compaction.commit_files
    expected = pyiceberg_rows(table)

    def always_a_merge_first(*args, **kwargs):
        nonlocal expected
        batch = load_batch(3 + len(table.metadata.snapshots))  # new keys each time
        merge_batch(catalog.load_table(IDENTIFIER), batch, KEY)
        expected = merged(expected, batch)
        return commit(*args, **kwargs)

    monkeypatch.setattr(compaction, "commit_files", always_a_merge_first)

    with pytest.raises(CompactionConflict, match="nothing was compacted, run it again later"):
        compact_table(table, KEY)

    table = catalog.load_table(IDENTIFIER)
    operations = {s.summary.operation for s in table.metadata.snapshots}
    assert Operation.REPLACE not in operations
    assert len(table.metadata.snapshots) == 3 + compaction.MAX_ATTEMPTS  # a merge each time
    assert pyiceberg_rows(table) == expected
    no_orphans(catalog)
