"""A load that fails because the warehouse's disk is full leaves nothing behind: the files it
began (one of them half-written) are deleted, the table is as it was, and the next load that
fits succeeds. The warehouse is a small tmpfs mounted by the test (it runs as root)."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

from cascade.runtime.contract import TableContract
from cascade.runtime.merge import merge_batch
from cascade.runtime.table import prepare_table

pytestmark = pytest.mark.slow

IDENTIFIER = "raw.blobs"
SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "blob", StringType(), required=False),
    identifier_field_ids=[1],
)
CONTRACT = TableContract(IDENTIFIER, SCHEMA, unique_key=("id",))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "warehouse"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def blobs(first: int, count: int, size: int) -> pa.Table:
    # Incompressible text, so that the Parquet file is as large as the values.
    values = [os.urandom(size // 2).hex() for _ in range(count)]
    return pa.table(
        {"id": pa.array(range(first, first + count), pa.int64()), "blob": values},
        schema=SCHEMA.as_arrow(),
    )


def data_files(warehouse: Path) -> set[str]:
    return {p.name for p in warehouse.rglob("*.parquet")}


def test_a_load_that_fills_the_disk_leaves_nothing_and_the_next_one_fits(
    tmp_path: Path, small_disk: Path
) -> None:
    catalog: Catalog = SqlCatalog(
        "full", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{small_disk}"
    )
    table = prepare_table(catalog, CONTRACT).table
    merge_batch(table, blobs(0, 10, 1000), ["id"])
    before = catalog.load_table(IDENTIFIER)
    committed = data_files(small_disk)

    with pytest.raises(OSError) as full:  # 20 MB of values (10 MB compressed) on 4 MB
        merge_batch(before, blobs(100, 200, 100_000), ["id"])
    assert "No space left on device" in str(full.value) or full.value.errno == 28

    after = catalog.load_table(IDENTIFIER)
    assert after.metadata.current_snapshot_id == before.metadata.current_snapshot_id
    assert after.scan().count() == 10
    # The half-written file is gone, so the space is back.
    assert data_files(small_disk) == committed

    outcome = merge_batch(after, blobs(200, 10, 1000), ["id"])
    assert outcome.rows_inserted == 10
    assert catalog.load_table(IDENTIFIER).scan().count() == 20
