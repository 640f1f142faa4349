"""The example ingestion end to end against a server catalog: a pyiceberg SqlCatalog on
PostgreSQL, configured only through pyiceberg's standard environment variables, with the
generated code unchanged. Also two processes loading different partitions at the same time."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow.compute as pc
import pytest
import sqlalchemy

from cascade.runtime import IcebergResource
from examples.fixtures.nightscout_server import NightscoutFixtureServer, entries_for_day
from generated.assets.nightscout.glucose_entries import dlt_glucose_entries
from tests.duckdb_reader import query_iceberg
from tests.helpers import REPO_ROOT, metadata_of
from tests.helpers import materialize as run_asset

# Slow: a PostgreSQL server, and loads in processes.
pytestmark = pytest.mark.slow

pytest_plugins = ["tests.e2e.postgres"]

READINGS_PER_DAY = 288


materialize = functools.partial(run_asset, dlt_glucose_entries)


def catalog_rows(uri: str) -> list[tuple]:
    """The tables pyiceberg's SqlCatalog registered, read from PostgreSQL directly."""
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as connection:
            return connection.execute(
                sqlalchemy.text(
                    "SELECT catalog_name, table_namespace, table_name, metadata_location"
                    " FROM iceberg_tables"
                )
            ).all()
    finally:
        engine.dispose()


def served(days: list[str]) -> list[tuple]:
    return sorted(
        (entry["_id"], entry["sgv"], entry["direction"])
        for day in days
        for entry in entries_for_day(date.fromisoformat(day))
    )


def day_counts(metadata_location: str) -> list[tuple]:
    return query_iceberg(
        metadata_location,
        "SELECT CAST(date_string AS DATE)::VARCHAR AS day, count(*) FROM {table} GROUP BY day",
    )


def test_load_rerun_and_next_partition(
    postgres_catalog_env: dict[str, str], nightscout: NightscoutFixtureServer
):
    uri = postgres_catalog_env["PYICEBERG_CATALOG__CASCADE__URI"]
    warehouse = postgres_catalog_env["PYICEBERG_CATALOG__CASCADE__WAREHOUSE"]
    assert uri.startswith("postgresql+psycopg2://")

    first = materialize("2024-01-01")
    assert first.success
    assert metadata_of(first)["rows_inserted"] == READINGS_PER_DAY
    assert metadata_of(first)["table_name"] == "raw.glucose_entries"

    # The table is registered in PostgreSQL, and its files are in the configured warehouse
    # (not in the embedded default's .cascade folder).
    catalog = IcebergResource().load_catalog()
    table = catalog.load_table("raw.glucose_entries")
    [(catalog_name, namespace, name, location)] = catalog_rows(uri)
    assert (catalog_name, namespace, name) == ("cascade", "raw", "glucose_entries")
    assert location == table.metadata_location
    assert location.startswith(warehouse + "/")
    assert table.scan().count() == READINGS_PER_DAY

    rerun = materialize("2024-01-01")
    assert rerun.success
    assert metadata_of(rerun)["rows_unchanged"] == READINGS_PER_DAY
    assert metadata_of(rerun)["rows_updated"] == metadata_of(rerun)["rows_inserted"] == 0
    assert catalog.load_table("raw.glucose_entries").scan().count() == READINGS_PER_DAY

    second_day = materialize("2024-01-02")
    assert second_day.success
    assert metadata_of(second_day)["rows_inserted"] == READINGS_PER_DAY
    table = catalog.load_table("raw.glucose_entries")
    rows = table.scan().to_arrow()
    assert rows.num_rows == 2 * READINGS_PER_DAY
    assert pc.count_distinct(rows["_id"]).as_py() == 2 * READINGS_PER_DAY
    # Every commit moved the pointer PostgreSQL holds.
    [(_, _, _, latest)] = catalog_rows(uri)
    assert latest == table.metadata_location != location

    # What the fixture served is what landed, read by an independent Iceberg reader.
    days = ["2024-01-01", "2024-01-02"]
    assert query_iceberg(latest, "SELECT _id, sgv, direction FROM {table}") == served(days)
    assert day_counts(latest) == [(day, READINGS_PER_DAY) for day in days]


# Runs one materialization in a process of its own. Its first catalog commit waits (up to a
# minute) until the other process has reached its own, so both commits start from the same
# table version: the interleaving a backfill meets in production, made certain instead of
# left to timing. Only the first commit waits, so a retried commit goes straight through.
CHILD = """
import json, sys, time
from pathlib import Path

import dagster as dg
from pyiceberg.catalog.sql import SqlCatalog

from cascade.runtime import IcebergResource
from generated.assets.nightscout.glucose_entries import dlt_glucose_entries

partition, barrier = sys.argv[1], Path(sys.argv[2])
commit_table = SqlCatalog.commit_table


def commit_when_both_are_ready(self, *args, **kwargs):
    SqlCatalog.commit_table = commit_table
    (barrier / partition).touch()
    deadline = time.monotonic() + 60
    while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    return commit_table(self, *args, **kwargs)


SqlCatalog.commit_table = commit_when_both_are_ready
result = dg.materialize(
    [dlt_glucose_entries],
    partition_key=partition,
    resources={"iceberg": IcebergResource()},
    raise_on_error=False,
)
failed = (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_UP_FOR_RETRY)
errors = [
    f"{event.event_type_value}: {event.event_specific_data.error}"
    for event in result.all_events
    if event.event_type in failed
]
metadata = {
    key: value.value
    for event in result.get_asset_materialization_events()
    for key, value in event.materialization.metadata.items()
    if key.startswith("rows_")
}
print(json.dumps({"success": result.success, "errors": errors, "metadata": metadata}))
"""


def test_two_processes_load_different_partitions_at_the_same_time(
    postgres_catalog_env: dict[str, str], nightscout: NightscoutFixtureServer, tmp_path: Path
):
    # The table exists, as it does during a backfill: the race is between the two merges.
    assert materialize("2024-01-03").success
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    days = ["2024-01-01", "2024-01-02"]
    # The catalog and the fixture server reach the children through the environment.
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, day, str(barrier)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for day in days
    ]
    outcomes = {}
    for day, child in zip(days, children, strict=True):
        stdout, stderr = child.communicate(timeout=300)
        assert child.returncode == 0, stderr[-4000:]
        outcomes[day] = json.loads(stdout.strip().splitlines()[-1])
    assert sorted(barrier.iterdir()) == [barrier / day for day in days]  # both met there
    # No errors at all, not even retried ones: a commit conflict must be resolved within the
    # load, not by the asset's retry policy rerunning it from scratch 30 seconds later.
    assert all(outcome["success"] and not outcome["errors"] for outcome in outcomes.values()), (
        outcomes
    )
    for outcome in outcomes.values():
        assert outcome["metadata"]["rows_inserted"] == READINGS_PER_DAY
        assert outcome["metadata"]["rows_updated"] == 0

    table = IcebergResource().load_catalog().load_table("raw.glucose_entries")
    assert table.scan().count() == 3 * READINGS_PER_DAY
    all_days = ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert day_counts(table.metadata_location) == [(day, READINGS_PER_DAY) for day in all_days]
