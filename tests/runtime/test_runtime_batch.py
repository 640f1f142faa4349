"""Batch preparation and Pandera validation on Arrow tables, without a catalog."""

import uuid
from datetime import UTC, datetime

import pandera.polars
import pyarrow as pa
import pytest
from dlt.common.schema import Schema as DltSchema
from pandera.pandas import DataFrameModel, Field
from pyiceberg.schema import Schema
from pyiceberg.types import (
    DoubleType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    UUIDType,
)

from cascade.runtime import BatchError, ValidationFailed
from cascade.runtime.batch import conform, last_of_each_key
from cascade.runtime.records import RecordConverter
from cascade.runtime.validation import validate_batch

NOW = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

SCHEMA = Schema(
    NestedField(1, "_id", StringType(), required=True),
    NestedField(2, "count", LongType(), required=True),
    NestedField(3, "ratio", DoubleType(), required=False),
    NestedField(4, "trend", LongType(), required=False),
    NestedField(5, "_dlt_id", StringType(), required=True),
    NestedField(6, "_cascade_ingested_at", TimestamptzType(), required=True),
)


def staged(**columns: list) -> pa.Table:
    return pa.table({"_dlt_id": [f"row{i}" for i in range(len(columns["_id"]))], **columns})


def test_conform_projects_casts_and_stamps_the_batch() -> None:
    # Staged as the converter and dlt's parquet give it: other column order, 32-bit ints where
    # the table has 64, columns the schema does not have.
    rows = staged(extra=[1, 2], count=pa.array([1, 2], pa.int32()), _id=["a", "b"], more=["x", "y"])
    rows = rows.append_column("ratio", pa.array([None, 0.5], pa.float64()))
    rows = rows.append_column("trend", pa.array([None, None], pa.int64()))

    conformed = conform(rows, SCHEMA, ingested_at=NOW)

    assert conformed.schema == SCHEMA.as_arrow()
    assert conformed.schema.field("count").metadata[b"PARQUET:field_id"] == b"2"
    assert conformed.to_pylist() == [
        {
            "_id": "a",
            "count": 1,
            "ratio": None,
            "trend": None,
            "_dlt_id": "row0",
            "_cascade_ingested_at": NOW,
        },
        {
            "_id": "b",
            "count": 2,
            "ratio": 0.5,
            "trend": None,
            "_dlt_id": "row1",
            "_cascade_ingested_at": NOW,
        },
    ]


def test_conform_replaces_an_ingested_at_column_from_the_source() -> None:
    rows = staged(_id=["a"], count=[1], ratio=[None], trend=[None], _cascade_ingested_at=["x"])

    conformed = conform(rows, SCHEMA, ingested_at=NOW)

    assert conformed.column("_cascade_ingested_at").to_pylist() == [NOW]


def test_conform_refuses_staged_rows_without_a_schema_column() -> None:
    rows = staged(_id=["a"], ratio=[0.5])

    with pytest.raises(BatchError) as raised:
        conform(rows, SCHEMA, ingested_at=NOW)

    assert str(raised.value) == (
        "The staged rows lack the column(s) count, trend; staged: _dlt_id, _id, ratio, "
        "_cascade_ingested_at"
    )


def test_conform_turns_staging_types_back_into_the_tables_types() -> None:
    # What dlt's parquet staging holds: a UUID as its 16 bytes, a time without zone in UTC,
    # a dictionary-encoded load id, 32-bit offsets.
    schema = Schema(
        NestedField(1, "device", UUIDType(), required=True),
        NestedField(2, "local", TimestampType(), required=False),
        NestedField(3, "tags", ListType(6, StringType(), element_required=False)),
        NestedField(4, "_dlt_load_id", StringType(), required=True),
        NestedField(5, "_cascade_ingested_at", TimestamptzType(), required=True),
    )
    device = uuid.UUID(int=7)
    rows = pa.table(
        {
            "device": pa.array([device.bytes], pa.binary(16)),
            "local": pa.array([datetime(2024, 1, 2, 10, tzinfo=UTC)], pa.timestamp("us", "UTC")),
            "tags": pa.array([["x"]], pa.list_(pa.string())),
            "_dlt_load_id": pa.array(["load"]).dictionary_encode(),
        }
    )

    conformed = conform(rows, schema, ingested_at=NOW)

    assert conformed.schema == schema.as_arrow()
    assert conformed.to_pylist() == [
        {
            "device": device,
            "local": datetime(2024, 1, 2, 10),
            "tags": ["x"],
            "_dlt_load_id": "load",
            "_cascade_ingested_at": NOW,
        }
    ]


@pytest.mark.parametrize("nested_in_list", [False, True], ids=["struct", "list of structs"])
def test_conform_keeps_a_null_struct_whose_fields_are_required(nested_in_list: bool) -> None:
    # Arrow's cast and the parquet writer refuse a null in a non-nullable field even under a
    # null struct: the converter fills such slots, and conform casts what it staged.
    struct = StructType(NestedField(2, "a", StringType(), required=True))
    field_type = ListType(3, struct, element_required=False) if nested_in_list else struct
    schema = Schema(NestedField(1, "s", field_type, required=False))
    values = [[None], [{"a": "x"}]] if nested_in_list else [None, {"a": "x"}]
    staged = RecordConverter(schema, DltSchema("t").naming)([{"s": value} for value in values])

    conformed = conform(staged, schema, ingested_at=NOW)

    assert conformed.schema == schema.as_arrow()
    assert conformed.column("s").to_pylist() == values


def test_deduplication_keeps_the_last_row_of_each_key_in_order() -> None:
    rows = pa.table({"k1": ["a", "b", "a", "c", "a"], "k2": [1, 1, 1, 1, 2], "v": [1, 2, 3, 4, 5]})

    kept = last_of_each_key(rows, ("k1", "k2"))

    assert kept.to_pylist() == [1, 2, 3, 4]
    assert rows.take(kept).column("v").to_pylist() == [2, 3, 4, 5]
    assert last_of_each_key(rows.slice(0, 2), ("k1", "k2")) is None  # no key repeats


def test_deduplication_refuses_a_null_key() -> None:
    with pytest.raises(BatchError, match="'k' is null in 1 row"):
        last_of_each_key(pa.table({"k": ["a", None]}), ("k",))


class Glucose(DataFrameModel):
    # Pandera ignores attributes that start with "_", hence the alias.
    entry_id: str = Field(alias="_id", unique=True)
    count: int = Field(ge=1, le=1000)
    ratio: float | None = Field(nullable=True)
    trend: int | None = Field(ge=0, le=9, nullable=True)
    at: datetime = Field()

    class Config:
        strict = True


def glucose_batch(counts: list[int], trends: list[int | None]) -> pa.Table:
    n = len(counts)
    return pa.table(
        {
            "_id": [f"id{i}" for i in range(n)],
            "count": pa.array(counts, pa.int64()),
            "ratio": pa.array([None] * n, pa.float64()),
            "trend": pa.array(trends, pa.int64()),
            "at": pa.array([NOW] * n, pa.timestamp("us", tz="UTC")),
            "_dlt_load_id": ["load"] * n,
            "_dlt_id": [f"row{i}" for i in range(n)],
            "_cascade_ingested_at": pa.array([NOW] * n, pa.timestamp("us", tz="UTC")),
        }
    )


def test_validation_accepts_arrow_typed_data_that_pandera_dtypes_would_reject() -> None:
    # Ints with nulls become float64 in pandas and timestamps are UTC microseconds; the load
    # columns are not in the strict model.
    validate_batch(glucose_batch([5, 6], [None, 3]), Glucose, "raw.glucose")


def test_validation_failure_names_column_check_count_and_values() -> None:
    bad = glucose_batch([5000, 7, 0, 6000], [12, None, 3, 4])

    with pytest.raises(ValidationFailed) as raised:
        validate_batch(bad, Glucose, "raw.glucose")

    assert str(raised.value).splitlines() == [
        "Glucose rejected the batch for raw.glucose; nothing was written.",
        "count: greater_than_or_equal_to(1) failed for 1 row(s): 0",
        "count: less_than_or_equal_to(1000) failed for 2 row(s): 5000, 6000",
        # 12, not 12.0: values come from the batch, not from pandas' float conversion.
        "trend: less_than_or_equal_to(9) failed for 1 row(s): 12",
    ]
    assert raised.value.allow_retries is False


def test_validation_reports_a_missing_column() -> None:
    with pytest.raises(ValidationFailed, match="Glucose: column_in_dataframe failed: 'count'"):
        validate_batch(glucose_batch([5], [1]).drop_columns(["count"]), Glucose, "raw.glucose")


class PolarsGlucose(pandera.polars.DataFrameModel):
    entry_id: str = pandera.polars.Field(alias="_id", unique=True)
    count: int = pandera.polars.Field(ge=1, le=1000)
    ratio: float | None = pandera.polars.Field(nullable=True)
    trend: int | None = pandera.polars.Field(ge=0, le=9, nullable=True)
    at: datetime = pandera.polars.Field()

    class Config:
        strict = True


def test_a_polars_model_reports_failures_like_a_pandas_model() -> None:
    validate_batch(glucose_batch([5, 6], [None, 3]), PolarsGlucose, "raw.glucose")
    bad = glucose_batch([5000, 7, 0, 6000], [12, None, 3, 4])

    with pytest.raises(ValidationFailed) as raised:
        validate_batch(bad, PolarsGlucose, "raw.glucose")

    assert str(raised.value).splitlines() == [
        "PolarsGlucose rejected the batch for raw.glucose; nothing was written.",
        "count: greater_than_or_equal_to(1) failed for 1 row(s): 0",
        "count: less_than_or_equal_to(1000) failed for 2 row(s): 5000, 6000",
        "trend: less_than_or_equal_to(9) failed for 1 row(s): 12",
    ]
    with pytest.raises(ValidationFailed, match="column_in_dataframe failed: 'count'"):
        validate_batch(bad.drop_columns(["count"]), PolarsGlucose, "raw.glucose")
