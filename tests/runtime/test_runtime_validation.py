"""`validate_batch`: a typed Arrow batch checked against a real Pandera model, written with
Pandera's pandas API or its polars API; both must give the same verdict and the same message."""

from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType

import dagster as dg
import pandera.pandas
import pandera.polars
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.types import DoubleType, NestedField

from cascade.runtime import IcebergResource, IngestionConfig, ValidationFailed, run_ingestion
from cascade.runtime.contract import TableContract
from cascade.runtime.validation import validate_batch
from tests.helpers import failure_message
from tests.runtime.test_runtime_ingestion import (
    IDENTIFIER,
    PARTITION_SPEC,
    SCHEMA,
    materialize,
    reading,
    rows_source,
)

pytestmark = pytest.mark.usefixtures("catalog")

NAN = float("nan")
INF = float("inf")

APIS = [pandera.pandas, pandera.polars]


def api_id(api: ModuleType) -> str:
    return api.__name__.rsplit(".", 1)[-1]


def rejection(batch: pa.Table, model: type) -> list[str]:
    """The lines of the refusal; its metadata carries the same failures."""
    with pytest.raises(ValidationFailed) as raised:
        validate_batch(batch, model, "raw.t")
    lines = str(raised.value).splitlines()
    assert lines[0] == f"{model.__name__} rejected the batch for raw.t; nothing was written."
    assert raised.value.metadata["failures"].value == "\n".join(lines[1:])
    assert raised.value.metadata["failed_checks"].value == len(lines) - 1
    assert raised.value.allow_retries is False
    return lines[1:]


def temperatures(api: ModuleType) -> type:
    class Temperatures(api.DataFrameModel):
        temp: float | None = api.Field(ge=0, nullable=True)
        reading: float = api.Field(ge=0)
        ratio: float | None = api.Field(gt=0, le=1, nullable=True)

    return Temperatures


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_nan_and_minus_inf_fail_comparisons_in_nullable_and_required_columns(api) -> None:
    batch = pa.table(
        {
            "temp": pa.array([1.0, NAN, None, -INF, INF, -0.0], pa.float64()),
            "reading": pa.array([NAN, -INF, INF, 0.0, 2.0, 3.0], pa.float64()),
            "ratio": pa.array([NAN, INF, -INF, 0.5, None, 1.0], pa.float32()),
        }
    )

    assert rejection(batch, temperatures(api)) == [
        # +inf passes ge=0; the null is skipped; NaN is a value that no comparison accepts
        # (polars alone would order it above every number and let it pass gt and ge).
        "temp: greater_than_or_equal_to(0) failed for 2 row(s): nan, -inf",
        "reading: greater_than_or_equal_to(0) failed for 2 row(s): nan, -inf",
        "ratio: greater_than(0) failed for 2 row(s): nan, -inf",
        "ratio: less_than_or_equal_to(1) failed for 2 row(s): nan, inf",
    ]


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_nan_in_a_required_column_is_a_value_and_null_in_a_nullable_one_is_skipped(api) -> None:
    batch = pa.table(
        {
            "temp": pa.array([None, 0.0, INF], pa.float64()),
            "reading": pa.array([0.0, 1.0, INF], pa.float64()),
            "ratio": pa.array([None, None, 0.25], pa.float32()),
        }
    )
    validate_batch(batch, temperatures(api), "raw.t")

    class Measured(api.DataFrameModel):
        value: float = api.Field()

    validate_batch(pa.table({"value": [NAN, INF, -INF]}), Measured, "raw.t")
    assert rejection(pa.table({"value": pa.array([NAN, None], pa.float64())}), Measured) == [
        "value: not_nullable failed for 1 row(s): None"
    ]


def contacts(api: ModuleType) -> type:
    class Contacts(api.DataFrameModel):
        email: str | None = api.Field(nullable=True, unique=True)

    return Contacts


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_two_nulls_in_a_unique_column_are_duplicates_and_named(api) -> None:
    # Pandera compares nulls as equal under `unique`; its pandas backend used to drop them
    # from the failure cases and the batch was refused with an empty reason.
    assert rejection(pa.table({"email": ["a@x", None, None]}), contacts(api)) == [
        "email: field_uniqueness failed for 2 row(s): None, None"
    ]
    validate_batch(pa.table({"email": ["a@x", None, "b@x"]}), contacts(api), "raw.t")


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_duplicate_values_in_a_unique_column_are_listed_with_duplicate_nulls(api) -> None:
    batch = pa.table({"email": ["a@x", None, "b@x", "a@x", None, "c@x"]})

    assert rejection(batch, contacts(api)) == [
        "email: field_uniqueness failed for 4 row(s): 'a@x', None, 'a@x', None"
    ]


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_nan_repeats_nan_under_unique_but_not_null(api) -> None:
    class Samples(api.DataFrameModel):
        value: float | None = api.Field(nullable=True, unique=True)

    validate_batch(pa.table({"value": pa.array([NAN, None, 1.0])}), Samples, "raw.t")
    assert rejection(pa.table({"value": pa.array([NAN, 1.0, NAN])}), Samples) == [
        "value: field_uniqueness failed for 2 row(s): nan, nan"
    ]


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_model_wide_uniqueness_names_its_columns_and_rows_with_nulls(api) -> None:
    class Visits(api.DataFrameModel):
        user: str | None = api.Field(nullable=True)
        day: int | None = api.Field(nullable=True)
        note: str | None = api.Field(nullable=True)

        class Config:
            unique = ["user", "day"]

    batch = pa.table(
        {
            "user": ["u", "u", None, None, "v"],
            "day": pa.array([1, 1, None, None, None], pa.int64()),
            "note": ["a", "b", "c", "d", "e"],
        }
    )

    assert rejection(batch, Visits) == [
        "user, day: multiple_fields_uniqueness failed for 4 row(s): "
        "('u', 1), ('u', 1), (None, None), (None, None)"
    ]


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_ints_near_2_to_the_63_are_checked_and_reported_exactly(api) -> None:
    class Counters(api.DataFrameModel):
        counter: int = api.Field(ge=-(2**63) + 1, le=2**63 - 2)
        # Nullable: numpy would hold this column as float64, where 2**53 + 1 == 2**53.
        offset: int | None = api.Field(le=2**53, nullable=True)

    batch = pa.table(
        {
            "counter": pa.array([2**63 - 1, -(2**63), 2**63 - 2, 0], pa.int64()),
            "offset": pa.array([2**53 + 1, None, 2**53, -(2**62)], pa.int64()),
        }
    )

    assert rejection(batch, Counters) == [
        "counter: greater_than_or_equal_to(-9223372036854775807) failed for 1 row(s): "
        "-9223372036854775808",
        "counter: less_than_or_equal_to(9223372036854775806) failed for 1 row(s): "
        "9223372036854775807",
        "offset: less_than_or_equal_to(9007199254740992) failed for 1 row(s): 9007199254740993",
    ]


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_string_checks_on_a_null_free_column_show_the_values(api) -> None:
    class Logins(api.DataFrameModel):
        login: str = api.Field(str_length={"min_value": 1, "max_value": 3}, str_matches=r"^[a-z]+$")
        kind: str = api.Field(isin=["user", "bot"])

    batch = pa.table({"login": ["abc", "abcd", "", "x y"], "kind": ["user", "bot", "org", "user"]})

    assert rejection(batch, Logins) == [
        "login: str_matches('^[a-z]+$') failed for 2 row(s): '', 'x y'",
        "login: str_length(1, 3) failed for 2 row(s): 'abcd', ''",
        "kind: isin(['user', 'bot']) failed for 1 row(s): 'org'",
    ]


# Through a real materialization: dlt stages the rows, the runtime types them, the model
# refuses NaN and -inf, and the table is never created.
TEMPERATURE_SCHEMA = Schema(
    *(field for field in SCHEMA.fields if field.name != "note"),
    NestedField(8, "temp", DoubleType(), required=False),
)


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_ints_beyond_the_models_own_int_dtype_are_refused(api) -> None:
    # The table's int column holds 32 bits; the model said 8 (and unsigned 32).
    narrow = {"pandas": (pandera.pandas.Int8, pandera.pandas.UInt32)}.get(api_id(api))
    if narrow is None:
        import polars

        narrow = (polars.Int8, polars.UInt32)

    class Counters(api.DataFrameModel):
        small: narrow[0] = api.Field(nullable=True)
        unsigned: narrow[1] = api.Field(nullable=True)

    batch = pa.table(
        {
            "small": pa.array([1, 1000, None, -129, 127], pa.int32()),
            "unsigned": pa.array([0, -1, 2**40, None, 2**32 - 1], pa.int64()),
        }
    )

    assert rejection(batch, Counters) == [
        "small: dtype('int8') failed for 2 row(s): 1000, -129",
        "unsigned: dtype('uint32') failed for 2 row(s): -1, 1099511627776",
    ]


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_a_plain_datetime_field_is_checked_against_naive_bounds(api) -> None:
    # `datetime` is a UTC timestamp in the table (the seed's rule) and a naive datetime to
    # Pandera, whose checks compare it with naive bounds.
    class Events(api.DataFrameModel):
        at: datetime = api.Field(ge=datetime(2020, 1, 1), nullable=True)

    batch = pa.table(
        {
            "at": pa.array(
                [datetime(2024, 1, 1, tzinfo=UTC), None, datetime(2019, 12, 31, 23, tzinfo=UTC)],
                pa.timestamp("us", tz="UTC"),
            )
        }
    )

    assert rejection(batch, Events) == [
        "at: greater_than_or_equal_to(2020-01-01 00:00:00) failed for 1 row(s): 2019-12-31 23:00:00"
    ]


class TemperatureReading(pandera.pandas.DataFrameModel):
    reading_id: str = pandera.pandas.Field(alias="_id", unique=True)
    value: int = pandera.pandas.Field(ge=0)
    taken_at: datetime
    temp: float | None = pandera.pandas.Field(ge=0, nullable=True)


def test_a_materialization_refuses_nan_under_ge_and_names_it(catalog: Catalog) -> None:
    temps = [1.5, NAN, None, -INF, INF]
    rows = [reading(f"r{i}", 1, temp=temp) for i, temp in enumerate(temps)]

    @dg.asset(name="dlt_readings", partitions_def=dg.DailyPartitionsDefinition("2024-01-01"))
    def dlt_readings(
        context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from run_ingestion(
            context,
            config=config,
            iceberg=iceberg,
            source=rows_source(rows),
            validation_schema=TemperatureReading,
            table=TableContract(
                identifier=IDENTIFIER,
                schema=TEMPERATURE_SCHEMA,
                partition_spec=PARTITION_SPEC,
                unique_key=("_id",),
            ),
            validate=True,
            max_runtime_seconds=300,
        )

    message = failure_message(materialize(dlt_readings))

    assert "temp: greater_than_or_equal_to(0) failed for 2 row(s): nan, -inf" in message
    assert not catalog.table_exists(IDENTIFIER)
