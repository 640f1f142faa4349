"""Real tables for the upkeep tests, built as loads build them: many small merges into a
table partitioned by day, so each partition ends as many small files. Rows are read back by
pyiceberg and by DuckDB (tests/duckdb_reader.py), which also sees null lists of structs."""

from __future__ import annotations

import os
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import (
    DateType,
    IntegerType,
    ListType,
    LongType,
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
KEY = ("id",)
FIRST_DAY = date(2024, 1, 1)
DAYS = 3
SCHEMA = Schema(
    NestedField(1, "id", StringType(), required=True),
    NestedField(2, "day", DateType(), required=True),
    NestedField(3, "value", LongType(), required=False),
    NestedField(
        4,
        "lines",
        ListType(
            6,
            StructType(
                NestedField(7, "sku", StringType(), required=False),
                NestedField(8, "qty", IntegerType(), required=False),
            ),
            element_required=False,
        ),
        required=False,
    ),
    NestedField(5, "note", StringType(), required=False),
)
SPEC = PartitionSpec(
    PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="day")
)
CONTRACT = TableContract(IDENTIFIER, SCHEMA, SPEC, unique_key=KEY)


def row(day: int, number: int, load: int) -> dict:
    """Key `d<day>-<number>`; every third row has a null list of structs, every fifth `[]`."""
    lines = (
        None
        if number % 3 == 0
        else []
        if number % 5 == 0
        else [{"sku": f"s{number}", "qty": load}, {"sku": None, "qty": None}]
    )
    return {
        "id": f"d{day}-{number:05d}",
        "day": FIRST_DAY + timedelta(days=day),
        "value": None if number % 7 == 0 else number * 10 + load,
        "lines": lines,
        "note": f"load {load} " * (number % 4),
    }


def load_batch(load: int, new_per_day: int = 40, updates_per_day: int = 5) -> pa.Table:
    """Load number `load` (from 0): new keys in every day, and updates of earlier keys."""
    rows = []
    for day in range(DAYS):
        first = load * new_per_day
        rows += [row(day, n, load) for n in range(first, first + new_per_day)]
        rows += [row(day, (n * 7 + load) % max(first, 1), load) for n in range(updates_per_day)]
    unique = {r["id"]: r for r in rows}  # a batch holds each key once
    return pa.Table.from_pylist(list(unique.values()), schema=SCHEMA.as_arrow())


def build(catalog: Catalog, loads: int = 6) -> Table:
    """The table after `loads` merges: about `loads` small files in each of DAYS partitions."""
    table = prepare_table(catalog, CONTRACT).table
    for load in range(loads):
        merge_batch(table, load_batch(load), KEY)
    return table


def pyiceberg_rows(table: Table, snapshot_id: int | None = None) -> list[dict]:
    """Every row (a full scan: every data file read), sorted on the key; no key twice."""
    with keeping_null_lists():  # pyiceberg alone reads a null list of structs as []
        rows = table.scan(snapshot_id=snapshot_id).to_arrow().to_pylist()
    repeated = [key for key, n in Counter(r["id"] for r in rows).items() if n > 1]
    assert not repeated, f"keys held twice: {repeated[:5]}"
    return sorted(rows, key=lambda r: r["id"])


def duckdb_rows(table: Table) -> list[tuple]:
    """Every row as DuckDB's iceberg extension reads the table's current metadata file."""
    return query_iceberg(table.metadata_location, "SELECT * FROM {table}")


def data_files(table: Table, snapshot_id: int | None = None) -> list:
    return [task.file for task in table.scan(snapshot_id=snapshot_id).plan_files()]


def local_path(location: str) -> Path:
    return Path(location.removeprefix("file://"))


def file_keys(location: str) -> list[str]:
    """The key column of one data file, in the file's order."""
    return pq.read_table(local_path(location), columns=["id"]).column("id").to_pylist()


def files_under(table: Table) -> set[Path]:
    """Every file under the table's folder."""
    root = local_path(table.location())
    return {Path(folder, name) for folder, _, names in os.walk(root) for name in names}
