"""Lists, maps and structs end to end: the converter stages them as the table's nested types
(no JSON text on the way), the merge writes them, and an independent reader (DuckDB) reads
them back."""

import json
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import dagster as dg
import dlt
import pyarrow as pa
import pytest
from dlt.common.schema import Schema as DltSchema
from pandera.pandas import DataFrameModel, Field
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema, index_by_name
from pyiceberg.types import (
    BinaryType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    UUIDType,
)
from typing_extensions import TypedDict  # Pandera needs it for TypedDict on Python < 3.12

from cascade.runtime import BatchError, IcebergResource, IngestionConfig, run_ingestion
from cascade.runtime.batch import conform
from cascade.runtime.contract import TableContract
from cascade.runtime.records import RecordConverter
from tests.duckdb_reader import query_iceberg
from tests.helpers import materialize

IDENTIFIER = "raw.visits"
PARTITION = "2024-01-02"


class Position(TypedDict):
    lat: float
    lng: float


class Origin(TypedDict):
    site_name: str
    position: Position | None
    seen_at: datetime | None


class Visit(DataFrameModel):
    visit_id: str = Field(alias="_id", unique=True)
    tags: list[str] | None = Field(nullable=True)
    counts: dict[str, int] | None = Field(nullable=True)
    origin: Origin | None = Field(nullable=True)


# What the compiler generates for `Visit`: the data columns, then the load columns, then the
# nested fields in the order pyiceberg's create_table numbers them.
SCHEMA = Schema(
    NestedField(1, "_id", StringType(), required=True),
    NestedField(
        2,
        "tags",
        ListType(element_id=8, element=StringType(), element_required=True),
        required=False,
    ),
    NestedField(
        3,
        "counts",
        MapType(
            key_id=9,
            key_type=StringType(),
            value_id=10,
            value_type=LongType(),
            value_required=True,
        ),
        required=False,
    ),
    NestedField(
        4,
        "origin",
        StructType(
            NestedField(11, "site_name", StringType(), required=True),
            NestedField(
                12,
                "position",
                StructType(
                    NestedField(14, "lat", DoubleType(), required=True),
                    NestedField(15, "lng", DoubleType(), required=True),
                ),
                required=False,
            ),
            NestedField(13, "seen_at", TimestamptzType(), required=False),
        ),
        required=False,
    ),
    NestedField(5, "_dlt_load_id", StringType(), required=True),
    NestedField(6, "_dlt_id", StringType(), required=True),
    NestedField(7, "_cascade_ingested_at", TimestamptzType(), required=True),
)


def visit(key: str, **fields: object) -> dict:
    return {"_id": key, **fields}


ROWS = [
    visit(
        "a",
        tags=["x", "y"],
        counts={"clicks": 3, "views": 10},
        # As an API sends it: camelCase inside the object, and a key the struct does not have.
        origin={
            "siteName": "home",
            "position": {"lat": 52.5, "lng": 13},
            "seenAt": "2024-01-02T10:00:00+01:00",
            "extra": True,
        },
    ),
    visit("b", tags=[], counts={}, origin={"site_name": "blog", "position": None}),
    visit("c"),
]


def visits_source(rows: list[dict]):
    """An ingestion function: one resource yielding `rows` as the source sends them."""

    def ingest(partition_date: str):
        @dlt.resource(name="visits")
        def visits():
            yield from rows

        return visits

    return ingest


def asset(rows: list[dict]) -> dg.AssetsDefinition:
    @dg.asset(name="dlt_visits", partitions_def=dg.DailyPartitionsDefinition("2024-01-01"))
    def dlt_visits(
        context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
    ) -> dg.MaterializeResult:
        yield from run_ingestion(
            context,
            config=config,
            iceberg=iceberg,
            source=visits_source(rows),
            validation_schema=Visit,
            table=TableContract(
                identifier=IDENTIFIER,
                schema=SCHEMA,
                partition_spec=PartitionSpec(),
                unique_key=("_id",),
                retired_field_ids={},
                last_column_id=15,
                last_partition_id=999,
            ),
            validate=True,
            max_runtime_seconds=None,
        )

    return dlt_visits


def test_nested_values_load_with_the_generated_ids_and_read_back(catalog: Catalog) -> None:
    instance = dg.DagsterInstance.ephemeral()

    result = materialize(asset(ROWS), PARTITION, instance=instance)

    assert result.success, result.failure_data_for_node("dlt_visits").error.message
    [materialization] = result.asset_materializations_for_node("dlt_visits")
    assert materialization.metadata["rows_inserted"].value == 3
    # The key the struct does not have is dropped and reported by its path.
    assert materialization.metadata["rows_dropped_columns"].value == 1
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert (
        "Dropped 1 key(s) the table schema does not have: origin.extra (1 record(s)). "
        "To keep them, declare them in the model; to drop them without this warning, "
        "add ignored_keys=('origin.extra',) to the ingestion's decorator."
    ) in logged
    table = catalog.load_table(IDENTIFIER)
    assert index_by_name(table.schema()) == index_by_name(SCHEMA)
    rows = {row["_id"]: row for row in table.scan().to_arrow().to_pylist()}
    assert rows["a"]["tags"] == ["x", "y"]
    assert rows["a"]["counts"] == [("clicks", 3), ("views", 10)]
    assert rows["a"]["origin"] == {
        "site_name": "home",
        "position": {"lat": 52.5, "lng": 13.0},
        "seen_at": datetime(2024, 1, 2, 9, tzinfo=UTC),
    }
    assert rows["b"]["tags"] == [] and rows["b"]["counts"] == []
    assert rows["b"]["origin"] == {"site_name": "blog", "position": None, "seen_at": None}
    assert rows["c"]["tags"] is rows["c"]["counts"] is rows["c"]["origin"] is None

    assert query_iceberg(
        table.metadata_location,
        "SELECT _id, len(tags), tags[1], counts['views'], origin.site_name, origin.position.lat,"
        " origin.seen_at = TIMESTAMPTZ '2024-01-02 09:00:00+00' FROM {table}",
    ) == [
        ("a", 2, "x", 10, "home", 52.5, True),
        ("b", 0, None, None, "blog", None, None),
        ("c", None, None, None, None, None, None),
    ]


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ({"tags": ["x", 7]}, "tags[]: 1 value(s) do not fit string: 7 (an int, not text)"),
        ({"tags": ["x", None]}, "tags[]: 1 element(s) are null, but elements are required"),
        (
            {"counts": {"n": "many"}},
            "counts.value: 1 value(s) do not fit long: 'many' (not an integer)",
        ),
        (
            {"origin": {"position": {"lat": 1, "lng": 2}}},
            "origin.site_name: 1 value(s) are null or absent, but the field is required",
        ),
        (
            {"origin": {"site_name": "x", "position": "here"}},
            "origin.position: 1 value(s) are not objects: 'here'",
        ),
        (
            {"origin": "home"},
            "origin: 1 value(s) are not objects: 'home'",
        ),
    ],
)
def test_a_nested_value_that_does_not_fit_names_column_and_value(
    catalog: Catalog, bad: dict, problem: str
) -> None:
    result = materialize(asset([visit("a", tags=["ok"]), visit("b", **bad)]), PARTITION)

    assert not result.success
    failure = result.failure_data_for_node("dlt_visits").user_failure_data
    assert failure.description.splitlines() == [
        "The records for raw.visits do not fit its schema; nothing was written.",
        f"  {problem}",
    ]
    assert not catalog.table_exists(IDENTIFIER)


# The conversion on its own: records as a JSON parser gives them -> the converter -> conform.


def conform_one(field: NestedField, *values: object):
    """Convert `values` (one record each) for a one-column schema and conform them."""
    schema = Schema(NestedField(1, "_id", StringType(), required=True), field)
    records = [{"_id": f"r{i}", field.name: value} for i, value in enumerate(values)]
    return convert_and_conform(schema, records)


def convert_and_conform(schema: Schema, item: object) -> pa.Table:
    converter = RecordConverter(schema, DltSchema("visits").naming)
    staged = converter(item)
    if converter.problems:
        raise BatchError("\n".join(converter.problems.lines()))
    return conform(staged, schema, datetime.now(UTC))


def test_json_values_become_the_fields_types() -> None:
    field = NestedField(
        2,
        "reading",
        StructType(
            NestedField(3, "at", TimestamptzType(), required=True),
            NestedField(4, "local", TimestampType()),
            NestedField(5, "day", DateType()),
            NestedField(6, "amount", DecimalType(9, 2)),
            NestedField(7, "by_hour", MapType(8, IntegerType(), 9, DoubleType())),
            NestedField(10, "device", UUIDType()),
            NestedField(11, "raw", BinaryType()),
        ),
    )
    device = uuid.UUID(int=7)

    conformed = conform_one(
        field,
        json.loads(
            json.dumps(
                {
                    "at": "2024-01-02T10:00:00+01:00",
                    "local": "2024-01-02T10:00:00",
                    "day": "2024-01-02",
                    "amount": "12.50",
                    "byHour": {"1": 2, "23": 0.5},
                    "device": str(device),
                }
            )
        ),
        # Naive times in a UTC column count as UTC, as dlt counts them; a float is a decimal
        # by its shortest repr.
        json.loads('{"at": "2024-01-02T10:00:00", "amount": 3.25}'),
        None,
        # A Python source may send bytes; JSON cannot.
        {"at": datetime(2024, 1, 2, tzinfo=UTC), "raw": b"\x00\xff"},
    )

    first, second, third, fourth = conformed.column("reading").to_pylist()
    assert first == {
        "at": datetime(2024, 1, 2, 9, tzinfo=UTC),
        "local": datetime(2024, 1, 2, 10),
        "day": date(2024, 1, 2),
        "amount": Decimal("12.50"),
        "by_hour": [(1, 2.0), (23, 0.5)],
        "device": device,
        "raw": None,
    }
    assert second["at"] == datetime(2024, 1, 2, 10, tzinfo=UTC)
    assert second["amount"] == Decimal("3.25")
    assert third is None
    assert fourth["raw"] == b"\x00\xff"
    assert conformed.schema.field("reading").type == Schema(field).as_arrow()[0].type


def test_a_uuid_column_given_as_text_becomes_uuids() -> None:
    field = NestedField(2, "device", UUIDType(), required=False)

    conformed = conform_one(field, str(uuid.UUID(int=1)), None, uuid.UUID(int=2))

    assert conformed.column("device").to_pylist() == [uuid.UUID(int=1), None, uuid.UUID(int=2)]
    bad = "device: 1 value(s) do not fit uuid: 'not-a-uuid' (not a UUID)"
    with pytest.raises(BatchError, match=re.escape(bad)):
        conform_one(field, "not-a-uuid")


@pytest.mark.parametrize(
    ("field", "values", "problem"),
    [
        (
            NestedField(2, "tags", ListType(3, StringType(), element_required=True)),
            [["a", None], ["b"]],
            "tags[]: 1 element(s) are null, but elements are required",
        ),
        (
            NestedField(2, "amounts", ListType(3, DecimalType(4, 2), element_required=False)),
            [[1.5], [1.234], [100.5]],
            "amounts[]: 2 value(s) do not fit decimal(4, 2): "
            "1.234 (more than 2 decimal place(s); Cascade never rounds), "
            "100.5 (more than 2 digit(s) before the point)",
        ),
        (
            # RUNTIME BUG: a refused map key crashes the converter (ArrowInvalid "Map cannot
            # contain NULL valued keys") instead of being reported.
            NestedField(2, "counts", MapType(3, LongType(), 4, LongType())),
            [{"x": 1}],
            "counts.key: 1 value(s) do not fit long: 'x' (not an integer)",
        ),
        (
            NestedField(2, "origin", StructType(NestedField(3, "n", IntegerType()))),
            [{"n": 2.5}, {"n": 3000000000}, {"n": True}],
            "origin.n: 3 value(s) do not fit int: 2.5 (not an integer), "
            "3000000000 (out of range for int, 32-bit), True (a boolean, not an integer)",
        ),
    ],
    ids=["list element required", "list of decimals", "map key", "struct field"],
)
def test_values_that_do_not_fit_are_named_with_where_they_fail(
    field: NestedField, values: list, problem: str
) -> None:
    with pytest.raises(BatchError) as raised:
        conform_one(field, *values)

    assert str(raised.value) == problem


def test_nested_columns_given_as_arrow_values_are_cast() -> None:
    # A resource that yields Arrow tables reaches the converter with nested types already.
    field = NestedField(2, "tags", ListType(3, StringType(), element_required=False))
    schema = Schema(NestedField(1, "_id", StringType(), required=True), field)
    table = pa.table(
        {"_id": ["a", "b", "c"], "tags": pa.array([["x"], [], None], pa.list_(pa.large_string()))}
    )

    conformed = convert_and_conform(schema, table)

    assert conformed.column("tags").to_pylist() == [["x"], [], None]
    assert conformed.schema == schema.as_arrow()
