"""What a merge counts: inserted, updated (values changed), unchanged (an identical
re-delivery), deleted (copies of a key gone from the table), and that the values a reader sees
are the delivered ones. Equality is runtime/row_equality.py's; a reference written in plain
Python checks it value by value."""

import math
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import (
    DecimalType,
    DoubleType,
    FloatType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
    UUIDType,
)

from cascade.runtime import merge_batch
from cascade.runtime.pyiceberg_compat import keeping_null_lists
from cascade.runtime.row_equality import same_values

NAN = math.nan
SCHEMA = Schema(
    NestedField(1, "id", StringType(), required=True),
    NestedField(2, "x", DoubleType(), required=False),
    NestedField(3, "f", FloatType(), required=False),
    NestedField(4, "label", StringType(), required=False),
    NestedField(5, "tags", ListType(20, DoubleType(), element_required=False), required=False),
    NestedField(6, "attrs", MapType(21, StringType(), 22, DoubleType(), False), required=False),
    NestedField(
        7,
        "point",
        StructType(
            NestedField(23, "lat", DoubleType(), required=False),
            NestedField(
                24, "names", ListType(25, StringType(), element_required=False), required=False
            ),
        ),
        required=False,
    ),
    NestedField(
        8,
        "items",
        ListType(
            26,
            StructType(
                NestedField(27, "name", StringType(), required=False),
                NestedField(28, "qty", LongType(), required=False),
            ),
            element_required=False,
        ),
        required=False,
    ),
    NestedField(9, "u", UUIDType(), required=False),
    NestedField(10, "amount", DecimalType(10, 2), required=False),
    NestedField(11, "at", TimestamptzType(), required=False),
    NestedField(12, "_dlt_load_id", StringType(), required=False),
    NestedField(13, "_dlt_id", StringType(), required=False),
    NestedField(14, "_cascade_ingested_at", TimestamptzType(), required=False),
)
KEY = ("id",)
DATA = [field.name for field in SCHEMA.fields if not field.name.startswith("_")]
AT = datetime(2024, 1, 1, tzinfo=UTC)
U = uuid.UUID("12345678-1234-5678-1234-567812345678")


def row(n: int, **values: Any) -> dict[str, Any]:
    """Row `r<n>`: NaN, nulls and nested values in every column, then `values`."""
    return {
        "id": f"r{n}",
        "x": NAN,
        "f": -0.0,
        "label": None,
        "tags": [1.5, NAN, None],
        "attrs": [("a", NAN), ("b", 2.0)],
        "point": {"lat": None, "names": ["n", None]},
        "items": None,  # a null list of structs, which pyiceberg 0.12 alone would make []
        "u": U.bytes,
        "amount": Decimal("1.10"),
        "at": AT + timedelta(hours=n),
        **values,
    }


def batch(table: Table, rows: list[dict[str, Any]], load: str) -> pa.Table:
    """The rows as a load `load` delivers them to `table`: its own metadata columns."""
    stamped = [
        {"_dlt_load_id": load, "_dlt_id": f"{load}-{i}", "_cascade_ingested_at": AT} | r
        for i, r in enumerate(rows)
    ]
    return pa.Table.from_pylist(stamped, schema=table.schema().as_arrow())


def counts(table: Table, rows: pa.Table) -> tuple[int, int, int, int]:
    outcome = merge_batch(table, rows, KEY)
    return (
        outcome.rows_inserted,
        outcome.rows_updated,
        outcome.rows_unchanged,
        outcome.rows_deleted,
    )


def read_back(table: Table) -> dict[str, dict[str, Any]]:
    """id -> row, as pyiceberg reads it (keeping null lists of structs null)."""
    with keeping_null_lists():
        data = table.scan().to_arrow()
    return {r["id"]: r for r in data.to_pylist()}


def equal(a: Any, b: Any) -> bool:
    """The reference: NaN equals NaN, -0.0 differs from 0.0, nested values compared whole."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def assert_holds(table: Table, rows: pa.Table, load: str) -> None:
    """The table holds exactly `rows`' data values, with `load`'s metadata, as pyiceberg reads
    them."""
    stored = read_back(table)
    for expected in rows.to_pylist():
        got = stored[expected["id"]]
        for name in DATA:
            assert equal(got[name], expected[name]), (expected["id"], name, got[name])
        assert got["_dlt_load_id"] == load


@pytest.fixture
def table(catalog: Catalog) -> Table:
    catalog.create_namespace("raw")
    return catalog.create_table("raw.counted", schema=SCHEMA)


def test_a_rerun_is_unchanged_and_one_changed_row_is_one_update(table: Table) -> None:
    first = batch(table, [row(n) for n in range(5)], "load-1")
    assert counts(table, first) == (5, 0, 0, 0)

    # The same data again, with another load's _dlt_load_id, _dlt_id and ingestion time.
    rerun = batch(table, [row(n) for n in range(5)], "load-2")
    assert counts(table, rerun) == (0, 0, 5, 0)
    # Still rewritten: the metadata columns name the latest load that delivered the rows.
    assert_holds(table, rerun, "load-2")

    changed = batch(table, [row(n, **({"x": 2.5} if n == 3 else {})) for n in range(5)], "load-3")
    assert counts(table, changed) == (0, 1, 4, 0)
    assert_holds(table, changed, "load-3")
    assert table.scan().count() == 5

    mixed = batch(table, [row(0), row(1, label="new"), row(7)], "load-4")
    assert counts(table, mixed) == (1, 1, 1, 0)
    assert table.scan().count() == 6


# (column, stored value, delivered value, whether the delivery is unchanged)
CASES = [
    ("x", NAN, NAN, True),
    ("x", None, None, True),
    ("x", NAN, None, False),
    ("x", 0.0, -0.0, False),
    ("x", 1.0, 1.0000000000000002, False),
    ("f", -0.0, 0.0, False),
    ("f", NAN, NAN, True),
    ("label", "", None, False),
    ("label", "a", "A", False),
    ("tags", [NAN], [NAN], True),
    ("tags", [], None, False),
    ("tags", [], [], True),
    ("tags", [None], [NAN], False),
    ("tags", [1.0], [1.0, 1.0], False),
    ("attrs", [("a", NAN)], [("a", NAN)], True),
    ("attrs", [("a", 1.0)], [("b", 1.0)], False),
    ("attrs", None, [], False),
    ("point", None, {"lat": None, "names": None}, False),
    ("point", {"lat": NAN, "names": []}, {"lat": NAN, "names": []}, True),
    ("point", {"lat": 1.0, "names": ["a"]}, {"lat": 1.0, "names": ["b"]}, False),
    ("items", None, None, True),
    ("items", None, [], False),
    ("items", [{"name": "a", "qty": None}], [{"name": "a", "qty": None}], True),
    ("items", [{"name": "a", "qty": 1}], [{"name": "a", "qty": 2}], False),
    ("items", [None], [{"name": None, "qty": None}], False),
    ("u", U.bytes, uuid.UUID(int=U.int + 1).bytes, False),
    ("amount", Decimal("1.10"), Decimal("1.10"), True),
    ("amount", Decimal("1.10"), Decimal("1.11"), False),
    ("at", AT, AT + timedelta(microseconds=1), False),
]


@pytest.mark.parametrize(("column", "stored", "delivered", "unchanged"), CASES)
def test_what_counts_as_unchanged(
    table: Table, column: str, stored: Any, delivered: Any, unchanged: bool
) -> None:
    merge_batch(table, batch(table, [row(1, **{column: stored}), row(2)], "load-1"), KEY)
    delivery = batch(table, [row(1, **{column: delivered}), row(2)], "load-2")

    assert counts(table, delivery) == ((0, 0, 2, 0) if unchanged else (0, 1, 1, 0))
    assert_holds(table, delivery, "load-2")


def test_composite_keys_compare_the_rows_of_their_own_key(catalog: Catalog) -> None:
    schema = Schema(
        NestedField(1, "device", StringType(), required=True),
        NestedField(2, "seq", LongType(), required=True),
        NestedField(3, "value", DoubleType(), required=False),
        identifier_field_ids=[1, 2],
    )
    catalog.create_namespace("raw")
    table = catalog.create_table("raw.composite", schema=schema)

    def rows(*values: tuple[str, int, float]) -> pa.Table:
        names = ("device", "seq", "value")
        return pa.Table.from_pylist(
            [dict(zip(names, v, strict=True)) for v in values], table.schema().as_arrow()
        )

    merge_batch(table, rows(("a", 1, 1.0), ("a", 2, NAN), ("b", 1, 3.0)), ("device", "seq"))
    outcome = merge_batch(
        table, rows(("a", 1, 1.0), ("a", 2, NAN), ("b", 1, 4.0), ("b", 2, 5.0)), ("device", "seq")
    )

    assert (outcome.rows_inserted, outcome.rows_updated, outcome.rows_unchanged) == (1, 1, 2)


VALUES = st.one_of(st.none(), st.sampled_from([0.0, -0.0, 1.0, NAN, math.inf]))
LISTS = st.one_of(st.none(), st.lists(VALUES, max_size=3))
STRUCTS = st.one_of(st.none(), st.fixed_dictionaries({"v": VALUES, "l": LISTS}))
STRUCT_TYPE = pa.struct([("v", pa.float64()), ("l", pa.list_(pa.float64()))])


@given(pairs=st.lists(st.tuples(STRUCTS, STRUCTS), max_size=30))
def test_same_values_agrees_with_the_reference(pairs: list[tuple[Any, Any]]) -> None:
    old = pa.array([a for a, _ in pairs], STRUCT_TYPE)
    new = pa.array([b for _, b in pairs], STRUCT_TYPE)

    assert same_values(old, new).tolist() == [equal(a, b) for a, b in pairs]
    assert same_values(old, old).all()
