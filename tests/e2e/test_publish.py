"""Branch runs and `cascade publish`: main moves only by fast-forward, all or nothing."""

from __future__ import annotations

import dagster as dg
import pytest
from click.testing import CliRunner

from cascade.compiler.cli import main
from cascade.runtime import IcebergResource
from generated.assets.nightscout.glucose_entries import dlt_glucose_entries
from tests.helpers import REPO_ROOT

TABLE = "raw.glucose_entries"


def load(partition: str, branch: str | None = None) -> None:
    result = dg.materialize(
        [dlt_glucose_entries],
        partition_key=partition,
        resources={"iceberg": IcebergResource()},
        tags={"branch": branch} if branch else None,
    )
    assert result.success


def publish(branch: str):
    return CliRunner().invoke(main, ["publish", branch, "--project", str(REPO_ROOT)])


@pytest.mark.usefixtures("catalog_env", "nightscout")
def test_publish_fast_forwards_main_to_the_branch():
    load("2024-01-01")
    catalog = IcebergResource().load_catalog()
    main_before = catalog.load_table(TABLE).current_snapshot().snapshot_id
    load("2024-01-02", branch="dev")
    table = catalog.load_table(TABLE)
    assert table.current_snapshot().snapshot_id == main_before  # the branch run left main
    assert table.scan().count() == 288
    dev_head = table.metadata.refs["dev"].snapshot_id

    result = publish("dev")
    assert result.exit_code == 0, result.output
    assert f"{TABLE}: fast-forward" in result.output
    table = catalog.load_table(TABLE)
    assert table.current_snapshot().snapshot_id == dev_head
    assert table.scan().count() == 576

    again = publish("dev")
    assert again.exit_code == 0
    assert f"{TABLE}: up to date" in again.output


@pytest.mark.usefixtures("catalog_env", "nightscout")
def test_publish_refuses_when_main_moved_on_and_changes_nothing():
    load("2024-01-01")
    load("2024-01-02", branch="dev")
    load("2024-01-03")  # main moves past the point the branch was made from
    catalog = IcebergResource().load_catalog()
    before = catalog.load_table(TABLE).metadata_location

    result = publish("dev")
    assert result.exit_code == 1
    assert f"{TABLE}: diverged" in result.output
    assert "nothing was published" in result.output
    assert catalog.load_table(TABLE).metadata_location == before


@pytest.mark.usefixtures("catalog_env", "nightscout")
def test_publish_of_a_branch_no_table_has_exits_1_and_says_so():
    load("2024-01-01")
    catalog = IcebergResource().load_catalog()
    before = catalog.load_table(TABLE).metadata_location

    result = publish("nosuch")

    assert result.exit_code == 1
    assert f"{TABLE}: no branch" in result.output
    assert "no table of the project has a branch 'nosuch'; nothing was published" in result.output
    assert catalog.load_table(TABLE).metadata_location == before


@pytest.mark.usefixtures("catalog_env")
def test_publish_of_main_is_refused() -> None:
    result = CliRunner().invoke(main, ["publish", "main", "--project", str(REPO_ROOT)])

    assert result.exit_code == 1
    assert "cascade publish: name the branch to publish; main is what it moves" in result.output
    assert IcebergResource().load_catalog().list_namespaces() == []


@pytest.mark.usefixtures("catalog_env")
@pytest.mark.parametrize(
    ("command", "branch", "rule"),
    [
        (["publish", ""], "", "it is empty"),
        (["publish", " dev"], " dev", "whitespace"),
        (["plan", "--branch", "a..b"], "a..b", "'..'"),
        (["plan", "--branch", ""], "", "it is empty"),
        (["apply", "--branch", "dev/"], "dev/", "ends with '/'"),
    ],
)
def test_an_invalid_branch_name_is_refused_before_the_catalog_is_touched(command, branch, rule):
    result = CliRunner().invoke(main, [*command, "--project", str(REPO_ROOT)])

    assert result.exit_code == 1, result.output
    assert f"cascade {command[0]}: {branch!r} is not a valid branch name: " in result.output
    assert rule in result.output
    assert IcebergResource().load_catalog().list_namespaces() == []
