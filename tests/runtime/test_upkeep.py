"""Snapshot expiry and orphan-file removal on real tables: expiry keeps branch heads, tags and
what each branch was at when the retention began, and time travel to them still works; orphan
removal deletes exactly the unreferenced files older than its window, and the table stays
fully readable by pyiceberg and DuckDB."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from cascade.runtime import merge_batch
from cascade.runtime.compaction import compact_table
from cascade.runtime.upkeep import (
    OrphanListingError,
    expire_snapshots,
    referenced_files,
    remove_orphan_files,
    snapshots_to_expire,
)
from tests.runtime.upkeep_tables import (
    IDENTIFIER,
    KEY,
    build,
    data_files,
    duckdb_rows,
    files_under,
    load_batch,
    local_path,
    pyiceberg_rows,
)

LATER = timedelta(hours=1)


def after(table: Table) -> datetime:
    """A moment after every snapshot of the table (so each one is older)."""
    time.sleep(0.002)  # snapshot times are milliseconds
    return datetime.now(UTC)


def snapshot_time(table: Table, snapshot_id: int) -> datetime:
    return datetime.fromtimestamp(table.snapshot_by_id(snapshot_id).timestamp_ms / 1000, UTC)


def age(path, hours: float) -> None:
    """Sets the file's modification time `hours` back."""
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))


@pytest.fixture
def table(catalog: Catalog) -> Table:
    """Six loads on main, a tag on the second, a branch `dev` from the fourth with a load of
    its own."""
    table = build(catalog, loads=4)
    history = [s.snapshot_id for s in table.snapshots()]
    table.manage_snapshots().create_tag(history[1], "audited").create_branch(
        history[3], "dev"
    ).commit()
    merge_batch(table, load_batch(10), KEY, branch="dev")
    for load in (4, 5):
        merge_batch(table, load_batch(load), KEY)
    return table


def test_expiry_keeps_branch_heads_tags_and_what_each_branch_was_at_the_cutoff(
    catalog: Catalog, table: Table
) -> None:
    main = [s.snapshot_id for s in table.snapshots() if s.snapshot_id in ancestors(table)]
    tag, dev = table.metadata.refs["audited"].snapshot_id, table.metadata.refs["dev"].snapshot_id
    rows = {sid: pyiceberg_rows(table, sid) for sid in (tag, dev, *main[-3:])}
    # The cutoff between main's fourth and fifth snapshots: the fourth was main's head then.
    cutoff = snapshot_time(table, main[4]) - timedelta(milliseconds=1)
    assert snapshot_time(table, main[3]) < cutoff

    planned = expire_snapshots(table, cutoff, dry_run=True)
    assert catalog.load_table(IDENTIFIER).metadata.snapshots == table.metadata.snapshots
    result = expire_snapshots(table, cutoff)

    # main's first snapshots go, but the tagged one and the fourth (main's head at the cutoff,
    # which dev also starts from); dev's head stays (it is younger anyway).
    assert set(result.expired) == {main[0], main[2]} == set(planned.expired)
    kept = {s.snapshot_id for s in catalog.load_table(IDENTIFIER).metadata.snapshots}
    assert kept == {tag, main[3], main[4], main[5], dev}
    assert result.kept == len(kept)
    table = catalog.load_table(IDENTIFIER)
    for snapshot_id, expected in rows.items():  # time travel to what was kept
        assert pyiceberg_rows(table, snapshot_id) == expected
    assert set(table.metadata.refs) == {"main", "dev", "audited"}

    # With everything older, only the heads and the tag stay.
    expire_snapshots(table, after(table))
    kept = {s.snapshot_id for s in catalog.load_table(IDENTIFIER).metadata.snapshots}
    assert kept == {tag, main[-1], dev}


def ancestors(table: Table) -> set[int]:
    from pyiceberg.table.snapshots import ancestors_of

    return {s.snapshot_id for s in ancestors_of(table.current_snapshot(), table.metadata)}


@pytest.mark.parametrize("guarded", [True, False], ids=["cascade", "pyiceberg alone"])
def test_expiry_guards_a_branch_moved_meanwhile(
    catalog: Catalog, table: Table, guarded: bool, caplog: pytest.LogCaptureFixture
) -> None:
    stale = catalog.load_table(IDENTIFIER)
    first = table.snapshots()[0].snapshot_id
    assert first in snapshots_to_expire(stale.metadata, after(stale))
    # Another writer moves dev back onto the first snapshot after `stale` was read: removing
    # that snapshot would delete the branch with it.
    catalog.load_table(IDENTIFIER).manage_snapshots().remove_branch("dev").create_branch(
        first, "dev"
    ).commit()

    if not guarded:  # the control: pyiceberg's expiry, from what `stale` saw
        stale.maintenance.expire_snapshots().by_ids([first]).commit()
        assert "dev" not in catalog.load_table(IDENTIFIER).metadata.refs  # the branch is gone
        return
    with caplog.at_level(logging.WARNING):
        result = expire_snapshots(stale, after(stale))

    assert "Expiring snapshots of raw.orders conflicted with a concurrent commit" in caplog.text
    table = catalog.load_table(IDENTIFIER)
    assert first not in result.expired
    assert table.metadata.refs["dev"].snapshot_id == first
    assert table.snapshot_by_id(first) is not None


def test_orphan_removal_deletes_unreferenced_old_files_and_keeps_every_referenced_one(
    catalog: Catalog, table: Table
) -> None:
    compact_table(table, KEY)
    expire_snapshots(table, after(table))
    table = catalog.load_table(IDENTIFIER)
    rows, duck = pyiceberg_rows(table), duckdb_rows(table)
    tag_rows = pyiceberg_rows(table, table.metadata.refs["audited"].snapshot_id)
    referenced = referenced_files(table)
    data = local_path(table.location()) / "data"
    old, new = data / "planted-old.parquet", data / "day=2024-01-01" / "planted-new.parquet"
    old.write_bytes(b"not referenced")
    new.write_bytes(b"a load's file, not committed yet")
    for path in files_under(table):
        age(path, 48)
    age(new, 0)
    unreferenced = {p for p in files_under(table) if str(p) not in referenced}
    assert old in unreferenced and new in unreferenced
    # Files of the expired snapshots, the compacted ones among them, are orphans now.
    assert len(unreferenced) > 10

    planned = remove_orphan_files(table, datetime.now(UTC) - timedelta(days=1), dry_run=True)
    assert files_under(table) >= unreferenced
    result = remove_orphan_files(table, datetime.now(UTC) - timedelta(days=1))

    assert planned.files == result.files == len(unreferenced) - 1
    assert result.newer == 1 and result.failed == 0
    assert result.bytes == planned.bytes > 0
    left = files_under(table)
    assert left == {p for p in left if str(p) in referenced} | {new}
    assert {str(p) for p in left} >= referenced - {
        str(local_path(table.location()) / "metadata" / "version-hint.text")
    }
    table = catalog.load_table(IDENTIFIER)
    assert pyiceberg_rows(table) == rows
    assert duckdb_rows(table) == duck
    assert pyiceberg_rows(table, table.metadata.refs["audited"].snapshot_id) == tag_rows
    assert data_files(table, table.metadata.refs["dev"].snapshot_id)


def test_orphan_removal_refuses_when_a_referenced_file_is_missing(
    catalog: Catalog, table: Table
) -> None:
    (local_path(table.location()) / "data" / "stray.parquet").write_bytes(b"x")
    missing = data_files(table)[0]
    local_path(missing.file_path).unlink()
    before = files_under(table)

    with pytest.raises(OrphanListingError, match="lacks 1 file"):
        remove_orphan_files(table, datetime.now(UTC) + LATER)

    assert files_under(table) == before
