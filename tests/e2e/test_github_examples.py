"""The GitHub examples end to end: generated assets -> real dlt -> real Iceberg catalog, read
back with pyiceberg and DuckDB; and the decorator's parameters as Dagster sees them."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import pyarrow.compute as pc
import pytest
from pyiceberg.types import DateType, DecimalType, FloatType, IntegerType, TimestamptzType

from cascade.runtime import IcebergResource, load_on_cron
from examples.fixtures.github_server import (
    GitHubFixtureServer,
    event_count,
    events_for_day,
    repo_count,
    repos_for_day,
)
from generated.assets.github import github_events as events_asset_module
from generated.assets.github import github_repo_stats as repos_asset_module
from generated.assets.github.github_events import dlt_github_events
from generated.assets.github.github_repo_stats import dlt_github_repo_stats
from generated.schemas.github import github_events as events_table
from generated.schemas.github import github_repo_stats as repos_table
from tests.duckdb_reader import query_iceberg
from tests.helpers import failure_message, field_ids, materialize, metadata_of

USER = "octocat"
LOAD_COLUMNS = {"_dlt_load_id", "_dlt_id", "_cascade_ingested_at"}


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubFixtureServer]:
    """The fixture server, with the examples' GITHUB_API_BASE_URL pointing at it."""
    with GitHubFixtureServer() as server:
        monkeypatch.setenv("GITHUB_API_BASE_URL", server.url)
        monkeypatch.setenv("GITHUB_USER", USER)
        monkeypatch.delenv("GITHUB_TOKEN", raising=False)  # never send a real token to it
        yield server


def data_rows(table) -> list[dict]:
    """The table's rows without the per-load columns, sorted, to compare two loads."""
    rows = table.scan().to_arrow()
    rows = rows.select([name for name in rows.column_names if name not in LOAD_COLUMNS])
    return sorted(rows.to_pylist(), key=repr)


def epoch(stamp: str | None) -> int | None:
    return None if stamp is None else int(datetime.fromisoformat(stamp).timestamp())


# -- events: rest_api_source with GitHub's Link pagination ---------------------------------


@pytest.mark.usefixtures("catalog_env")
def test_events_load_rerun_and_read_back(github: GitHubFixtureServer):
    days = [date(2024, 1, 2), date(2024, 1, 3)]
    counts = [event_count(USER, day) for day in days]
    assert counts[1] > 100  # the second day spans two pages of GitHub's maximum 100

    meta = metadata_of(materialize(dlt_github_events, "2024-01-02"))
    assert meta["rows_inserted"] == counts[0]
    assert meta["table_name"] == "raw.github_events"
    # Every key the fixture sends is a column or one of the example's ignored_keys: the load
    # drops nothing it would have to warn about.
    assert meta["rows_dropped_columns"] == 0
    assert "payload.commits" in events_table.TABLE.ignored_keys
    catalog = IcebergResource().load_catalog()
    table = catalog.load_table("raw.github_events")
    # The ids the generated module promises are the ids the live table has.
    assert field_ids(table.schema()) == field_ids(events_table.SCHEMA)
    assert table.spec() == events_table.PARTITION_SPEC
    assert isinstance(table.schema().find_field("created_at").field_type, TimestamptzType)
    # A push's commits are a nested list: a child table of dlt's, not columns of this one.
    assert not [name for name in table.schema().column_names if "commits" in name]

    before = data_rows(table)
    rerun = metadata_of(materialize(dlt_github_events, "2024-01-02"))
    assert (rerun["rows_inserted"], rerun["rows_updated"], rerun["rows_unchanged"]) == (
        0,
        0,
        counts[0],
    )
    table = catalog.load_table("raw.github_events")
    assert data_rows(table) == before

    requests = github.request_count
    assert metadata_of(materialize(dlt_github_events, "2024-01-03"))["rows_inserted"] == counts[1]
    assert github.request_count - requests == 2  # followed rel="next" once
    table = catalog.load_table("raw.github_events")
    assert table.scan().count() == sum(counts)

    # What the fixture served is what landed, read by an independent Iceberg reader.
    served = sorted(
        (
            event["id"],
            event["type"],
            epoch(event["created_at"]),
            event["actor"]["login"],
            event["repo"]["id"],
            event["repo"]["name"],
            event.get("org", {}).get("login"),
            event["payload"].get("action"),
            event["payload"].get("size"),
        )
        for day in days
        for event in events_for_day(USER, day)
    )
    read = query_iceberg(
        table.metadata_location,
        "SELECT id, type, CAST(epoch(created_at) AS BIGINT), actor__login, repo__id, repo__name,"
        " org__login, payload__action, payload__size FROM {table}",
    )
    assert read == served


@pytest.mark.usefixtures("catalog_env")
def test_events_keep_only_their_day_when_the_server_ignores_the_date_filter(
    github: GitHubFixtureServer,
):
    # GitHub itself ignores `since`/`until` and returns its latest 300 events, which reach
    # into today; the partition must still hold exactly yesterday's events.
    github.ignore_date_filter = True
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    expected = {event["id"] for event in events_for_day(USER, yesterday)}
    meta = metadata_of(materialize(dlt_github_events, yesterday.isoformat()))
    assert meta["rows_inserted"] == len(expected)
    rows = IcebergResource().load_catalog().load_table("raw.github_events").scan().to_arrow()
    assert set(rows["id"].to_pylist()) == expected


@pytest.mark.usefixtures("catalog_env")
def test_an_event_breaking_a_pandera_check_fails_the_run_and_writes_nothing(
    github: GitHubFixtureServer,
):
    metadata_of(materialize(dlt_github_events, "2024-01-04"))
    catalog = IcebergResource().load_catalog()
    before = catalog.load_table("raw.github_events")

    github.overrides = {"2024-01-05": {"type": "NotAnEvent"}}
    result = materialize(dlt_github_events, "2024-01-05")
    assert not result.success
    message = failure_message(result)
    assert "type" in message and "isin" in message and "NotAnEvent" in message

    after = catalog.load_table("raw.github_events")
    assert after.metadata_location == before.metadata_location
    assert after.scan().count() == event_count(USER, date(2024, 1, 4))


# -- repository statistics: a custom @dlt.resource with a composite key --------------------


@pytest.mark.usefixtures("catalog_env")
def test_repo_stats_merge_on_repository_and_day(github: GitHubFixtureServer):
    repos = repo_count(USER)
    first = metadata_of(materialize(dlt_github_repo_stats, "2024-01-01"))
    assert first["rows_inserted"] == repos
    assert first["unique_key"] == "repo_id,snapshot_date"
    catalog = IcebergResource().load_catalog()
    table = catalog.load_table("raw.github_repo_stats")
    assert field_ids(table.schema()) == field_ids(repos_table.SCHEMA)
    assert table.spec() == repos_table.PARTITION_SPEC
    types = {field.name: field.field_type for field in table.schema().fields}
    assert types["snapshot_date"] == DateType()
    assert types["stargazers_count"] == IntegerType()
    assert types["forks_per_star"] == FloatType()
    assert types["size_mb"] == DecimalType(10, 2)
    assert types["pushed_at"] == TimestamptzType()

    # The same repositories on the next day are new rows: the key is (repo_id, snapshot_date).
    second = metadata_of(materialize(dlt_github_repo_stats, "2024-01-02"))
    assert (second["rows_inserted"], second["rows_updated"]) == (repos, 0)
    table = catalog.load_table("raw.github_repo_stats")
    rows = table.scan().to_arrow()
    assert rows.num_rows == 2 * repos
    assert pc.count_distinct(rows["repo_id"]).as_py() == repos
    day2_before = [row for row in data_rows(table) if row["snapshot_date"] == date(2024, 1, 2)]

    # Rerunning the first day replaces its rows and leaves the second day's alone.
    rerun = metadata_of(materialize(dlt_github_repo_stats, "2024-01-01"))
    assert (rerun["rows_inserted"], rerun["rows_updated"], rerun["rows_unchanged"]) == (0, 0, repos)
    table = catalog.load_table("raw.github_repo_stats")
    rows = table.scan().to_arrow()
    assert rows.num_rows == 2 * repos
    loads = {
        (day, load)
        for day, load in zip(
            rows["snapshot_date"].to_pylist(), rows["_dlt_load_id"].to_pylist(), strict=True
        )
    }
    assert len({load for day, load in loads if day == date(2024, 1, 1)}) == 1
    assert {load for day, load in loads if day == date(2024, 1, 1)} != {
        load for day, load in loads if day == date(2024, 1, 2)
    }
    day2_after = [row for row in data_rows(table) if row["snapshot_date"] == date(2024, 1, 2)]
    assert day2_after == day2_before

    # What the fixture served is what landed, read by an independent Iceberg reader.
    served = sorted(
        (
            repo["id"],
            day.isoformat(),
            repo["owner"]["login"],
            repo["license"] and repo["license"]["spdx_id"],
            repo["stargazers_count"],
            repo["open_issues_count"],
            (Decimal(repo["size"]) / 1024).quantize(Decimal("0.01")),
            epoch(repo["pushed_at"]),
        )
        for day in (date(2024, 1, 1), date(2024, 1, 2))
        for repo in repos_for_day(USER, day)
    )
    read = query_iceberg(
        table.metadata_location,
        "SELECT repo_id, snapshot_date::VARCHAR, owner__login, license__spdx_id,"
        " stargazers_count, open_issues_count, size_mb, CAST(epoch(pushed_at) AS BIGINT)"
        " FROM {table}",
    )
    assert read == served


# -- the decorator's parameters on the generated assets ------------------------------------


def run_ingestion_arguments(module) -> dict[str, object]:
    """The literal keyword arguments the generated asset passes to run_ingestion."""
    tree = ast.parse(inspect.getsource(module))
    [call] = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_ingestion"
    ]
    return {
        keyword.arg: keyword.value.value
        for keyword in call.keywords
        if isinstance(keyword.value, ast.Constant)
    }


@pytest.mark.parametrize(
    ("asset", "module", "table", "expected"),
    [
        (
            dlt_github_events,
            events_asset_module,
            events_table,
            {
                "unique_key": ("id",),
                "cron": "15 * * * *",
                "freshness": (2, 26),
                "retry": dg.RetryPolicy(max_retries=5, delay=120),
                "run": {"validate": True, "max_runtime_seconds": 600},
                "partition_fields": [("created_at", "day")],
            },
        ),
        (
            dlt_github_repo_stats,
            repos_asset_module,
            repos_table,
            {
                "unique_key": ("repo_id", "snapshot_date"),
                "cron": "50 23 * * *",
                "freshness": (25, 49),
                "retry": dg.RetryPolicy(max_retries=2, delay=300),
                "run": {"validate": True, "max_runtime_seconds": 120},
                "partition_fields": [("snapshot_date", "month"), ("repo_id", "bucket[8]")],
            },
        ),
    ],
    ids=["events", "repo_stats"],
)
def test_generated_asset_carries_the_decorator_parameters(asset, module, table, expected):
    [spec] = asset.specs
    assert spec.group_name == "github"
    assert asset.partitions_def == dg.DailyPartitionsDefinition(
        start_date="2024-01-01", end_offset=1
    )
    assert asset.op.retry_policy == expected["retry"]
    assert spec.automation_condition == load_on_cron(expected["cron"])
    warn, fail = expected["freshness"]
    assert spec.freshness_policy == dg.FreshnessPolicy.time_window(
        warn_window=timedelta(hours=warn), fail_window=timedelta(hours=fail)
    )
    assert spec.metadata["cascade/table"] == table.TABLE.identifier
    assert table.TABLE.unique_key == expected["unique_key"]
    ids = {field.field_id: field.name for field in table.SCHEMA.fields}
    assert [
        (ids[field.source_id], str(field.transform)) for field in table.PARTITION_SPEC.fields
    ] == expected["partition_fields"]
    assert run_ingestion_arguments(module).items() >= expected["run"].items()
