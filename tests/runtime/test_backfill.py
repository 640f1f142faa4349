"""Single-run backfills of the generated Nightscout asset (`BackfillPolicy.single_run()`): a
range of partitions is one run, the function is called for each partition, and the rows are
merged in one commit; read back by pyiceberg and DuckDB."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from cascade.runtime import IcebergResource
from cascade.runtime.limits import Deadline, LoadTimeout
from examples.fixtures.nightscout_server import NightscoutFixtureServer, entries_for_day
from generated.assets.nightscout.glucose_entries import dlt_glucose_entries
from tests.duckdb_reader import query_iceberg
from tests.helpers import failure_message

GLUCOSE = "raw.glucose_entries"
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
pytestmark = pytest.mark.usefixtures("catalog")


def backfill(first: str, last: str) -> dg.ExecuteInProcessResult:
    """One run of the range, as Dagster launches a single-run backfill (the UI's, or
    `dagster asset materialize --partition-range first...last`)."""
    return dg.materialize(
        [dlt_glucose_entries],
        resources={"iceberg": IcebergResource()},
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
        raise_on_error=False,
    )


def test_a_range_is_one_run_one_call_per_partition_and_one_commit(
    nightscout: NightscoutFixtureServer,
) -> None:
    assert dlt_glucose_entries.backfill_policy == dg.BackfillPolicy.single_run()
    result = backfill(DAYS[0], DAYS[-1])

    assert result.success, failure_message(result)
    assert nightscout.request_count == len(DAYS)  # the function was called for each day
    table = IcebergResource().load_catalog().load_table(GLUCOSE)
    assert len(table.snapshots()) == 1  # one commit for the range
    per_day = query_iceberg(
        table.metadata_location,
        "SELECT CAST(date_string AS DATE)::VARCHAR, count(*) FROM {table} GROUP BY 1",
    )
    assert per_day == [(day, 288) for day in DAYS]
    served = sorted(e["_id"] for day in DAYS for e in entries_for_day(date.fromisoformat(day)))
    assert sorted(table.scan(selected_fields=("_id",)).to_arrow()["_id"].to_pylist()) == served

    # Dagster records the range's partitions as materialized, each with the run's counts.
    events = result.get_asset_materialization_events()
    assert sorted(e.partition for e in events) == DAYS
    metadata = events[0].materialization.metadata
    assert metadata["partition_range"].value == f"{DAYS[0]}...{DAYS[-1]}"
    assert metadata["partitions"].value == len(DAYS)
    assert metadata["rows_inserted"].value == 288 * len(DAYS)
    assert "partition_date" not in metadata
    counts = [record.data for record in metadata["partition_counts"].value.records]
    assert counts == [
        {
            "partition": day,
            "rows_delivered": 288,
            "rows_deduplicated": 0,
            "rows_inserted": 288,
            "rows_updated": 0,
            "rows_unchanged": 0,
        }
        for day in DAYS
    ]


def test_counts_per_partition_follow_the_row_that_won(nightscout: NightscoutFixtureServer) -> None:
    # 2024-01-02 is loaded first; then a range redelivers it, with one reading of 2024-01-03
    # carrying the _id of a reading of 2024-01-02 (a later partition's row wins) and one
    # reading of 2024-01-02 changed.
    assert backfill(DAYS[1], DAYS[1]).success
    first_of_day_2 = entries_for_day(date.fromisoformat(DAYS[1]))[0]["_id"]
    nightscout.overrides = {DAYS[1]: {"sgv": 999}, DAYS[2]: {"_id": first_of_day_2}}

    result = backfill(DAYS[1], DAYS[2])

    assert result.success, failure_message(result)
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    counts = {r.data["partition"]: r.data for r in metadata["partition_counts"].value.records}
    # Day 2's changed reading is its first, whose key day 3 took over: so day 2 has one row
    # replaced in the batch and 287 identical ones; day 3's first row updates the stored one.
    assert counts[DAYS[1]] | {"partition": None} == {
        "partition": None,
        "rows_delivered": 288,
        "rows_deduplicated": 1,
        "rows_inserted": 0,
        "rows_updated": 0,
        "rows_unchanged": 287,
    }
    assert counts[DAYS[2]] | {"partition": None} == {
        "partition": None,
        "rows_delivered": 288,
        "rows_deduplicated": 0,
        "rows_inserted": 287,
        "rows_updated": 1,
        "rows_unchanged": 0,
    }
    assert metadata["rows_deduplicated"].value == 1
    table = IcebergResource().load_catalog().load_table(GLUCOSE)
    assert table.scan().count() == 288 + 287


def test_a_failed_partition_fails_the_run_and_nothing_is_written(
    nightscout: NightscoutFixtureServer,
) -> None:
    assert backfill(DAYS[0], DAYS[0]).success
    table = IcebergResource().load_catalog().load_table(GLUCOSE)
    before = table.metadata_location
    nightscout.overrides = {DAYS[3]: {"sgv": 5000}}  # out of the model's range on day 4

    result = backfill(DAYS[1], DAYS[4])

    assert not result.success
    assert "sgv" in failure_message(result) and "5000" in failure_message(result)
    table.refresh()
    assert table.metadata_location == before  # no commit, for any day of the range
    assert table.scan().count() == 288


def test_a_refusal_in_a_range_names_its_partition(nightscout: NightscoutFixtureServer) -> None:
    # Pandera: the partition whose rows fail; typed staging: the partition whose value does
    # not fit.
    nightscout.overrides = {DAYS[2]: {"sgv": 5000}}
    refused = backfill(DAYS[0], DAYS[3])
    assert not refused.success
    message = failure_message(refused)
    assert "sgv: less_than_or_equal_to(1000) failed for 1 row(s): 5000" in message
    assert f"The rows that fail are in the partition(s) {DAYS[2]}." in message

    nightscout.overrides = {DAYS[1]: {"sgv": "high"}}
    refused = backfill(DAYS[0], DAYS[3])
    assert not refused.success
    assert f"BatchError: Partition {DAYS[1]}: The records for {GLUCOSE} do not fit" in (
        failure_message(refused)
    )
    assert "'high'" in failure_message(refused)
    assert not IcebergResource().load_catalog().table_exists(GLUCOSE)  # nothing was written


def test_a_reversed_range_is_refused_at_once(nightscout: NightscoutFixtureServer) -> None:
    refused = backfill(DAYS[2], DAYS[0])

    assert not refused.success
    assert failure_message(refused).endswith(
        f"PartitionError: The run's partition range {DAYS[2]}...{DAYS[0]} holds no partition of "
        "dlt_glucose_entries: its first partition must not come after its last. Nothing was "
        "loaded."
    )
    retries = [
        e for e in refused.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    assert retries == [] and nightscout.request_count == 0


def test_a_range_has_the_time_limit_of_each_partition_and_says_so() -> None:
    deadline = Deadline(2, partitions=10)
    assert deadline.seconds == 20
    deadline.started -= 21  # as if the run had been going for 21 s
    with pytest.raises(LoadTimeout) as raised:
        deadline.check("the merge")
    assert raised.value.description == (
        "The load exceeded its time limit of 20 s (max_runtime_seconds=2 for each of its 10 "
        "partitions) during the load; nothing was written."
    )
