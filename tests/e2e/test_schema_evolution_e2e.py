"""A real table evolves through the user's workflow: edit the Pandera model, `cascade gen`,
review with `cascade diff`, materialize the generated asset. On the embedded default catalog
(SQLite + a warehouse folder in the project), read back with pyiceberg and with DuckDB's
iceberg extension after every step.

The data files written before a change stay as they were (old names, int32, float32): every
reader must read them by field id as the evolved schema says.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.schema import index_by_name
from pyiceberg.table import Table
from pyiceberg.types import DoubleType, FloatType, IntegerType, LongType

from cascade.runtime import IcebergResource
from tests.duckdb_reader import query_iceberg
from tests.helpers import CASCADE, failure_message, metadata_of

# Slow: the console script, git and Dagster runs.
pytestmark = pytest.mark.slow

IDENTIFIER = "raw.readings"
SCHEMA_MODULE = "generated.schemas.lab.readings"
PROJECT_PACKAGES = ("generated", "ingestion", "models")

PYPROJECT = """\
[tool.cascade]
sources = ["ingestion"]
out = "generated"
namespace = "raw"
partition_start = "2024-01-01"
"""

# The first model: int32 and float32 columns, a required station, a label, a legacy code.
MODEL_V1 = """\
import pandera.pandas as pa
from pandera.pandas import DataFrameModel, Field


class Readings(DataFrameModel):
    \"\"\"Water level readings, one row per reading.\"\"\"

    reading_id: str = Field(unique=True, description="Reading id")
    day: pa.Date = Field(description="UTC day of the reading")
    station: str = Field(description="Station that took the reading")
    sample_count: pa.Int32 = Field(ge=0, description="Samples averaged")
    level: pa.Float32 | None = Field(nullable=True, description="Water level in metres")
    label: str | None = Field(nullable=True, description="Free-form label")
    legacy_code: str | None = Field(nullable=True, description="Code in the old system")
"""

# What a user changes next: every safe change of the brief at once.
MODEL_V2 = """\
import pandera.pandas as pa
from pandera.pandas import DataFrameModel, Field


class Readings(DataFrameModel):
    \"\"\"Water level readings, one row per reading.\"\"\"

    reading_id: str = Field(unique=True, description="Reading id, as the station sends it")
    day: pa.Date = Field(description="UTC day of the reading")
    station: str | None = Field(nullable=True, description="Station that took the reading")
    sample_count: int = Field(ge=0, description="Samples averaged")
    level: float | None = Field(nullable=True, description="Water level in metres")
    tag: str | None = Field(
        nullable=True,
        description="Free-form label",
        metadata={"cascade": {"renamed_from": "label"}},
    )
    legacy_code: str | None = Field(nullable=True, description="Code in the old system")
    note: str | None = Field(nullable=True, description="Operator's note")
"""

# Then a breaking change: legacy_code is dropped.
MODEL_V3 = MODEL_V2.replace(
    '    legacy_code: str | None = Field(nullable=True, description="Code in the old system")\n',
    "",
)

# The ingestion reads the day's rows from data/<day>.json (no network), as a dlt resource.
INGESTION = """\
import json
from datetime import date
from pathlib import Path

import dlt

from cascade.runtime import cascade_ingestion
from models.readings import Readings

DATA = Path(__file__).resolve().parents[1] / "data"


@dlt.resource(name="readings", primary_key="reading_id")
def readings_of(partition_date: str):
    day = date.fromisoformat(partition_date)
    for row in json.loads((DATA / f"{partition_date}.json").read_text()):
        yield {**row, "day": day}


@cascade_ingestion(
    table_name="readings",
    unique_key="reading_id",
    validation_schema=Readings,
    group="lab",
    partition_spec=[("day", "day")],<ALLOW>
)
def readings(partition_date: str):
    \"\"\"Readings of the lab's stations, one partition per UTC day.\"\"\"
    return readings_of(partition_date)
"""
ALLOW_DROP = '\n    allow_breaking=("CAS201:legacy_code",),'

INT32_MAX = 2**31 - 1
# Day 1, written with the first model. 1.5 and 0.25 are exact in float32, so they read back
# unchanged as doubles.
DAY1 = [
    {"reading_id": "d1-a", "station": "north", "sample_count": 12, "level": 1.5,
     "label": "calm", "legacy_code": "N-1"},
    {"reading_id": "d1-b", "station": "south", "sample_count": 7, "level": None,
     "label": None, "legacy_code": "S-9"},
    {"reading_id": "d1-c", "station": "east", "sample_count": INT32_MAX, "level": 0.25,
     "label": "peak", "legacy_code": None},
]  # fmt: skip
# Day 2, with the second model: a count only a long holds, a level only a double holds, no
# station, and the renamed and the new column.
DAY2 = [
    {"reading_id": "d2-a", "station": None, "sample_count": 3_000_000_000, "level": 1.1,
     "tag": "storm", "note": "gauge replaced", "legacy_code": "E-2"},
    {"reading_id": "d2-b", "station": "west", "sample_count": 5, "level": None,
     "tag": None, "note": None, "legacy_code": None},
]  # fmt: skip
# Day 3, after legacy_code is dropped.
DAY3 = [
    {"reading_id": "d3-a", "station": "north", "sample_count": 1, "level": 2.0,
     "tag": "after", "note": "legacy code gone"},
]  # fmt: skip

# Day 1 again, as the source sends it after the rename, with one reading corrected.
DAY1_RERUN = [
    {"reading_id": "d1-a", "station": "north", "sample_count": 12, "level": 1.5,
     "tag": "calm", "note": None},
    {"reading_id": "d1-b", "station": "south", "sample_count": 8, "level": 0.75,
     "tag": None, "note": "re-read"},
    {"reading_id": "d1-c", "station": "east", "sample_count": INT32_MAX, "level": 0.25,
     "tag": "peak", "note": None},
]  # fmt: skip

COLUMNS_V2 = ("reading_id", "day", "station", "sample_count", "level", "tag", "legacy_code", "note")
COLUMNS_V3 = tuple(c for c in COLUMNS_V2 if c != "legacy_code")


def expected_rows(days: dict[str, list[dict]], columns: tuple[str, ...]) -> list[tuple]:
    """The rows loaded for `days` as the evolved table must show them, sorted: day-1 rows
    with their label under `tag`, and null in the columns added after them."""
    rows = []
    for day, batch in days.items():
        for row in batch:
            row = {"note": None, "legacy_code": None, **row, "day": day}
            if "label" in row:
                row["tag"] = row.pop("label")
            rows.append(tuple(row[c] for c in columns))
    return sorted(rows)


# -- the user's tools ---------------------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def run(root: Path, *command: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)


def gen(root: Path) -> None:
    result = run(root, CASCADE, "gen")
    assert result.returncode == 0, result.stdout + result.stderr


def diff(root: Path) -> tuple[int, dict[tuple[str, str], bool], str]:
    """`cascade diff` against HEAD: exit code, {(code, subject): refused} of raw.readings, and
    the text a reviewer reads."""
    text = run(root, CASCADE, "diff")
    result = run(root, CASCADE, "diff", "--format", "json")
    assert result.returncode == text.returncode, result.stderr
    assert result.returncode in (0, 2), result.stdout + result.stderr
    [table] = json.loads(result.stdout)["tables"]
    assert table["identifier"] == IDENTIFIER
    changes = {(c["code"], c["subject"]): c["refused"] for c in table["changes"]}
    return result.returncode, changes, text.stdout


def commit(root: Path, message: str) -> None:
    for command in (
        ("git", "add", "-A"),
        ("git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid",
         "-c", "commit.gpgsign=false", "commit", "-q", "-m", message),
    ):  # fmt: skip
        result = run(root, *command)
        assert result.returncode == 0, result.stdout + result.stderr


def project_modules() -> dict[str, ModuleType]:
    return {m: sys.modules[m] for m in list(sys.modules) if m.split(".")[0] in PROJECT_PACKAGES}


def load_generated(root: Path) -> tuple[dg.Definitions, ModuleType]:
    """The project's generated definitions and schema module, imported afresh as Dagster
    loads them: the project folder on sys.path only while they are imported."""
    for name in project_modules():
        del sys.modules[name]
    importlib.invalidate_caches()
    sys.path.insert(0, str(root))
    try:
        definitions = importlib.import_module("generated.definitions")
        return definitions.defs, importlib.import_module(SCHEMA_MODULE)
    finally:
        sys.path.remove(str(root))


def materialize(root: Path, partition: str) -> tuple[dg.ExecuteInProcessResult, ModuleType]:
    defs, schema_module = load_generated(root)
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(partition_key=partition, raise_on_error=False), schema_module


def live_table(root: Path) -> Table:
    return IcebergResource(project_dir=str(root)).load_catalog().load_table(IDENTIFIER)


def assert_ids_are_the_generated_ones(table: Table, schema_module: ModuleType) -> None:
    assert index_by_name(table.schema()) == index_by_name(schema_module.SCHEMA)
    # Beyond the ids: the same names, types, required flags, descriptions and order.
    assert table.schema() == schema_module.SCHEMA
    assert table.spec() == schema_module.PARTITION_SPEC


def duckdb_rows(table: Table, columns: tuple[str, ...]) -> list[tuple]:
    select = ", ".join(f"{c}::VARCHAR" if c == "day" else c for c in columns)
    return query_iceberg(table.metadata_location, f"SELECT {select} FROM {{table}}")


def duckdb_types(table: Table) -> dict[str, str]:
    described = query_iceberg(
        table.metadata_location,
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {table})",
    )
    return dict(described)


def pyiceberg_rows(table: Table, columns: tuple[str, ...]) -> list[tuple]:
    rows = table.scan().to_arrow().to_pylist()
    return sorted(
        tuple(row[c].isoformat() if c == "day" else row[c] for c in columns) for row in rows
    )


def data_files(table: Table) -> set[str]:
    return {task.file.file_path for task in table.scan().plan_files()}


# -- the test -------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh user project in a git repository, with no catalog configured: the embedded
    default (SQLite and a warehouse under <project>/.cascade) is used."""
    root = tmp_path / "project"
    write(
        root,
        {
            "pyproject.toml": PYPROJECT,
            "models/__init__.py": "",
            "models/readings.py": MODEL_V1,
            "ingestion/__init__.py": "",
            "ingestion/readings.py": INGESTION.replace("<ALLOW>", ""),
            ".gitignore": ".cascade/\n__pycache__/\n",
        },
    )
    for name in [n for n in os.environ if n.startswith("PYICEBERG_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PYICEBERG_HOME", str(tmp_path))  # no .pyiceberg.yaml there
    monkeypatch.chdir(root)
    # Modules are rewritten within a second of their last import: never read stale bytecode.
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert run(root, "git", "init", "-q").returncode == 0
    saved = project_modules()  # the repo's own `generated` package, if a test imported it
    yield root
    for name in project_modules():
        del sys.modules[name]
    sys.modules.update(saved)


def test_a_table_evolves_through_gen_diff_and_materialize(project: Path):
    root = project

    # 1. The first model: generate, commit, load day 1.
    write(root, {"data/2024-01-01.json": json.dumps(DAY1)})
    gen(root)
    commit(root, "readings v1")
    result, v1 = materialize(root, "2024-01-01")
    assert result.success, failure_message(result)
    loaded = {"2024-01-01": DAY1}
    table = live_table(root)
    warehouse = (root / ".cascade" / "warehouse").as_uri()
    assert table.metadata_location.startswith(warehouse)  # the embedded default catalog
    assert (root / ".cascade" / "catalog.db").is_file()
    assert_ids_are_the_generated_ones(table, v1)
    types = {f.name: f.field_type for f in table.schema().fields}
    assert (types["sample_count"], types["level"]) == (IntegerType(), FloatType())
    [day1_file] = data_files(table)
    # The file as written: the old names and the narrow types, which readers must map by id.
    physical = pq.read_schema(day1_file.removeprefix("file://"))
    assert {
        name: (int(physical.field(name).metadata[b"PARQUET:field_id"]), physical.field(name).type)
        for name in ("sample_count", "level", "label")
    } == {
        "sample_count": (v1.SCHEMA.find_field("sample_count").field_id, pa.int32()),
        "level": (v1.SCHEMA.find_field("level").field_id, pa.float32()),
        "label": (v1.SCHEMA.find_field("label").field_id, pa.large_string()),
    }

    # 2. The user edits the model; gen; review; load day 2 with the new columns.
    write(root, {"models/readings.py": MODEL_V2, "data/2024-01-02.json": json.dumps(DAY2)})
    gen(root)
    code, changes, text = diff(root)
    assert code == 0, text
    assert changes == {
        ("CAS101", "note"): False,
        ("CAS102", "sample_count"): False,
        ("CAS102", "level"): False,
        ("CAS103", "station"): False,
        ("CAS104", "reading_id"): False,
        ("CAS105", "tag"): False,
    }
    for line in ("CAS101 safe", "CAS102 safe", "CAS103 safe", "CAS104 safe", "CAS105 safe"):
        assert line in text, text
    result, v2 = materialize(root, "2024-01-02")
    assert result.success, failure_message(result)
    loaded["2024-01-02"] = DAY2
    # The ids of the kept columns did not change; the new column got the next one.
    kept = {name: v1_id for name, v1_id in index_by_name(v1.SCHEMA).items() if name != "label"}
    assert index_by_name(v2.SCHEMA).items() >= kept.items()
    assert v2.SCHEMA.find_field("tag").field_id == v1.SCHEMA.find_field("label").field_id
    assert v2.SCHEMA.find_field("note").field_id == v1.TABLE.last_column_id + 1

    # 3. Every row, read back by both readers, as the evolved schema says.
    table = live_table(root)
    assert_ids_are_the_generated_ones(table, v2)
    assert day1_file in data_files(table)  # day 1 is still the file written with v1
    types = {f.name: f.field_type for f in table.schema().fields}
    assert (types["sample_count"], types["level"]) == (LongType(), DoubleType())
    assert not table.schema().find_field("station").required
    assert pyiceberg_rows(table, COLUMNS_V2) == expected_rows(loaded, COLUMNS_V2)
    arrow = table.scan().to_arrow().schema
    assert (arrow.field("sample_count").type, arrow.field("level").type) == (
        pa.int64(),
        pa.float64(),
    )
    assert duckdb_rows(table, COLUMNS_V2) == expected_rows(loaded, COLUMNS_V2)
    described = duckdb_types(table)
    assert "label" not in described
    assert (described["sample_count"], described["level"], described["tag"]) == (
        "BIGINT",
        "DOUBLE",
        "VARCHAR",
    )
    commit(root, "readings v2")

    # 4. A breaking change: legacy_code is dropped without an allowance.
    write(root, {"models/readings.py": MODEL_V3, "data/2024-01-03.json": json.dumps(DAY3)})
    gen(root)
    code, changes, text = diff(root)
    assert code == 2, text
    assert changes == {("CAS201", "legacy_code"): True}
    assert "allow_breaking=('CAS201:legacy_code',)" in text
    before = live_table(root)
    result, _ = materialize(root, "2024-01-03")
    assert not result.success
    message = failure_message(result)
    assert "CAS201" in message and "legacy_code" in message, message
    assert "allow_breaking=('CAS201:legacy_code',)" in message
    table = live_table(root)
    assert table.metadata_location == before.metadata_location
    assert table.current_snapshot().snapshot_id == before.current_snapshot().snapshot_id
    assert_ids_are_the_generated_ones(table, v2)  # still the v2 table
    assert pyiceberg_rows(table, COLUMNS_V2) == expected_rows(loaded, COLUMNS_V2)
    assert duckdb_rows(table, COLUMNS_V2) == expected_rows(loaded, COLUMNS_V2)

    # The review accepts the drop: the allowance in the decorator, gen, load day 3.
    write(root, {"ingestion/readings.py": INGESTION.replace("<ALLOW>", ALLOW_DROP)})
    gen(root)
    code, changes, text = diff(root)
    assert code == 0, text
    assert changes == {("CAS201", "legacy_code"): False}
    result, v3 = materialize(root, "2024-01-03")
    assert result.success, failure_message(result)
    loaded["2024-01-03"] = DAY3
    assert v3.TABLE.allowed_breaking == ("CAS201:legacy_code",)
    legacy_id = v2.SCHEMA.find_field("legacy_code").field_id
    assert v3.TABLE.retired_field_ids == {legacy_id: "legacy_code"}
    table = live_table(root)
    assert_ids_are_the_generated_ones(table, v3)
    assert "legacy_code" not in table.schema().column_names
    assert day1_file in data_files(table)
    assert pyiceberg_rows(table, COLUMNS_V3) == expected_rows(loaded, COLUMNS_V3)
    assert duckdb_rows(table, COLUMNS_V3) == expected_rows(loaded, COLUMNS_V3)
    assert "legacy_code" not in duckdb_types(table)

    # A rerun of day 1 now merges into the file written with v1 (old name, int32, float32,
    # the dropped column): it is read by id and rewritten with the v3 schema.
    write(root, {"data/2024-01-01.json": json.dumps(DAY1_RERUN)})
    result, _ = materialize(root, "2024-01-01")
    assert result.success, failure_message(result)
    loaded["2024-01-01"] = DAY1_RERUN
    meta = metadata_of(result)
    # d1-b changed; d1-a and d1-c hold what v1 stored, read by id through the rename, the
    # widenings, the dropped and the added column: unchanged.
    assert (meta["rows_inserted"], meta["rows_updated"], meta["rows_unchanged"]) == (0, 1, 2)
    table = live_table(root)
    assert_ids_are_the_generated_ones(table, v3)
    assert day1_file not in data_files(table)
    assert pyiceberg_rows(table, COLUMNS_V3) == expected_rows(loaded, COLUMNS_V3)
    assert duckdb_rows(table, COLUMNS_V3) == expected_rows(loaded, COLUMNS_V3)
