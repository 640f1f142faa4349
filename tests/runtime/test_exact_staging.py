"""The table holds exactly what the source sent, or the load is refused naming the column.

Each case of issue 9 through a real `dg.materialize` on the embedded SQLite catalog: a
`@dlt.resource` yields the records as an API or a Python source would, the generated-style
asset runs `run_ingestion`, and the rows are read back by pyiceberg and by DuckDB. A refused
load must name the column, the values and the row count, and leave the table exactly as it
was (same metadata file, same snapshot), or absent on a fresh catalog.
"""

import functools
import math
from collections.abc import Iterator

import dagster as dg
import dlt
import pytest
from pandera.pandas import DataFrameModel, Field
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DecimalType,
    DoubleType,
    IntegerType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
)
from typing_extensions import TypedDict  # Pandera needs it for TypedDict on Python < 3.12

from cascade.runtime import IcebergResource, IngestionConfig, run_ingestion
from cascade.runtime.contract import TableContract
from cascade.runtime.pyiceberg_compat import keeping_null_lists
from tests.duckdb_reader import query_iceberg
from tests.helpers import failure_message, metadata_of
from tests.helpers import materialize as run_asset

IDENTIFIER = "raw.things"
PARTITION = "2024-01-02"
# Every test loads into the catalog `cascade` (tests/conftest.py), as a deployment configures it.
pytestmark = pytest.mark.usefixtures("catalog")
LOAD_COLUMNS = (
    NestedField(90, "_dlt_load_id", StringType(), required=True),
    NestedField(91, "_dlt_id", StringType(), required=True),
    NestedField(92, "_cascade_ingested_at", TimestamptzType(), required=True),
)


def table_schema(*columns: NestedField) -> Schema:
    """A schema like a generated one: `id` (the unique key), the columns, the load columns."""
    return Schema(NestedField(1, "id", LongType(), required=True), *columns, *LOAD_COLUMNS)


def asset(
    produce,  # the ingestion function: partition -> dlt resource or None
    schema: Schema,
    model: type[DataFrameModel] | None = None,
    ignored_keys: tuple[str, ...] = (),
) -> dg.AssetsDefinition:
    """The asset `cascade gen` writes, over `produce`; with the Pandera check when validated."""
    checks = [dg.AssetCheckSpec("pandera_validation", asset="dlt_things")] if model else []

    @dg.asset(
        name="dlt_things",
        partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"),
        check_specs=checks,
    )
    def dlt_things(
        context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from run_ingestion(
            context,
            config=config,
            iceberg=iceberg,
            source=produce,
            validation_schema=model,
            table=TableContract(
                identifier=IDENTIFIER,
                schema=schema,
                partition_spec=PartitionSpec(),
                unique_key=("id",),
                retired_field_ids={},
                last_column_id=max(schema.field_ids),
                last_partition_id=999,
                ignored_keys=ignored_keys,
            ),
            validate=model is not None,
            max_runtime_seconds=None,
        )

    return dlt_things


def yielding(*pages: list[dict]):
    """An ingestion function whose resource yields `pages` (each a list of records)."""

    def produce(partition_date: str):
        @dlt.resource(name="things")
        def things():
            yield from pages

        return things()

    return produce


materialize = functools.partial(run_asset, partition=PARTITION)


def check_result(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [
        event.event_specific_data
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return evaluation


def state(catalog: Catalog) -> tuple[str, int | None] | None:
    """The table's metadata file and current snapshot: what a refused load must not move."""
    if not catalog.table_exists(IDENTIFIER):
        return None
    table = catalog.load_table(IDENTIFIER)
    return table.metadata_location, table.metadata.current_snapshot_id


def read_back(catalog: Catalog, column: str) -> dict[int, object]:
    """`column` by id, as pyiceberg reads it; DuckDB must read the same.

    pyiceberg 0.12's scan turns a null list of structs into [] even where the data file holds
    the null (runtime/pyiceberg_compat.py): it reads here with Cascade's workaround, and DuckDB
    reads the file as it is.
    """
    table = catalog.load_table(IDENTIFIER)
    with keeping_null_lists():
        rows = table.scan(selected_fields=("id", column)).to_arrow().to_pylist()
    by_pyiceberg = {row["id"]: row[column] for row in rows}
    by_duckdb = dict(query_iceberg(table.metadata_location, f"SELECT id, {column} FROM {{table}}"))
    assert same(by_duckdb, by_pyiceberg), (by_duckdb, by_pyiceberg)
    return by_pyiceberg


def same(left: object, right: object) -> bool:
    """Equality in which NaN equals NaN and -0.0 differs from 0.0 (as in the data files)."""
    if isinstance(left, float) and isinstance(right, float):
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return left == right and math.copysign(1, left) == math.copysign(1, right)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(map(same, left, right))
    return type(left) is type(right) and left == right


# 1. Non-finite floats are IEEE values, and Pandera's checks decide about them.

TEMPERATURE = table_schema(NestedField(2, "temp", DoubleType(), required=False))


class Reading(DataFrameModel):
    id: int = Field(unique=True)
    temp: float | None = Field(nullable=True, ge=0)


def test_nan_and_infinities_land_as_ieee_values_and_only_none_is_null(catalog: Catalog) -> None:
    records = [
        {"id": 1, "temp": math.nan},
        {"id": 2, "temp": math.inf},
        {"id": 3, "temp": -math.inf},
        {"id": 4, "temp": None},
        {"id": 5},
        {"id": 6, "temp": -0.0},
    ]

    metadata_of(materialize(asset(yielding(records), TEMPERATURE)))

    expected = {1: math.nan, 2: math.inf, 3: -math.inf, 4: None, 5: None, 6: -0.0}
    assert same(read_back(catalog, "temp"), expected)


def test_a_check_rejects_nan_and_minus_infinity_naming_column_and_values(
    catalog: Catalog,
) -> None:
    metadata_of(materialize(asset(yielding([{"id": 9, "temp": 1.5}]), TEMPERATURE, Reading)))
    before = state(catalog)
    records = [
        {"id": 1, "temp": math.nan},
        {"id": 2, "temp": math.inf},
        {"id": 3, "temp": -math.inf},
    ]

    result = materialize(asset(yielding(records), TEMPERATURE, Reading))

    message = failure_message(result)
    assert "temp: greater_than_or_equal_to(0) failed for 2 row(s): nan, -inf" in message
    assert not check_result(result).passed
    assert state(catalog) == before


def test_a_required_float_holding_nan_is_a_value_not_a_missing_one(catalog: Catalog) -> None:
    schema = table_schema(NestedField(2, "temp", DoubleType(), required=True))

    metadata_of(materialize(asset(yielding([{"id": 1, "temp": math.nan}]), schema)))

    assert same(read_back(catalog, "temp"), {1: math.nan})


# 2. Two source keys that become one column are refused.


def test_two_keys_that_become_one_column_are_refused_naming_both(catalog: Catalog) -> None:
    schema = table_schema(NestedField(2, "user_name", StringType(), required=False))
    metadata_of(materialize(asset(yielding([{"id": 9, "user_name": "x"}]), schema)))
    before = state(catalog)
    records = [{"id": 1, "userName": "display", "user_name": "login"}]

    message = failure_message(materialize(asset(yielding(records), schema)))

    assert (
        "user_name: 1 record(s) hold both 'userName' and 'user_name', which both become this "
        "column through dlt's naming convention" in message
    )
    assert "nothing was written" in message
    assert state(catalog) == before


def test_two_keys_inside_a_struct_or_a_flattened_object_are_refused(catalog: Catalog) -> None:
    schema = table_schema(
        NestedField(2, "actor__login", StringType(), required=False),
        NestedField(
            3,
            "origin",
            StructType(NestedField(4, "site_name", StringType(), required=False)),
            required=False,
        ),
    )
    records = [
        {"id": 1, "actor": {"Login": "a", "login": "b"}},
        {"id": 2, "origin": {"siteName": "x", "site_name": "y"}},
    ]

    message = failure_message(materialize(asset(yielding(records), schema)))

    assert "actor__login: 1 record(s) hold both 'actor.Login' and 'actor.login'" in message
    assert "origin.site_name: 1 record(s) hold both 'origin.siteName' and 'origin.site_name'" in (
        message
    )
    assert state(catalog) is None


def test_different_records_may_spell_a_key_differently(catalog: Catalog) -> None:
    schema = table_schema(NestedField(2, "user_name", StringType(), required=False))
    records = [{"id": 1, "userName": "display"}, {"id": 2, "user_name": "login"}]

    metadata_of(materialize(asset(yielding(records), schema)))

    assert read_back(catalog, "user_name") == {1: "display", 2: "login"}


# 3. A null list of structs stays null; [] stays [].


class Line(TypedDict):
    sku: str
    qty: int


LINES = table_schema(
    NestedField(
        2,
        "lines",
        ListType(
            3,
            StructType(
                NestedField(4, "sku", StringType(), required=True),
                NestedField(5, "qty", IntegerType(), required=True),
            ),
            element_required=True,
        ),
        required=False,
    ),
    NestedField(6, "tags", ListType(7, StringType(), element_required=True), required=False),
)


def test_null_and_empty_lists_of_structs_read_back_as_sent(catalog: Catalog) -> None:
    records = [
        {"id": 1, "lines": None, "tags": None},
        {"id": 2},
        {"id": 3, "lines": [], "tags": []},
        {"id": 4, "lines": [{"sku": "a", "qty": 2}], "tags": ["x"]},
    ]

    metadata_of(materialize(asset(yielding(records), LINES)))

    assert read_back(catalog, "lines") == {1: None, 2: None, 3: [], 4: [{"sku": "a", "qty": 2}]}
    assert read_back(catalog, "tags") == {1: None, 2: None, 3: [], 4: ["x"]}


# 4. A day without data succeeds, with the check's result, and leaves the table alone.


def no_yield(partition_date: str):
    @dlt.resource(name="things")
    def things():
        return
        yield

    return things()


def returns_none(partition_date: str) -> None:
    return None


@pytest.mark.parametrize(
    "produce",
    [yielding([]), yielding(), no_yield, returns_none],
    ids=["yield []", "no pages", "no yield", "returns None"],
)
@pytest.mark.parametrize("existing", [False, True], ids=["fresh catalog", "existing table"])
def test_an_empty_day_succeeds_with_no_data_and_a_passed_check(
    catalog: Catalog,
    produce,
    existing: bool,
) -> None:
    if existing:
        metadata_of(materialize(asset(yielding([{"id": 1, "temp": 2.0}]), TEMPERATURE)))
    before = state(catalog)

    result = materialize(asset(produce, TEMPERATURE, Reading))

    assert metadata_of(result)["status"] == "no_data"
    evaluation = check_result(result)
    assert evaluation.passed
    assert evaluation.metadata["rows"].value == 0
    assert state(catalog) == before


# 5. Values that no column of the schema can hold exactly: refused, named, counted.


def test_values_that_do_not_fit_are_refused_naming_column_value_and_count(
    catalog: Catalog,
) -> None:
    schema = table_schema(
        NestedField(2, "price", DecimalType(10, 2), required=False),
        NestedField(3, "h", LongType(), required=False),
        NestedField(4, "note", StringType(), required=False),
    )
    metadata_of(materialize(asset(yielding([{"id": 9, "price": "1.50", "h": 1}]), schema)))
    before = state(catalog)
    records = [
        {"id": 1, "price": "1.005"},
        {"id": 2, "h": 12120467241726599441},
        {"id": 3, "h": 2**70},
        {"id": 4, "note": "\ud800"},
        {"id": 5, "price": 19.99, "h": 7, "note": "fine"},
    ]

    message = failure_message(materialize(asset(yielding(records), schema)))

    assert "nothing was written" in message
    assert (
        "price: 1 value(s) do not fit decimal(10, 2): '1.005' (more than 2 decimal place(s); "
        "Cascade never rounds)" in message
    )
    assert (
        "h: 2 value(s) do not fit long: 12120467241726599441 (out of range for long, 64-bit), "
        "1180591620717411303424 (out of range for long, 64-bit)" in message
    )
    assert "note: 1 value(s) do not fit string: '\\ud800' (not valid Unicode" in message
    assert "_dlt_pipeline_state" not in message and "NormalizeJobFailed" not in message
    assert state(catalog) == before


def test_exact_decimals_and_integers_land_unchanged(catalog: Catalog) -> None:
    schema = table_schema(
        NestedField(2, "price", DecimalType(10, 2), required=False),
        NestedField(3, "h", LongType(), required=False),
    )
    records = [
        {"id": 1, "price": "1.50", "h": 2**63 - 1},
        {"id": 2, "price": 19.99, "h": -(2**63)},
        {"id": 3, "price": "-99999999.99", "h": 0},
    ]

    metadata_of(materialize(asset(yielding(records), schema)))

    from decimal import Decimal

    assert read_back(catalog, "price") == {
        1: Decimal("1.50"),
        2: Decimal("19.99"),
        3: Decimal("-99999999.99"),
    }
    assert read_back(catalog, "h") == {1: 2**63 - 1, 2: -(2**63), 3: 0}


# 6. `unique` over a nullable column: Pandera counts two nulls as duplicates, and says so.


class Account(DataFrameModel):
    id: int = Field(unique=True)
    email: str | None = Field(nullable=True, unique=True)


def test_unique_with_two_nulls_names_column_check_and_values(catalog: Catalog) -> None:
    schema = table_schema(NestedField(2, "email", StringType(), required=False))
    records = [{"id": 1, "email": None}, {"id": 2, "email": None}, {"id": 3, "email": "a@b.c"}]

    result = materialize(asset(yielding(records), schema, Account))

    message = failure_message(result)
    assert "email: field_uniqueness failed for 2 row(s): None, None" in message
    evaluation = check_result(result)
    assert not evaluation.passed
    assert "email: field_uniqueness failed for 2 row(s): None, None" in str(
        evaluation.metadata["failures"].value
    )
    assert state(catalog) is None


# 7. A boolean in a text column is refused, never stored as Python's 'True'.


def test_a_boolean_in_a_text_column_is_refused(catalog: Catalog) -> None:
    schema = table_schema(
        NestedField(2, "note", StringType(), required=False),
        NestedField(3, "flag", BooleanType(), required=False),
    )

    message = failure_message(
        materialize(asset(yielding([{"id": 1, "note": True, "flag": "yes"}]), schema))
    )

    assert "note: 1 value(s) do not fit string: True (a bool, not text)" in message
    assert "flag: 1 value(s) do not fit boolean: 'yes' (not a boolean)" in message
    assert state(catalog) is None


# Keys the model does not have: dropped and reported, or refused by a strict model.


class StrictThing(DataFrameModel):
    id: int = Field(unique=True)
    note: str | None = Field(nullable=True)

    class Config:
        strict = True


def test_unknown_keys_are_dropped_and_counted(catalog: Catalog) -> None:
    schema = table_schema(NestedField(2, "note", StringType(), required=False))
    records = [{"id": 1, "note": "a", "extra": 1, "meta": {"x": 1}}, {"id": 2, "extra": 2}]

    result = materialize(asset(yielding(records), schema))

    assert metadata_of(result)["rows_dropped_columns"] == 2  # extra, meta
    assert read_back(catalog, "note") == {1: "a", 2: None}


def test_a_strict_model_refuses_keys_it_does_not_have(catalog: Catalog) -> None:
    schema = table_schema(NestedField(2, "note", StringType(), required=False))
    records = [{"id": 1, "note": "a", "extra": 1}, {"id": 2, "extra": 2}]

    result = materialize(asset(yielding(records), schema, StrictThing))

    message = failure_message(result)
    assert "StrictThing is strict and the records hold key(s) it does not have" in message
    assert "(records): unknown keys: extra (2 record(s))" in message
    assert not check_result(result).passed
    assert state(catalog) is None


# Keys the ingestion declares ignored (`ignored_keys=` in the decorator, the contract's
# `ignored_keys`): dropped without a warning and not counted; the other unknown keys as before.


def dropped_warnings(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance) -> list:
    return [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.user_message.startswith("Dropped ") and "key(s)" in entry.user_message
    ]


def test_ignored_keys_are_dropped_without_a_warning_and_not_counted(catalog: Catalog) -> None:
    schema = table_schema(NestedField(2, "note", StringType(), required=False))
    records = [
        {"id": 1, "note": "a", "url": "u1", "meta": {"x": 1, "links": [{"href": "h"}]}},
        {"id": 2, "url": "u2", "meta": None},
    ]
    instance = dg.DagsterInstance.ephemeral()

    result = materialize(
        asset(yielding(records), schema, ignored_keys=("meta", "url")), instance=instance
    )

    assert metadata_of(result)["rows_dropped_columns"] == 0
    assert dropped_warnings(result, instance) == []
    assert read_back(catalog, "note") == {1: "a", 2: None}


def test_a_key_not_declared_ignored_is_still_warned_about_and_counted(catalog: Catalog) -> None:
    schema = table_schema(NestedField(2, "note", StringType(), required=False))
    records = [
        {"id": 1, "note": "a", "url": "u1", "extra": 1},
        {"id": 2, "url": "u2", "actor": {"url": "a", "login": "b"}},
    ]
    instance = dg.DagsterInstance.ephemeral()

    result = materialize(
        asset(yielding(records), schema, ignored_keys=("url", "actor.url")), instance=instance
    )

    # `actor` has no column at all, so it is dropped whole, as `actor`: ignoring `actor.url`
    # does not cover the object around it.
    assert metadata_of(result)["rows_dropped_columns"] == 2
    assert dropped_warnings(result, instance) == [
        "Dropped 2 key(s) the table schema does not have: actor (1 record(s)), extra "
        "(1 record(s)). To keep them, declare them in the model; to drop them without this "
        "warning, add ignored_keys=('actor', 'extra') to the ingestion's decorator."
    ]
    assert read_back(catalog, "note") == {1: "a", 2: None}


def test_a_strict_model_accepts_ignored_keys_and_refuses_the_others(catalog: Catalog) -> None:
    schema = table_schema(NestedField(2, "note", StringType(), required=False))
    declared = [{"id": 1, "note": "a", "url": "u1"}, {"id": 2, "url": "u2"}]

    loaded = materialize(asset(yielding(declared), schema, StrictThing, ignored_keys=("url",)))

    assert metadata_of(loaded)["rows_dropped_columns"] == 0
    assert check_result(loaded).passed
    assert read_back(catalog, "note") == {1: "a", 2: None}
    before = state(catalog)

    undeclared = [{"id": 3, "url": "u3", "extra": 1}]
    refused = materialize(asset(yielding(undeclared), schema, StrictThing, ignored_keys=("url",)))

    message = failure_message(refused)
    assert "StrictThing is strict and the records hold key(s) it does not have" in message
    assert "(records): unknown keys: extra (1 record(s))" in message
    assert "url" not in message
    assert state(catalog) == before
