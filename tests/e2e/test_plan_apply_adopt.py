"""`cascade plan`, `cascade apply` and `cascade adopt` on the example project's embedded catalog
(`<project>/.cascade`), through the real console script."""

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

from tests.helpers import cascade, catalog_of, edit

# Slow: the console script.
pytestmark = pytest.mark.slow

GLUCOSE = "raw.glucose_entries"
MODEL = Path("examples/schemas/nightscout.py")


# Columns a table made by hand may have, with a value for a row.
ELSEWHERE = {
    "_id": (StringType(), True, "a"),
    "sgv": (LongType(), True, 100),
    "date": (LongType(), True, 1),
    "date_string": (TimestamptzType(), True, datetime(2024, 1, 1, tzinfo=UTC)),
    "legacy": (StringType(), False, "x"),
}


def made_elsewhere(catalog: Catalog, columns: list[str], rows: int) -> None:
    """raw.glucose_entries as another tool makes it: `columns` numbered 1.. in that order,
    none of Cascade's metadata columns, and `rows` rows (0 or 1)."""
    schema = Schema(
        *(
            NestedField(n, name, ELSEWHERE[name][0], required=ELSEWHERE[name][1])
            for n, name in enumerate(columns, start=1)
        )
    )
    catalog.create_namespace("raw")
    table = catalog.create_table(GLUCOSE, schema=schema)
    if rows:
        row = {name: ELSEWHERE[name][2] for name in columns}
        table.append(pa.Table.from_pylist([row], schema=schema.as_arrow()))


def test_apply_creates_the_tables_then_plan_shows_an_evolution_and_apply_makes_it(
    project_copy: Path,
) -> None:
    planned = cascade(project_copy, "plan")
    assert planned.returncode == 0, planned.stderr
    assert f"{GLUCOSE}: create" in planned.stdout

    assert cascade(project_copy, "apply").returncode == 0
    catalog = catalog_of(project_copy)
    assert catalog.load_table(GLUCOSE).current_snapshot() is None  # no data is written
    assert "up to date" in cascade(project_copy, "plan").stdout

    edit(
        project_copy / MODEL,
        '    device: str | None = Field(nullable=True, description="Uploading device")',
        "    uploader: str | None = Field(\n        nullable=True,\n"
        '        description="Uploading device",\n'
        '        metadata={"cascade": {"renamed_from": "device"}},\n    )\n'
        '    battery: float | None = Field(nullable=True, description="Battery %")',
    )
    assert cascade(project_copy, "gen").returncode == 0
    before = catalog.load_table(GLUCOSE).metadata_location

    planned = cascade(project_copy, "plan", "--branch", "dev")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert f"{GLUCOSE}: evolve" in planned.stdout
    assert "CAS105 safe     column-renamed           device is renamed uploader (id 7)" in (
        planned.stdout
    )
    assert "CAS101 safe     column-added             battery double is added" in planned.stdout
    assert catalog.load_table(GLUCOSE).metadata_location == before  # a plan changes nothing

    applied = cascade(project_copy, "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    live = catalog.load_table(GLUCOSE).schema()
    assert live.find_field("uploader").field_id == 7
    assert live.find_field("battery").field_id == 14
    assert "device" not in live.column_names


def test_apply_refuses_a_breaking_change_and_changes_no_table(project_copy: Path) -> None:
    assert cascade(project_copy, "apply").returncode == 0
    catalog = catalog_of(project_copy)
    table = catalog.load_table(GLUCOSE)
    row = {name: None for name in table.schema().column_names}
    now = datetime(2024, 1, 1, tzinfo=UTC)
    row |= {"_id": "a", "sgv": 100, "date": 1, "date_string": now, "_dlt_load_id": "1"}
    row |= {"_dlt_id": "1", "_cascade_ingested_at": now}
    table.append(pa.Table.from_pylist([row], schema=table.schema().as_arrow()))
    catalog.drop_table("raw.github_repo_stats")  # so that the plan has a table to create
    sys_time = (
        'sys_time: str | None = Field(nullable=True, description="Device system time, ISO 8601")'
    )
    edit(project_copy / MODEL, f"    {sys_time}\n", "")
    assert cascade(project_copy, "gen").returncode == 0
    locations = {t: catalog.load_table(t).metadata_location for t in ("raw.github_events", GLUCOSE)}

    applied = cascade(project_copy, "apply")

    assert applied.returncode == 2
    assert "CAS201 BREAKING column-dropped           sys_time (id 10) is dropped" in applied.stdout
    assert "allow_breaking=('CAS201:sys_time',)" in applied.stdout
    assert "nothing was changed" in applied.stderr
    assert "raw.github_repo_stats: create" in applied.stdout
    assert not catalog.table_exists("raw.github_repo_stats")  # all or nothing
    assert {t: catalog.load_table(t).metadata_location for t in locations} == locations


@pytest.mark.parametrize("rows", [0, 1], ids=["empty", "with-rows"])
def test_adopt_generates_the_ids_of_a_table_made_elsewhere(project_copy: Path, rows: int) -> None:
    catalog = catalog_of(project_copy)
    # Made by hand: another column order (so other ids), a column the model lacks, and none of
    # Cascade's metadata columns.
    made_elsewhere(catalog, ["sgv", "_id", "date", "date_string", "legacy"], rows)

    refused = cascade(project_copy, "plan")
    assert refused.returncode == 2
    assert "not adopted" in refused.stdout and f"cascade adopt {GLUCOSE}" in refused.stdout

    adopted = cascade(project_copy, "adopt", GLUCOSE)
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    module = (project_copy / "generated/schemas/nightscout/glucose_entries.py").read_text()
    assert 'NestedField(2, "_id", StringType(), required=True' in module
    assert 'NestedField(1, "sgv", LongType(), required=True' in module
    assert '5: "legacy",' in module  # retired: the model lacks it
    # A table with rows could take Cascade's metadata columns only as optional; an adopted
    # table gets them so whether it has rows or not (the compiler cannot know).
    assert '"_dlt_id", StringType(), required=False' in module
    assert cascade(project_copy, "check").returncode == 0  # gen keeps what adopt wrote

    # The column the model lacks is a drop, which the decorator must allow.
    assert "CAS201 BREAKING column-dropped" in cascade(project_copy, "plan").stdout
    edit(
        project_copy / "examples/ingestion/nightscout/glucose.py",
        "    max_runtime_seconds=300,\n",
        '    max_runtime_seconds=300,\n    allow_breaking=("CAS201:legacy",),\n',
    )
    assert cascade(project_copy, "gen").returncode == 0
    applied = cascade(project_copy, "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    live = catalog.load_table(GLUCOSE)
    assert live.schema().find_field("_id").field_id == 2
    assert "legacy" not in live.schema().column_names
    assert live.properties["cascade.managed"] == "true"
    assert len(live.scan().to_arrow()) == rows


def test_plan_suggests_adopt_only_where_adopting_lifts_the_refusal(project_copy: Path) -> None:
    catalog = catalog_of(project_copy)
    # Made elsewhere with the generated ids, and rows, but none of Cascade's metadata columns:
    # the generated schema requires them, an adopted one adds them as optional.
    made_elsewhere(catalog, ["_id", "sgv", "date", "date_string"], rows=1)
    hint = f"not created by Cascade: `cascade adopt {GLUCOSE}` fits the schema"

    planned = cascade(project_copy, "plan")
    assert planned.returncode == 2
    assert "CAS204 BREAKING" in planned.stdout and "_dlt_id" in planned.stdout, planned.stdout
    assert hint in planned.stdout

    assert cascade(project_copy, "adopt", GLUCOSE).returncode == 0
    planned = cascade(project_copy, "plan")
    assert planned.returncode == 0, planned.stdout  # adopting lifted the refusal
    assert "raw.glucose_entries: evolve" in planned.stdout

    # A refusal adopting cannot lift (a drop) comes without the suggestion.
    edit(
        project_copy / MODEL,
        '    sgv: int = Field(ge=1, le=1000, description="Sensor glucose value in mg/dL")\n',
        "",
    )
    assert cascade(project_copy, "gen").returncode == 0
    planned = cascade(project_copy, "plan")
    assert planned.returncode == 2
    assert "CAS201 BREAKING column-dropped           sgv (id 2)" in planned.stdout, planned.stdout
    assert hint not in planned.stdout
