"""The upkeep job `cascade gen` writes for each table (`maintenance=`), run by Dagster in this
process on a real fragmented table (tests/runtime/upkeep_tables.py): what it reports as an
observation of the table's asset, that the rows stay as they were (pyiceberg and DuckDB), a
table not created yet, a dry run, which failures Dagster's retry policy retries, and the
schedule as Dagster evaluates it; and `cascade maintain --max-file-rows` on the same table."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster._utils.schedules import cron_string_iterator
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.types import NestedField, StringType

from cascade.compiler import compile_project, load_config
from cascade.compiler.cli import main
from cascade.runtime import IcebergResource
from cascade.runtime.compaction import CompactionConflict
from tests.helpers import failure_message
from tests.runtime.upkeep_tables import (
    DAYS,
    build,
    data_files,
    duckdb_rows,
    files_under,
    pyiceberg_rows,
)

PYPROJECT = """\
[tool.cascade]
sources = ["shop_ingestion"]
out = "shop_generated"
namespace = "raw"
partition_start = "2024-01-01"
"""
MODELS = """\
from datetime import date

from pandera.pandas import DataFrameModel


class Orders(DataFrameModel):
    id: str
    day: date
    value: int | None
    note: str | None


class Refunds(DataFrameModel):
    refund_id: str
"""
# `orders` is the table upkeep_tables.build() makes (the upkeep reads only the contract's
# identifier and unique key); `refunds` a table whose live schema lacks the key; `returns`
# has no upkeep job.
INGESTIONS = """\
from cascade.runtime import cascade_ingestion
from shop_models.models import Orders, Refunds


@cascade_ingestion(
    table_name="orders",
    unique_key="id",
    validation_schema=Orders,
    group="shop",
    maintenance={
        "cron": "0 4 * * sun",
        "retention_days": 0,
        "orphan_age_hours": 1,
        "target_file_size_mb": 64,
        "max_file_rows": 100,
    },
)
def orders(partition_date: str):
    return None


@cascade_ingestion(
    table_name="refunds", unique_key="refund_id", validation_schema=Refunds, group="shop"
)
def refunds(partition_date: str):
    return None


@cascade_ingestion(
    table_name="returns",
    unique_key="refund_id",
    validation_schema=Refunds,
    group="shop",
    maintenance=None,
)
def returns(partition_date: str):
    return None
"""
PACKAGES = ("shop_generated", "shop_ingestion", "shop_models")


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[ModuleType]:
    """The project above compiled, written and its definitions module imported."""
    root = tmp_path / "shop"
    files = {
        "pyproject.toml": PYPROJECT,
        "shop_models/__init__.py": "",
        "shop_models/models.py": MODELS,
        "shop_ingestion/__init__.py": "",
        "shop_ingestion/orders.py": INGESTIONS,
    }
    compilation = compile_project(load_config(_write(root, files)), previous={})
    assert compilation.ok, [d.format_text() for d in compilation.diagnostics]
    _write(root, compilation.files)
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("shop_generated.definitions")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
            del sys.modules[name]


def _write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def run(
    shop: ModuleType, job: str = "upkeep_orders", dry_run: bool = False
) -> dg.ExecuteInProcessResult:
    config = {"ops": {f"{job}_op": {"config": {"dry_run": dry_run}}}}
    return shop.defs.get_job_def(job).execute_in_process(
        run_config=config, resources={"iceberg": IcebergResource()}, raise_on_error=False
    )


def observed(result: dg.ExecuteInProcessResult, job: str = "upkeep_orders") -> dict[str, object]:
    """The metadata of the run's one observation (of the table's asset), as plain values."""
    assert result.success, failure_message(result)
    [observation] = result.asset_observations_for_node(f"{job}_op")
    assert observation.asset_key == dg.AssetKey(f"dlt_{job.removeprefix('upkeep_')}")
    return {key: getattr(value, "value", value) for key, value in observation.metadata.items()}


def age_every_file(table, hours: float) -> None:
    past = time.time() - hours * 3600
    for path in files_under(table):
        os.utime(path, (past, past))


def test_the_upkeep_job_compacts_expires_and_removes_orphans_and_the_rows_stay(
    catalog: Catalog, shop: ModuleType
) -> None:
    table = build(catalog)
    rows, duckdb = pyiceberg_rows(table), duckdb_rows(table)
    snapshots = len(table.snapshots())

    figures = observed(run(shop))

    assert figures["status"] == "maintained"
    assert figures["table_name"] == "raw.orders"
    assert (figures["retention_days"], figures["orphan_age_hours"]) == (0, 1)
    assert (figures["target_file_size"], figures["max_file_rows"]) == (64 * 1024 * 1024, 100)
    # Six loads of three daily partitions: a small file per partition and load, or more.
    assert figures["data_files_before"] >= 18
    assert figures["partitions_compacted"] == 3
    assert figures["files_rewritten"] == figures["data_files_before"]
    # 240 rows a day, capped at 100 a file: two files of 120 rows a day.
    assert figures["files_written"] == figures["data_files_after"] == DAYS * 2
    assert figures["bytes_written"] == figures["data_bytes_after"]
    assert figures["compaction_attempts"] == 1
    table = catalog.load_table("raw.orders")
    assert figures["compaction_snapshot_id"] == str(table.current_snapshot().snapshot_id)
    # Retention 0: every snapshot but the head (the compaction's) is expired.
    assert (figures["snapshots_expired"], figures["snapshots_kept"]) == (snapshots, 1)
    # What they held is unreferenced now, but newer than the hour's window: kept.
    assert figures["orphan_files_removed"] == figures["orphan_bytes_removed"] == 0
    newer = figures["orphan_files_newer"]
    assert newer >= figures["files_rewritten"]
    assert figures["orphan_files_not_deleted"] == 0
    assert "raw.orders:\n  compaction: rewrote " in figures["summary"]
    assert all(100 <= file.record_count < 200 for file in data_files(table))
    assert pyiceberg_rows(table) == rows
    assert duckdb_rows(table) == duckdb

    # Two hours later, the same files are past the window and deleted.
    age_every_file(table, 2)
    figures = observed(run(shop))

    assert figures["files_rewritten"] == 0
    assert figures["data_files_before"] == figures["data_files_after"] == DAYS * 2
    assert "compaction_snapshot_id" not in figures
    assert figures["orphan_files_removed"] == newer
    assert figures["orphan_files_newer"] == 0
    table = catalog.load_table("raw.orders")
    assert pyiceberg_rows(table) == rows
    assert duckdb_rows(table) == duckdb


def test_a_dry_run_reports_what_it_would_do_and_changes_nothing(
    catalog: Catalog, shop: ModuleType
) -> None:
    table = build(catalog)
    files = files_under(table)

    figures = observed(run(shop, dry_run=True))

    assert figures["status"] == "dry_run"
    assert figures["files_rewritten"] == figures["data_files_before"] >= 18
    assert figures["data_files_after"] == DAYS * 2
    assert figures["snapshots_expired"] == len(table.snapshots()) - 1
    assert "would rewrite" in figures["summary"]
    assert catalog.load_table("raw.orders").metadata_location == table.metadata_location
    assert files_under(table) == files


def test_a_table_not_created_yet_is_a_success_with_nothing_to_do(
    catalog: Catalog, shop: ModuleType
) -> None:
    result = run(shop)

    figures = observed(result)
    assert figures["status"] == "no_table"
    assert figures["summary"] == "raw.orders: not created yet; nothing to do"
    assert not catalog.table_exists("raw.orders")


def retrying(shop: ModuleType, job: str) -> dg.JobDefinition:
    """The generated job's op under a retry policy without delay (the generated one waits ten
    minutes), so that Dagster's own retries can be watched."""
    op = shop.defs.get_job_def(job).graph.node_defs[0]
    assert op.retry_policy == dg.RetryPolicy(max_retries=2, delay=600)

    @dg.job(name=f"{job}_now")
    def now() -> None:
        op.with_retry_policy(dg.RetryPolicy(max_retries=2))()

    return now


def step_events(result: dg.ExecuteInProcessResult) -> list[dg.DagsterEventType]:
    return [
        event.event_type
        for event in result.all_events
        if event.event_type
        in (dg.DagsterEventType.STEP_UP_FOR_RETRY, dg.DagsterEventType.STEP_FAILURE)
    ]


def test_a_compaction_that_loads_kept_conflicting_with_is_retried_by_dagster(
    catalog: Catalog, shop: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cascade.runtime import compaction

    table = build(catalog, loads=2)
    rows = pyiceberg_rows(table)
    compact = compaction.compact_table
    calls = []

    def conflicting_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise CompactionConflict("raw.orders: concurrent loads rewrote the files")
        return compact(*args, **kwargs)

    monkeypatch.setattr(compaction, "compact_table", conflicting_once)
    result = retrying(shop, "upkeep_orders").execute_in_process(
        resources={"iceberg": IcebergResource()}, raise_on_error=False
    )

    assert result.success, failure_message(result)
    assert step_events(result) == [dg.DagsterEventType.STEP_UP_FOR_RETRY]
    first, second = result.asset_observations_for_node("upkeep_orders_op")
    assert first.metadata["status"].value == "failed"
    assert "compaction failed: raw.orders: concurrent loads" in first.metadata["failure"].value
    assert "snapshots_expired" not in first.metadata  # the steps after it did not run
    assert second.metadata["status"].value == "maintained"
    assert second.metadata["files_rewritten"].value > 0
    assert pyiceberg_rows(catalog.load_table("raw.orders")) == rows


def test_a_table_without_its_key_column_fails_at_once_without_retries(
    catalog: Catalog, shop: ModuleType
) -> None:
    catalog.create_namespace_if_not_exists("raw")
    catalog.create_table("raw.refunds", Schema(NestedField(1, "id", StringType(), required=True)))

    result = retrying(shop, "upkeep_refunds").execute_in_process(
        resources={"iceberg": IcebergResource()}, raise_on_error=False
    )

    assert not result.success
    assert step_events(result) == [dg.DagsterEventType.STEP_FAILURE]
    message = failure_message(result)
    assert "Upkeep of raw.refunds did not complete: compaction failed: " in message
    assert "raw.refunds has no column refund_id of its unique key" in message
    assert "A load (or `cascade apply`) evolves the table first." in message


def test_each_schedule_runs_its_job_on_the_decorators_cron_and_starts_stopped(
    shop: ModuleType,
) -> None:
    defs: dg.Definitions = shop.defs
    repository = defs.get_repository_def()
    schedules = {s.name: s for s in repository.schedule_defs}
    assert sorted(schedules) == ["upkeep_orders_schedule", "upkeep_refunds_schedule"]
    assert [name for name in repository.job_names if name.startswith("upkeep")] == [
        "upkeep_orders",
        "upkeep_refunds",
    ]  # `returns` has maintenance=None: no job

    for name, cron in [("upkeep_orders", "0 4 * * sun"), ("upkeep_refunds", "30 3 * * *")]:
        schedule = schedules[f"{name}_schedule"]
        assert schedule.job_name == name
        assert schedule.cron_schedule == cron
        assert schedule.execution_timezone == "UTC"
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        # Dagster's own reading of the cron: the next ticks after Monday 2024-01-01.
        ticks = cron_string_iterator(datetime(2024, 1, 1, tzinfo=UTC).timestamp(), cron, "UTC")
        first, second = next(ticks), next(ticks)
        if name == "upkeep_orders":
            assert (first, second) == (
                datetime(2024, 1, 7, 4, tzinfo=UTC),
                datetime(2024, 1, 14, 4, tzinfo=UTC),
            )
        else:
            assert (first, second) == (
                datetime(2024, 1, 1, 3, 30, tzinfo=UTC),
                datetime(2024, 1, 2, 3, 30, tzinfo=UTC),
            )
        # A tick requests a run of the job, with a run config the job accepts.
        context = dg.build_schedule_context(scheduled_execution_time=first)
        [request] = schedule.evaluate_tick(context).run_requests or []
        dg.validate_run_config(defs.get_job_def(name), request.run_config)


def test_cascade_maintain_max_file_rows_caps_the_rows_of_compacted_files(
    catalog: Catalog, shop: ModuleType, tmp_path: Path
) -> None:
    """The flag, not the decorator's 100 (`cascade maintain` does not read `maintenance=`)."""
    table = build(catalog)
    rows = pyiceberg_rows(table)

    result = CliRunner().invoke(
        main,
        ["maintain", "raw.orders", "--max-file-rows", "80", "--project", str(tmp_path / "shop")],
    )

    assert result.exit_code == 0, result.output
    assert "compaction: rewrote " in result.output
    table = catalog.load_table("raw.orders")
    # 240 rows a day, capped at 80 a file: three files of 80 rows a day.
    files = data_files(table)
    assert len(files) == DAYS * 3
    assert all(80 <= file.record_count < 160 for file in files)
    assert pyiceberg_rows(table) == rows
