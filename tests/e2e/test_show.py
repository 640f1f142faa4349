"""`cascade show [TABLE]` on the example project, reading the catalog the deployment
configured (catalog_env), after a real load."""

import functools

from click.testing import CliRunner
from pyiceberg.catalog import Catalog

from cascade.compiler.cli import main
from examples.fixtures.nightscout_server import NightscoutFixtureServer
from generated.assets.nightscout.glucose_entries import dlt_glucose_entries
from tests.helpers import REPO_ROOT
from tests.helpers import materialize as run_asset

materialize = functools.partial(run_asset, dlt_glucose_entries)
DEV = {"ops": {"dlt_glucose_entries": {"config": {"branch_name": "dev"}}}}


def show(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["show", *args, "--project", str(REPO_ROOT)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_show_lists_the_tables_and_details_one(
    catalog: Catalog, nightscout: NightscoutFixtureServer
) -> None:
    code, listing = show()
    assert code == 0
    assert "raw.glucose_entries: not created yet (the first load creates it)" in listing

    assert materialize("2024-01-01").success
    assert materialize("2024-01-02").success
    table = catalog.load_table("raw.glucose_entries")
    code, listing = show()
    assert code == 0
    [line] = [line for line in listing.splitlines() if line.startswith("raw.glucose_entries:")]
    assert line.startswith("raw.glucose_entries: 576 rows, 2 data files, 2 snapshots, ")
    assert "branches: main, last load: 20" in line

    code, detail = show("raw.glucose_entries")
    assert code == 0
    lines = detail.splitlines()
    assert lines[0] == "table raw.glucose_entries"
    schema = table.schema()
    for field in schema.fields:  # every column with the id the table has
        assert any(line.startswith(f"  {field.field_id} {field.name} ") for line in lines)
    assert "identifier fields: _id" in lines
    assert "  date_string_day: day of date_string" in lines
    assert "recent snapshots (2 in all):" in lines
    head = table.current_snapshot()
    assert any(
        line.startswith(f"  {head.snapshot_id} ") and line.endswith("(head of main)")
        for line in lines
    )
    assert "first 5 rows of main (data columns):" in lines
    assert "_dlt_load_id" not in detail.split("first 5 rows")[1]

    code, missing = show("raw.nope")
    assert code == 1 and "raw.nope does not exist in the catalog" in missing
    for name, hint in (("glucose_entries", "; did you mean raw.glucose_entries?"), (".x", ""),
                       ("", ""), ("raw.", "")):  # fmt: skip
        code, refused = show(name)
        assert code == 1, refused
        assert f"cascade show: name a table as namespace.table, not {name!r}{hint}\n" == refused


def test_show_marks_every_branch_a_snapshot_heads(
    catalog: Catalog, nightscout: NightscoutFixtureServer
) -> None:
    assert materialize("2024-01-01").success
    assert materialize("2024-01-02", run_config=DEV).success
    published = CliRunner().invoke(main, ["publish", "dev", "--project", str(REPO_ROOT)])
    assert published.exit_code == 0, published.output
    table = catalog.load_table("raw.glucose_entries")

    code, detail = show("raw.glucose_entries")

    assert code == 0
    head = table.metadata.refs["dev"].snapshot_id
    assert any(
        line.startswith(f"  {head} ") and line.endswith("(head of dev, main)")
        for line in detail.splitlines()
    ), detail
