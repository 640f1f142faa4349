"""A null list stays null and `[]` stays `[]` through Cascade's merge, read back by pyiceberg
and by DuckDB. pyiceberg 0.12 alone turns a null list (or map) of structs into an empty one
when it writes and when it reads (`cascade.runtime.pyiceberg_compat.keeping_null_lists` says
where and why)."""

from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.io.pyarrow import _to_requested_schema
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import (
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
)

from cascade.runtime import merge_batch
from cascade.runtime.contract import TableContract
from cascade.runtime.pyiceberg_compat import keeping_null_lists
from cascade.runtime.table import prepare_table
from tests.duckdb_reader import query_iceberg

IDENTIFIER = "raw.orders"


def line(sku_id: int, qty_id: int) -> StructType:
    return StructType(
        NestedField(sku_id, "sku", StringType(), required=False),
        NestedField(qty_id, "qty", IntegerType(), required=False),
    )


def lines(element_id: int, sku_id: int, qty_id: int) -> ListType:
    return ListType(element_id, line(sku_id, qty_id), element_required=False)


SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "lines", lines(10, 11, 12), required=False),
    # A list of strings: pyiceberg keeps its nulls on its own (the control).
    NestedField(3, "tags", ListType(13, StringType(), element_required=False), required=False),
    NestedField(
        4, "order", StructType(NestedField(14, "lines", lines(15, 16, 17))), required=False
    ),
    NestedField(5, "grid", ListType(18, lines(19, 20, 21), element_required=False)),
    NestedField(
        6,
        "by_sku",
        MapType(22, StringType(), 23, line(24, 25), value_required=False),
        required=False,
    ),
    NestedField(
        7,
        "days",
        ListType(
            26,
            StructType(
                NestedField(27, "day", StringType(), required=False),
                NestedField(28, "lines", lines(29, 30, 31), required=False),
            ),
            element_required=False,
        ),
        required=False,
    ),
    identifier_field_ids=[1],
)
ONE = [{"sku": "a", "qty": 1}]
# Maps as Arrow lists them: (key, value) pairs.
ROWS = [
    {"id": 1, "lines": None, "tags": None, "order": None, "grid": None, "by_sku": None,
     "days": None},
    {"id": 2, "lines": [], "tags": [], "order": {"lines": None}, "grid": [None, []],
     "by_sku": [("a", None)], "days": [{"day": "mon", "lines": None}]},
    {"id": 3, "lines": ONE, "tags": ["x"], "order": {"lines": []}, "grid": [ONE],
     "by_sku": [("a", {"sku": "a", "qty": 1})], "days": [{"day": "mon", "lines": []}, None]},
    {"id": 4, "lines": [None], "tags": [None], "order": {"lines": ONE}, "grid": [],
     "by_sku": [], "days": []},
    {"id": 5, "lines": [{"sku": None, "qty": None}], "tags": None, "order": None,
     "grid": [None], "by_sku": None, "days": [{"day": "tue", "lines": ONE}]},
]  # fmt: skip


def merge(catalog: Catalog, rows: list[dict[str, Any]]) -> Table:
    table = prepare_table(
        catalog, TableContract(IDENTIFIER, SCHEMA, UNPARTITIONED_PARTITION_SPEC)
    ).table
    merge_batch(table, pa.Table.from_pylist(rows, schema=SCHEMA.as_arrow()), ["id"])
    return catalog.load_table(IDENTIFIER)


def read_by_pyiceberg(table: Table) -> list[dict[str, Any]]:
    # pyiceberg's reader loses the nulls too, unless Cascade's workaround is on while it reads.
    with keeping_null_lists():
        return table.scan().to_arrow().sort_by("id").to_pylist()


def read_by_duckdb(table: Table) -> list[tuple]:
    return query_iceberg(table.metadata_location, "SELECT * FROM {table}")


def as_duckdb(row: dict[str, Any]) -> tuple:
    """The row as DuckDB returns it: a tuple of columns, maps as dicts."""
    return tuple(_as_duckdb(row[field.name], field.type) for field in SCHEMA.as_arrow())


def _as_duckdb(value: Any, arrow_type: pa.DataType) -> Any:
    if value is None:
        return None
    if isinstance(arrow_type, pa.MapType):
        return {k: _as_duckdb(v, arrow_type.item_type) for k, v in value}
    if isinstance(arrow_type, pa.ListType | pa.LargeListType):
        return [_as_duckdb(v, arrow_type.value_type) for v in value]
    if isinstance(arrow_type, pa.StructType):
        return {f.name: _as_duckdb(value[f.name], f.type) for f in arrow_type}
    return value


def assert_holds(table: Table, rows: list[dict[str, Any]]) -> None:
    expected = sorted(rows, key=lambda row: row["id"])
    assert read_by_pyiceberg(table) == expected
    assert read_by_duckdb(table) == [as_duckdb(row) for row in expected]


def test_pyiceberg_still_loses_null_lists_of_structs() -> None:
    """pyiceberg's projection, on its own and inside `keeping_null_lists()`. When this fails
    outside the block, pyiceberg keeps the nulls itself: drop the workaround."""
    rows = pa.Table.from_pylist([{"id": 0, "lines": ONE, "by_sku": [("a", None)]}] + ROWS,
                                schema=SCHEMA.as_arrow())  # fmt: skip
    # Sliced, so that the list offsets do not start at 0 (as in pyiceberg's bin-packed files).
    batch = rows.slice(1).to_batches()[0]

    def project() -> pa.RecordBatch:
        return _to_requested_schema(SCHEMA, SCHEMA, batch)

    assert project().column("lines").to_pylist()[0] == []
    assert project().column("by_sku").to_pylist()[0] == []
    with keeping_null_lists():
        assert project().to_pylist() == batch.to_pylist() == ROWS
    assert project().column("lines").to_pylist()[0] == []  # nothing left patched


def test_null_and_empty_lists_are_read_back_as_written(catalog: Catalog) -> None:
    assert_holds(merge(catalog, ROWS), ROWS)


def test_merge_updates_a_list_from_empty_to_null_and_back(catalog: Catalog) -> None:
    merge(catalog, ROWS)
    # Each merge rewrites the file: the rows it keeps (1 and 5 hold nulls) are read and
    # written again.
    for value in (None, [], None, ONE, []):
        updated = {**ROWS[1], "lines": value, "order": {"lines": value}}
        table = merge(catalog, [updated])
        assert_holds(table, [ROWS[0], updated, *ROWS[2:]])
