"""Each `partitions=` choice through Dagster itself: a case project (tests/cases/partitions_*)
compiled as `cascade gen` compiles it, its generated asset imported and materialized with
`dg.materialize` on a real catalog. The ingestion function writes what it received into the
rows, so pyiceberg's scan shows exactly the string the function was called with."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from pyiceberg.catalog import Catalog

from cascade.compiler import compile_project, load_config
from tests.duckdb_reader import query_iceberg
from tests.helpers import CASES, copy_case, materialize, metadata_of

PROJECT_PACKAGES = ("generated", "ingestion", "models")


@pytest.fixture(autouse=True)
def restore_project_modules() -> Iterator[None]:
    """The case projects import packages of their own named like the repo's (`generated`):
    the repo's are put back afterwards."""
    saved = {m: sys.modules[m] for m in list(sys.modules) if m.split(".")[0] in PROJECT_PACKAGES}
    yield
    for name in [m for m in sys.modules if m.split(".")[0] in PROJECT_PACKAGES]:
        del sys.modules[name]
    sys.modules.update(saved)


def generated_asset(case: str, table: str, tmp_path: Path) -> dg.AssetsDefinition:
    """The asset `dlt_<table>` that `cascade gen` generates for the case, imported as Dagster
    imports it (the project folder on sys.path only while the definitions load)."""
    root = copy_case(CASES / case, tmp_path / "project")
    compilation = compile_project(load_config(root), previous={})
    assert compilation.ok, [d.format_text() for d in compilation.diagnostics]
    for path, text in compilation.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    for name in [m for m in sys.modules if m.split(".")[0] in PROJECT_PACKAGES]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(f"generated.assets.sensors.{table}")
    finally:
        sys.path.remove(str(root))
    asset = getattr(module, f"dlt_{table}")
    assert isinstance(asset, dg.AssetsDefinition)
    return asset


def loading_line(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    """The run's log line that says what it loads."""
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    [line] = [message for message in messages if message.startswith("Loading ")]
    return line


def rows(catalog: Catalog, table: str) -> list[dict[str, object]]:
    """The table's rows as pyiceberg reads them, checked against DuckDB's reading."""
    loaded = catalog.load_table(f"raw.{table}")
    data = loaded.scan(selected_fields=("reading_id", "received")).to_arrow().to_pylist()
    found = sorted(data, key=lambda row: str(row["reading_id"]))
    by_duckdb = query_iceberg(loaded.metadata_location, "SELECT reading_id, received FROM {table}")
    assert by_duckdb == [(row["reading_id"], row["received"]) for row in found]
    return found


@pytest.mark.parametrize(
    ("case", "table", "partition", "received", "first_partition"),
    [
        # Dagster's key of the hour, and the hour's start in ISO 8601, UTC.
        (
            "partitions_hourly",
            "hourly_readings",
            "2024-01-01-05:00",
            "2024-01-01T05:00:00+00:00",
            "2024-01-01-00:00",
        ),
        ("partitions_daily_explicit", "daily_readings", "2024-01-02", "2024-01-02", "2024-01-01"),
        # partition_start 2024-01-03 is a Wednesday: the first week is the one holding it.
        ("partitions_weekly", "weekly_readings", "2024-01-07", "2024-01-07", "2023-12-31"),
        # partition_start 2024-01-15: the first month is January.
        ("partitions_monthly", "monthly_readings", "2024-02-01", "2024-02-01", "2024-01-01"),
    ],
)
def test_the_function_receives_its_partition_in_the_documented_form(
    catalog: Catalog,
    tmp_path: Path,
    case: str,
    table: str,
    partition: str,
    received: str,
    first_partition: str,
) -> None:
    asset = generated_asset(case, table, tmp_path)
    assert asset.partitions_def is not None
    assert asset.partitions_def.get_first_partition_key() == first_partition

    instance = dg.DagsterInstance.ephemeral()
    result = materialize(asset, partition, instance=instance)

    meta = metadata_of(result)
    assert loading_line(instance, result) == f"Loading raw.{table} for {received} on branch main"
    assert rows(catalog, table) == [{"reading_id": f"r-{received}", "received": received}]
    assert meta["partition"] == received
    # partition_date, as phlo's decorator reported it, where the function receives a day.
    assert meta.get("partition_date") == (None if case == "partitions_hourly" else received)
    [event] = result.get_asset_materialization_events()
    assert event.partition == partition  # Dagster's own key


def test_an_unpartitioned_asset_loads_the_whole_table_at_each_run(
    catalog: Catalog, tmp_path: Path
) -> None:
    asset = generated_asset("partitions_none", "sensor_snapshot", tmp_path)
    assert asset.partitions_def is None

    instance = dg.DagsterInstance.ephemeral()
    first = materialize(asset, None, instance=instance)
    again = materialize(asset, None)

    line = loading_line(instance, first)
    assert line == "Loading raw.sensor_snapshot for the whole table on branch main"
    expected = [{"reading_id": f"r-{n}", "received": "whole table"} for n in range(3)]
    assert rows(catalog, "sensor_snapshot") == expected
    meta = metadata_of(first)
    assert "partition" not in meta and "partition_date" not in meta
    assert meta["rows_inserted"] == 3
    assert metadata_of(again)["rows_unchanged"] == 3
    [event] = again.get_asset_materialization_events()
    assert event.partition is None
