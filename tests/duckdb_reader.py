"""An independent reader of what Cascade writes: DuckDB's iceberg extension, loaded offline
from the duckdb-extension-* wheels (no extension download at run time)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg


def extension_file(package, name: str) -> Path:
    [found] = Path(package.__file__).parent.glob(f"extensions/v{duckdb.__version__}/{name}")
    return found


def connect() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for package, name in (
        (duckdb_extension_avro, "avro.duckdb_extension"),
        (duckdb_extension_iceberg, "iceberg.duckdb_extension"),
    ):
        connection.execute(f"INSTALL '{extension_file(package, name)}'")
    connection.execute("LOAD avro")
    connection.execute("LOAD iceberg")
    return connection


def query_iceberg(metadata_location: str, sql: str) -> list[tuple]:
    """Rows of `sql`, in which `{table}` stands for the table version at `metadata_location`
    (a metadata.json), sorted."""
    path = metadata_location.removeprefix("file://")
    with connect() as connection:
        return sorted(connection.execute(sql.format(table="iceberg_scan(?)"), [path]).fetchall())
