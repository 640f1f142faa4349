"""The example ingestion end to end: generated asset -> real dlt -> real Iceberg catalog,
read back with pyiceberg and with DuckDB's iceberg extension."""

from __future__ import annotations

import functools
from datetime import date

import dagster as dg
import pyarrow.compute as pc
import pytest

from cascade.runtime import IcebergResource
from examples.fixtures.nightscout_server import NightscoutFixtureServer, entries_for_day
from generated.assets.nightscout.glucose_entries import dlt_glucose_entries
from generated.schemas.nightscout import glucose_entries as table_module
from tests.duckdb_reader import query_iceberg
from tests.helpers import field_ids, metadata_of
from tests.helpers import materialize as run_asset

READINGS_PER_DAY = 288


materialize = functools.partial(run_asset, dlt_glucose_entries)


@pytest.mark.usefixtures("catalog_env")
def test_load_rerun_and_next_partition(nightscout: NightscoutFixtureServer):
    first = materialize("2024-01-01")
    assert first.success
    meta = metadata_of(first)
    assert meta["rows_inserted"] == READINGS_PER_DAY
    [check] = first.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == ("pandera_validation", True)
    assert check.metadata["rows"].value == READINGS_PER_DAY
    assert meta["rows_updated"] == 0
    for key in (
        "branch",
        "partition_date",
        "rows_inserted",
        "rows_deleted",
        "unique_key",
        "table_name",
        "dlt_elapsed_seconds",
        "total_elapsed_seconds",
        "rows_updated",
        "rows_unchanged",
        "snapshot_id",
    ):
        assert key in meta, key
    assert meta["branch"] == "main"
    assert meta["partition_date"] == "2024-01-01"
    assert meta["table_name"] == "raw.glucose_entries"

    catalog = IcebergResource().load_catalog()
    table = catalog.load_table("raw.glucose_entries")
    # The ids the generated module promises are the ids the live table has.
    assert field_ids(table.schema()) == field_ids(table_module.SCHEMA)
    assert table.spec() == table_module.PARTITION_SPEC
    assert table.scan().count() == READINGS_PER_DAY

    rerun = materialize("2024-01-01")
    assert rerun.success
    # The fixture server sends the same readings again: every row is unchanged.
    counts = ("rows_inserted", "rows_updated", "rows_unchanged", "rows_deleted")
    assert [metadata_of(rerun)[key] for key in counts] == [0, 0, READINGS_PER_DAY, 0]
    assert metadata_of(rerun)["files_rewritten"] >= 1
    table = catalog.load_table("raw.glucose_entries")
    assert table.scan().count() == READINGS_PER_DAY

    second_day = materialize("2024-01-02")
    assert second_day.success
    assert metadata_of(second_day)["rows_inserted"] == READINGS_PER_DAY
    # A new day's keys fall in no existing file's key range: nothing is rewritten.
    assert metadata_of(second_day)["files_rewritten"] == 0
    table = catalog.load_table("raw.glucose_entries")
    rows = table.scan().to_arrow()
    assert rows.num_rows == 2 * READINGS_PER_DAY
    assert pc.count_distinct(rows["_id"]).as_py() == 2 * READINGS_PER_DAY

    # What the fixture served is what landed, read by an independent Iceberg reader.
    served = sorted(
        (entry["_id"], entry["sgv"], entry["direction"])
        for day in ("2024-01-01", "2024-01-02")
        for entry in entries_for_day(date.fromisoformat(day))
    )
    assert (
        query_iceberg(table.metadata_location, "SELECT _id, sgv, direction FROM {table}") == served
    )
    day_counts = query_iceberg(
        table.metadata_location,
        "SELECT CAST(date_string AS DATE)::VARCHAR AS day, count(*) FROM {table} GROUP BY day",
    )
    assert day_counts == [("2024-01-01", READINGS_PER_DAY), ("2024-01-02", READINGS_PER_DAY)]


@pytest.mark.usefixtures("catalog_env")
def test_a_row_breaking_a_pandera_check_fails_the_run_and_writes_nothing(
    nightscout: NightscoutFixtureServer,
):
    assert materialize("2024-01-04").success
    catalog = IcebergResource().load_catalog()
    before = catalog.load_table("raw.glucose_entries")

    nightscout.overrides = {"2024-01-05": {"sgv": 5000}}
    result = materialize("2024-01-05")
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = str(failure.step_failure_data.error)
    assert "sgv" in message
    assert "less_than_or_equal_to(1000)" in message
    assert "5000" in message

    # The Pandera result is the asset's check, with the failure sample in its metadata.
    [evaluation] = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    assert evaluation.check_name == "pandera_validation"
    assert evaluation.passed is False
    assert "less_than_or_equal_to(1000)" in evaluation.metadata["failures"].value
    assert "5000" in evaluation.metadata["failures"].value

    after = catalog.load_table("raw.glucose_entries")
    assert after.metadata_location == before.metadata_location
    assert after.current_snapshot().snapshot_id == before.current_snapshot().snapshot_id
    assert after.scan().count() == READINGS_PER_DAY
