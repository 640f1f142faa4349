"""`cascade maintain [TABLE]` on the example project, reading the catalog the deployment
configured (catalog_env), after real loads: what it prints, that a dry run changes nothing,
that the table reads the same rows afterwards (pyiceberg and DuckDB), and that mistakes end
with a message and an exit code, never a traceback."""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import pyarrow as pa
from click.testing import CliRunner
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from cascade.compiler.cli import main
from cascade.runtime import merge_batch
from examples.fixtures.nightscout_server import NightscoutFixtureServer
from generated.assets.nightscout.glucose_entries import dlt_glucose_entries
from tests.duckdb_reader import query_iceberg
from tests.helpers import REPO_ROOT
from tests.helpers import materialize as run_asset

materialize = functools.partial(run_asset, dlt_glucose_entries)
TABLE = "raw.glucose_entries"
NOT_LOADED = ("raw.github_events", "raw.github_repo_stats")


def maintain(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["maintain", *args, "--project", str(REPO_ROOT)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def loaded_in_pieces(catalog: Catalog) -> Table:
    """Two days loaded, then four small loads of new rows into the first day (copies of its
    rows under new keys), as a day loaded again as it grows would: 2 + 4 data files."""
    assert materialize("2024-01-01").success
    assert materialize("2024-01-02").success
    table = catalog.load_table(TABLE)
    day = table.scan(row_filter="date_string < '2024-01-02T00:00:00+00:00'").to_arrow()
    for piece in range(4):
        rows = day.slice(piece * 10, 10)
        keys = pa.array([f"{key}-{piece}" for key in rows["_id"].to_pylist()], rows["_id"].type)
        at = rows.schema.get_field_index("_id")
        merge_batch(table, rows.set_column(at, rows.schema.field(at), keys), ["_id"])
    return catalog.load_table(TABLE)


def files_under(table: Table) -> dict[Path, float]:
    root = Path(table.location().removeprefix("file://"))
    return {
        Path(folder, name): Path(folder, name).stat().st_mtime
        for folder, _, names in os.walk(root)
        for name in names
    }


def rows(table: Table) -> list[tuple]:
    return query_iceberg(table.metadata_location, "SELECT * FROM {table}")


def test_a_dry_run_prints_what_maintain_would_do_and_changes_nothing(
    catalog: Catalog, nightscout: NightscoutFixtureServer
) -> None:
    table = loaded_in_pieces(catalog)
    files = files_under(table)

    code, output = maintain("--dry-run", "--retention-days", "0")

    assert code == 0, output
    lines = output.splitlines()
    for name in NOT_LOADED:
        assert f"{name}: not created yet; nothing to do" in lines
    at = lines.index(f"{TABLE}:")
    assert lines[at + 1].startswith("  compaction: would rewrite 5 small files of 1 partition ("), (
        lines
    )
    assert lines[at + 1].endswith(" as 1; data files 6 -> 2")
    assert lines[at + 2] == "  snapshots: 5 would expire (older than 0 hours), 1 kept"
    assert lines[at + 3].startswith("  orphan files: 0 would be removed (0 B, older than 1 day), ")
    assert lines[-1] == "cascade maintain: dry run, nothing was changed"
    assert catalog.load_table(TABLE).metadata_location == table.metadata_location
    assert files_under(table) == files


def test_maintain_compacts_then_expires_and_removes_orphans_and_the_rows_stay(
    catalog: Catalog, nightscout: NightscoutFixtureServer
) -> None:
    table = loaded_in_pieces(catalog)
    before = rows(table)
    assert len(before) == 2 * 288 + 40

    code, output = maintain(TABLE, "--retention-days", "0")

    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == f"{TABLE}:"
    assert lines[1].startswith("  compaction: rewrote 5 small files of 1 partition (")
    assert " as 1 (" in lines[1] and "; data files 6 -> 2, " in lines[1]
    # Compaction's replace is the head; every snapshot before it is older than 0 hours.
    assert lines[2] == "  snapshots: 6 expired (older than 0 hours), 1 kept"
    # What they held is unreferenced now, but newer than a day: kept.
    assert lines[3].startswith("  orphan files: 0 removed (0 B, older than 1 day), ")
    newer = int(lines[3].split("), ")[1].split(" newer kept")[0])
    assert newer > 5
    assert lines[-1] == "cascade maintain: 1 table(s) maintained"
    table = catalog.load_table(TABLE)
    assert rows(table) == before
    assert len(table.snapshots()) == 1

    # Two days later, the same files are past the window.
    for path in files_under(table):
        past = time.time() - 48 * 3600
        os.utime(path, (past, past))
    code, output = maintain(TABLE)

    assert code == 0, output
    lines = output.splitlines()
    assert lines[1].startswith("  compaction: nothing to do (2 data files, ")
    assert lines[1].endswith("; no partition has two under 96.0 MB and 375,000 rows)")
    assert lines[2] == "  snapshots: 0 expired (older than 7 days), 1 kept"
    assert lines[3].startswith(f"  orphan files: {newer} removed (")
    assert lines[3].endswith(", older than 1 day), 0 newer kept")
    table = catalog.load_table(TABLE)
    assert rows(table) == before
    assert table.scan().count() == len(before)


def test_user_mistakes_end_with_a_message_and_an_exit_code(catalog: Catalog) -> None:
    for args, code, message in [
        (
            ["glucose_entries"],
            1,
            "name a table as namespace.table, not 'glucose_entries'; did "
            "you mean raw.glucose_entries?",
        ),  # fmt: skip
        (
            ["raw.nope"],
            1,
            "raw.nope is not a table of this project (its tables: "
            "raw.github_events, raw.github_repo_stats, raw.glucose_entries)",
        ),  # fmt: skip
        (["--retention-days", "-1"], 2, "Invalid value for '--retention-days'"),
        (["--orphan-age-hours", "0.5"], 2, "0.5 is not in the range 1<=x<=876000"),
        # The highest values are cascade gen's for maintenance= (a datetime can count back).
        (["--retention-days", "36501"], 2, "36501.0 is not in the range 0<=x<=36500"),
        (["--orphan-age-hours", "1e9"], 2, "is not in the range 1<=x<=876000"),
        (["--target-file-size-mb", "1e9"], 2, "is not in the range 0<x<=1048576"),
        (["--retention-days", "inf"], 2, "inf is not in the range 0<=x<=36500"),
        (["--retention-days", "nan"], 2, "Invalid value for '--retention-days': 'nan' is not"),
        (["--target-file-size-mb", "nan"], 2, "'nan' is not a number"),
        (["--target-file-size-mb", "0"], 2, "Invalid value for '--target-file-size-mb'"),
        (["--max-file-rows", "0"], 2, "0 is not in the range 1<=x<=1000000000"),
        (["--max-file-rows", "1000000001"], 2, "Invalid value for '--max-file-rows'"),
        (["--max-file-rows", "1.5"], 2, "'1.5' is not a valid integer"),
    ]:
        exit_code, output = maintain(*args)
        assert exit_code == code, output
        assert message in output, output
    assert catalog.list_namespaces() == []  # refused before the catalog was touched

    exit_code, output = maintain(TABLE)
    assert (exit_code, output.splitlines()[0]) == (0, f"{TABLE}: not created yet; nothing to do")


def test_a_table_whose_upkeep_fails_exits_2_with_the_reason(
    catalog: Catalog, nightscout: NightscoutFixtureServer
) -> None:
    table = loaded_in_pieces(catalog)
    [task, *_] = [t for t in table.scan().plan_files() if t.file.record_count == 10]
    Path(task.file.file_path.removeprefix("file://")).unlink()  # a file the table needs

    code, output = maintain(TABLE)

    assert code == 2
    lines = output.splitlines()
    assert lines[1].startswith("  compaction failed: FileNotFoundError: ")
    assert lines[-1] == (
        f"cascade maintain: upkeep of {TABLE} did not complete (see above); what failed changed "
        "nothing, run it again"
    )
    assert catalog.load_table(TABLE).metadata_location == table.metadata_location
