"""Typed staging, differentially: what the tables read back against what the value rules say.

Hypothesis draws a table model (a pyiceberg Schema of every supported type, optional or
required, nested, with the load columns last and field ids as the compiler gives them), and
one or two loads of records for it as a dlt resource yields them: camelCase and snake_case
keys, absent keys, unknown keys, None at every depth, and the edge values of each type.
tests/runtime/typed_staging_strategies.py works out what each record must become from the
value rules (README "Value rules", ARCHITECTURE.md load step 3) on its own; nothing here uses the
runtime's conversion code.

Each load runs the real way: `dg.materialize` of a daily-partitioned asset calling
`run_ingestion` (no Pandera model: this is about staging values exactly) on a SQLite
SqlCatalog and a local warehouse. Then:

- a load the rules accept reads back exactly as expected through pyiceberg's scan and through
  DuckDB's iceberg extension: NaN as NaN, -0.0 with its sign, timestamps as UTC microseconds,
  decimals exact, `[]` apart from null, map keys as sent; the materialization counts the rows
  and (in `rows_dropped_columns`) whether unknown keys were dropped; the load columns are set;
- a load holding a value the rules refuse fails with Cascade's refusal (a dagster Failure
  whose description says nothing was written) naming every refused column path
  (`tags.element` or `tags[]`, `origin.site_id`) and both keys of a name collision, and the
  table is as it was: the same metadata file and snapshot and no new file in the warehouse,
  or still no table.

Reader limits, compared around rather than skipped:
- pyiceberg 0.12's scan reads a null list of structs as `[]` and a null map of struct values as
  `{}` (runtime/pyiceberg_compat.py says why; the file holds the null). Its side of the
  comparison expects that; DuckDB's side expects the null.
- DuckDB reads every type drawn here (time, uuid, fixed and map included).

CI runs the "ci" hypothesis profile (tests/conftest.py): the same CI_EXAMPLES examples on
every run, not shrunk (see RUN below), in about 40 s. To explore with many more random
examples, each failure shrunk to a minimal scenario and kept in .hypothesis/ for the next run:

    HYPOTHESIS_PROFILE=explore .venv/bin/pytest tests/runtime/test_typed_staging_differential.py

A failure prints the scenario (the model's schema, each load's pages and verdict) and what
differs, reader by reader.
"""

import copy
import itertools
import math
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Context, Decimal, Inexact
from pathlib import Path

import dagster as dg
import dlt
import duckdb
import pytest
from hypothesis import Phase, example, given, settings
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

from cascade.runtime import IcebergResource, IngestionConfig, run_ingestion
from cascade.runtime.contract import TableContract
from tests.duckdb_reader import connect
from tests.helpers import materialize
from tests.runtime.typed_staging_strategies import (
    LOAD_COLUMNS,
    Bad,
    Load,
    Scenario,
    float32,
    model_of,
    scenarios,
)

# Slow: hundreds of Dagster loads drawn by hypothesis.
pytestmark = pytest.mark.slow

PARTITION = "2024-01-02"
ASSET = "dlt_t"

# How much to run follows the hypothesis profile (tests/conftest.py). Under "ci": a fixed
# CI_EXAMPLES examples (each one or two Dagster runs of about 0.3 s, and two reads), not shrunk,
# because every shrink step is another Dagster run and shrinking one failure takes minutes;
# CI prints the failing scenario as drawn. Under "explore": the profile's count, shrunk.
CI_EXAMPLES = 100
if settings.get_current_profile_name() == "ci":
    RUN = settings(max_examples=CI_EXAMPLES, phases=[Phase.explicit, Phase.generate])
else:
    RUN = settings()


# ---------------------------------------------------------------------------------------------
# The lakehouse: one catalog and warehouse for the whole test, a new table per example.


@dataclass
class Lakehouse:
    catalog: Catalog
    warehouse: Path
    duckdb: duckdb.DuckDBPyConnection
    tables: Iterator[int]

    def new_identifier(self) -> str:
        return f"raw.t{next(self.tables)}"


@pytest.fixture
def lakehouse(catalog: Catalog, catalog_env: dict[str, str]) -> Iterator[Lakehouse]:
    warehouse = Path(catalog_env["PYICEBERG_CATALOG__CASCADE__WAREHOUSE"].removeprefix("file://"))
    with connect() as connection:
        yield Lakehouse(catalog, warehouse, connection, itertools.count())


# ---------------------------------------------------------------------------------------------
# One load through Dagster, as generated code runs it.


def ingestion_asset(identifier: str, schema: Schema, pages: list[object]) -> dg.AssetsDefinition:
    table_name = identifier.split(".")[1]

    def source(partition_date: str):
        @dlt.resource(name=table_name)
        def records():
            # A copy per run: nothing downstream may change what the expectations were made of.
            yield from copy.deepcopy(pages)

        return records

    @dg.asset(name=ASSET, partitions_def=dg.DailyPartitionsDefinition("2024-01-01"))
    def dlt_t(
        context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
    ) -> Iterator[dg.MaterializeResult]:
        yield from run_ingestion(
            context,
            config=config,
            iceberg=iceberg,
            source=source,
            validation_schema=None,
            table=TableContract(
                identifier=identifier,
                schema=schema,
                partition_spec=PartitionSpec(),
                unique_key=("id",),
                last_column_id=schema.highest_field_id,
                last_partition_id=999,
            ),
            validate=False,
            max_runtime_seconds=None,
        )

    return dlt_t


def refusal(result: dg.ExecuteInProcessResult) -> str:
    """The description of the dagster Failure the run failed with."""
    [failure] = [event for event in result.all_events if event.is_step_failure]
    data = failure.step_failure_data
    if data.user_failure_data is None:
        error, chain = data.error, []
        while error is not None:
            chain.append(error.message.strip())
            error = error.cause or error.context
        raise AssertionError(
            "The load failed, but not with a refusal (a dagster Failure):\n" + "\n".join(chain)
        )
    return data.user_failure_data.description or ""


def names(message: str, path: tuple[str, ...]) -> bool:
    """Whether `message` names the column path as a whole (`alpha`, not the `alpha` of
    `x.alpha` or `x__alpha`). A list's element may be spelled pyiceberg's way (`tags.element`)
    or as `tags[]`."""
    spellings = [""]
    for part in path:
        steps = [f".{part}", "[]"] if part == "element" else [f".{part}"]
        spellings = [spelled + step for spelled in spellings for step in steps]
    return any(
        re.search(rf"(?<![\w.]){re.escape(spelled.removeprefix('.'))}(?!\w)", message)
        for spelled in spellings
    )


def names_key(message: str, key: str) -> bool:
    """Whether `message` names the source key `key`, on its own or under its parent's path
    (`origin.siteId`)."""
    return re.search(rf"(?<!\w){re.escape(key)}(?!\w)", message) is not None


@dataclass(frozen=True)
class TableState:
    exists: bool
    metadata_location: str | None
    snapshot_id: int | None
    files: frozenset[str]  # every file in the warehouse


def table_state(lakehouse: Lakehouse, identifier: str) -> TableState:
    files = frozenset(str(p) for p in lakehouse.warehouse.rglob("*") if p.is_file())
    if not lakehouse.catalog.table_exists(identifier):
        return TableState(False, None, None, files)
    table = lakehouse.catalog.load_table(identifier)
    snapshot = table.current_snapshot()
    return TableState(True, table.metadata_location, snapshot and snapshot.snapshot_id, files)


# ---------------------------------------------------------------------------------------------
# Values in one comparable form, whichever reader (or the expectations) they come from.

_DECIMALS = Context(prec=200, traps=[Inexact])


class Unexpected(str):
    """A read value of the wrong kind (a naive timestamp in a timestamptz column, ...)."""


def canonical(t: IcebergType, value: object) -> object:
    """Floats as repr (NaN is 'nan' whatever its bits, -0.0 keeps its sign), decimals as text
    with exactly `scale` places, timestamps as ISO text of UTC (or wall) microseconds, maps as
    dicts, uuids as text."""
    if value is None:
        return None
    match t:
        case BooleanType() if isinstance(value, bool):
            return value
        case IntegerType() | LongType() if isinstance(value, int) and not isinstance(value, bool):
            return value
        case FloatType() | DoubleType() if isinstance(value, float):
            return repr(value)
        case DecimalType() if isinstance(value, Decimal) and value.is_finite():
            places = value.quantize(Decimal(1).scaleb(-t.scale), context=_DECIMALS)
            return format(abs(places) if places == 0 else places, "f")
        case StringType() if isinstance(value, str):
            return value
        case BinaryType() | FixedType() if isinstance(value, bytes | bytearray):
            return bytes(value)
        case DateType() if type(value) is date:
            return value.isoformat()
        case TimeType() if isinstance(value, time) and value.tzinfo is None:
            return value.isoformat(timespec="microseconds")
        case TimestampType() if isinstance(value, datetime) and value.tzinfo is None:
            return value.isoformat(timespec="microseconds")
        case TimestamptzType() if isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(UTC).isoformat(timespec="microseconds")
        case UUIDType() if isinstance(value, uuid.UUID | bytes):
            return str(value if isinstance(value, uuid.UUID) else uuid.UUID(bytes=value))
        case ListType() if isinstance(value, list | tuple):
            return [canonical(t.element_type, element) for element in value]
        case StructType() if isinstance(value, dict):
            return {f.name: canonical(f.field_type, value.get(f.name)) for f in t.fields}
        case MapType() if isinstance(value, dict | list):
            pairs = list(value.items() if isinstance(value, dict) else value)
            if len({key for key, _ in pairs}) != len(pairs):
                return Unexpected(f"map with a repeated key: {value!r}")
            return {key: canonical(t.value_type, item) for key, item in pairs}
    return Unexpected(f"{type(value).__name__} {value!r}")


def as_pyiceberg_reads(t: IcebergType, value: object) -> object:
    """`value` as pyiceberg 0.12's scan shows it: a null list of structs as [], a null map of
    struct values as {} (see the module docstring)."""
    match t:
        case ListType():
            if value is None:
                return [] if isinstance(t.element_type, StructType) else None
            return [as_pyiceberg_reads(t.element_type, element) for element in value]
        case MapType():
            if value is None:
                return {} if isinstance(t.value_type, StructType) else None
            return {key: as_pyiceberg_reads(t.value_type, item) for key, item in value.items()}
        case StructType() if value is not None:
            return {f.name: as_pyiceberg_reads(f.field_type, value[f.name]) for f in t.fields}
    return value


# ---------------------------------------------------------------------------------------------
# Reading back


def data_columns(schema: Schema) -> list:
    return [f for f in schema.fields if f.name not in LOAD_COLUMNS]


def mismatches(reader: str, schema: Schema, expected: dict, rows: list[dict]) -> list[str]:
    """What differs between the rows a reader read and the expected rows (by id)."""
    found = {row["id"]: row for row in rows}
    problems = []
    if sorted(map(repr, found)) != sorted(map(repr, expected)) or len(found) != len(rows):
        problems.append(
            f"{reader}: ids {sorted(map(repr, found))}, expected {sorted(map(repr, expected))}"
        )
    for key, want in expected.items():
        row = found.get(key)
        if row is None:
            continue
        for f in data_columns(schema):
            wanted = canonical(f.field_type, want[f.name])
            got = canonical(f.field_type, row.get(f.name))
            if wanted != got:
                problems.append(
                    f"{reader}: id={key!r} column {f.name} ({f.field_type}): "
                    f"expected {wanted!r}, read {got!r}"
                )
    return problems


def read_pyiceberg(lakehouse: Lakehouse, identifier: str) -> list[dict]:
    return lakehouse.catalog.load_table(identifier).scan().to_arrow().to_pylist()


def read_duckdb(lakehouse: Lakehouse, metadata_location: str) -> list[dict]:
    cursor = lakehouse.duckdb.execute(
        "SELECT * FROM iceberg_scan(?)", [metadata_location.removeprefix("file://")]
    )
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def check_load_columns(rows: list[dict], ingested: dict[object, tuple[datetime, datetime]]) -> None:
    """dlt's `_dlt_load_id` and `_dlt_id` are filled, `_dlt_id` unique; `_cascade_ingested_at`
    is a UTC time within the run that loaded the row."""
    assert len({row["_dlt_id"] for row in rows}) == len(rows), "_dlt_id repeats"
    for row in rows:
        assert isinstance(row["_dlt_load_id"], str) and row["_dlt_load_id"]
        assert isinstance(row["_dlt_id"], str) and row["_dlt_id"]
        if row["id"] not in ingested:
            continue  # an id no load sent: `mismatches` reports it
        started, ended = ingested[row["id"]]
        assert started <= row["_cascade_ingested_at"] <= ended, (
            f"id={row['id']!r}: _cascade_ingested_at {row['_cascade_ingested_at']} is not "
            f"within its run ({started} .. {ended})"
        )


# ---------------------------------------------------------------------------------------------
# The edge cases the rules name, written out so that every run checks them, whatever Hypothesis
# draws besides.

_SITES = StructType(NestedField(0, "site_id", LongType(), required=True))
EDGE_VALUES = Scenario(
    model_of(
        [
            ("my_score", DoubleType(), False),
            ("reading", FloatType(), False),
            ("amount", DecimalType(38, 2), False),
            ("user_name", StringType(), False),
            ("tag_list", ListType(0, StringType(), element_required=False), False),
            ("seen_at", TimestamptzType(), False),
            ("label", ListType(0, _SITES, element_required=False), False),
            ("alpha", IntegerType(), False),
        ],
        key_type=LongType(),
    ),
    [
        Load(
            pages=[
                [
                    {
                        "id": 2**63 - 1,
                        "myScore": math.nan,
                        "reading": math.inf,
                        "amount": "9" * 36 + ".99",
                        "userName": "",
                        "tagList": [],
                        "seenAt": "2024-01-02T10:00:00+01:00",
                        "label": [],
                        "alpha": 2**31 - 1,
                        "extra": 1,
                    },
                    {
                        "id": -(2**63),
                        "my_score": -0.0,
                        "reading": -math.inf,
                        "amount": Decimal("-0.01"),
                        "user_name": "😀𝄞",
                        "tag_list": None,
                        "seen_at": datetime(2024, 1, 2, 10, tzinfo=timezone(timedelta(hours=1))),
                        "label": None,
                        "alpha": -(2**31),
                    },
                ],
                {
                    "id": 0,
                    "myScore": math.inf,
                    "reading": 0.1,
                    "amount": 12,
                    "tag_list": (None, "", "𝄞"),
                    "seen_at": datetime(2024, 1, 2, 9),
                    "label": [None, {"siteId": 5, "zz_top": 1}],
                },
            ],
            rows={
                2**63 - 1: {
                    "id": 2**63 - 1,
                    "my_score": math.nan,
                    "reading": math.inf,
                    "amount": Decimal("9" * 36 + ".99"),
                    "user_name": "",
                    "tag_list": [],
                    "seen_at": datetime(2024, 1, 2, 9, tzinfo=UTC),
                    "label": [],
                    "alpha": 2**31 - 1,
                },
                -(2**63): {
                    "id": -(2**63),
                    "my_score": -0.0,
                    "reading": -math.inf,
                    "amount": Decimal("-0.01"),
                    "user_name": "😀𝄞",
                    "tag_list": None,
                    "seen_at": datetime(2024, 1, 2, 9, tzinfo=UTC),
                    "label": None,
                    "alpha": -(2**31),
                },
                0: {
                    "id": 0,
                    "my_score": math.inf,
                    "reading": float32(0.1),
                    "amount": Decimal("12.00"),
                    "user_name": None,
                    "tag_list": [None, "", "𝄞"],
                    "seen_at": datetime(2024, 1, 2, 9, tzinfo=UTC),
                    "label": [None, {"site_id": 5}],
                    "alpha": None,
                },
            },
            refusals=[],
            dropped=2,
        )
    ],
)

_NOTHING_ELSE = {"tag_list": None, "amount": None, "alpha": None, "seen_at": None}
REFUSED_VALUES = Scenario(
    model_of(
        [
            ("user_name", StringType(), False),
            ("tag_list", ListType(0, StringType(), element_required=False), False),
            ("amount", DecimalType(38, 2), False),
            ("alpha", IntegerType(), False),
            ("seen_at", TimestampType(), False),
        ],
        key_type=StringType(),
    ),
    [
        # Refused on a fresh catalog: no table afterwards.
        Load(
            pages=[[{"id": "a", "userName": "\ud800"}]],
            rows={},
            refusals=[Bad("\ud800", ("user_name",), "a lone UTF-16 surrogate")],
            dropped=0,
        ),
        Load(
            pages=[[{"id": "b", "user_name": "x"}]],
            rows={"b": {"id": "b", "user_name": "x"} | _NOTHING_ELSE},
            refusals=[],
            dropped=0,
        ),
        # Refused on an existing table: the table stays as it was.
        Load(
            pages=[
                [
                    {"id": "c", "userName": "y", "user_name": "z"},
                    {"id": "d", "tagList": ["ok", "\ud800"]},
                ],
                [
                    {"id": "e", "amount": "1" + "0" * 36 + ".00"},
                    {"id": "f", "alpha": 2**31},
                    {"id": "g", "seen_at": "2024-01-02T10:00:00+01:00"},
                ],
            ],
            rows={},
            refusals=[
                Bad(None, ("user_name",), "two keys", ("userName", "user_name")),
                Bad("\ud800", ("tag_list", "element"), "a lone UTF-16 surrogate"),
                Bad(None, ("amount",), "one integer digit more than decimal(38, 2) holds"),
                Bad(2**31, ("alpha",), "out of range for 32 bits"),
                Bad(None, ("seen_at",), "an offset in a timestamp without zone"),
            ],
            dropped=0,
        ),
    ],
)


# ---------------------------------------------------------------------------------------------


@RUN
@given(scenario=scenarios())
@example(scenario=EDGE_VALUES)
@example(scenario=REFUSED_VALUES)
def test_loads_land_as_the_value_rules_say_or_are_refused_naming_the_column(
    lakehouse: Lakehouse, scenario: Scenario
) -> None:
    check_scenario(lakehouse, scenario)


def check_scenario(lakehouse: Lakehouse, scenario: Scenario) -> None:
    """Run the scenario's loads into a new table; assert each verdict and what reads back."""
    identifier = lakehouse.new_identifier()
    schema = scenario.model.schema
    expected: dict[object, dict] = {}  # id -> typed row, over the accepted loads
    ingested: dict[object, tuple[datetime, datetime]] = {}

    for number, load in enumerate(scenario.loads, start=1):
        before = table_state(lakehouse, identifier)
        started = datetime.now(UTC)
        result = materialize(ingestion_asset(identifier, schema, load.pages), PARTITION)
        ended = datetime.now(UTC)

        if load.refusals:
            assert not result.success, f"Load {number} was accepted; the rules refuse it"
            message = refusal(result)
            assert "nothing was written" in message, f"Load {number}: {message}"
            for planted in load.refusals:
                path = ".".join(planted.path)
                assert names(message, planted.path), (
                    f"Load {number}: the refusal does not name {path} ({planted.why}):\n{message}"
                )
                for key in planted.keys:
                    assert names_key(message, key), (
                        f"Load {number}: the refusal does not name the source key {key!r} "
                        f"of {path}:\n{message}"
                    )
            after = table_state(lakehouse, identifier)
            assert after == before, (
                f"Load {number} was refused but changed the table or the warehouse:\n"
                f"before {before.metadata_location} snapshot {before.snapshot_id}, "
                f"after {after.metadata_location} snapshot {after.snapshot_id}; "
                f"new files {sorted(after.files - before.files)}"
            )
            continue

        assert result.success, f"Load {number} was refused; the rules accept it:\n" + (
            refusal(result)
        )
        [materialization] = result.asset_materializations_for_node(ASSET)
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        assert metadata["rows_inserted"] == len(load.rows)
        assert (metadata["rows_dropped_columns"] > 0) == (load.dropped > 0), (
            f"Load {number} had {load.dropped} unknown key(s); "
            f"rows_dropped_columns is {metadata['rows_dropped_columns']}"
        )
        expected |= load.rows
        ingested |= dict.fromkeys(load.rows, (started, ended))

    if not expected:
        assert not lakehouse.catalog.table_exists(identifier)
        return
    table = lakehouse.catalog.load_table(identifier)
    read = read_pyiceberg(lakehouse, identifier)
    check_load_columns(read, ingested)
    as_pyiceberg = {
        key: {f.name: as_pyiceberg_reads(f.field_type, row[f.name]) for f in data_columns(schema)}
        for key, row in expected.items()
    }
    problems = mismatches("pyiceberg", schema, as_pyiceberg, read)
    problems += mismatches(
        "DuckDB", schema, expected, read_duckdb(lakehouse, table.metadata_location)
    )
    assert not problems, "\n".join(problems)
