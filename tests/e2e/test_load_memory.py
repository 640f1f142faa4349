"""A load's memory follows its chunk size, not its partition's size (runtime/chunking.py).

Each load runs in a process of its own (this module run as a script): it imports what a load
uses, loads a few rows into a scratch table, in memory and in chunks (first-use costs paid,
the code of both paths paged in), then loads a partition of pages of dicts through
`dg.materialize` and reports the memory it held at its peak: Arrow's (its memory pool's peak;
Arrow allocates outside Python, where tracemalloc cannot see) plus Python's
(tracemalloc: numpy and pandas included), and how far its RSS (Linux's VmHWM, reset before
the load) rose. The table it loads into holds as many rows as the partition, in files of
`FILE_ROWS` rows, so that a rewrite costs the same at every size; half the partition updates
the table's newest half, half is new keys, in a shuffled order.

Measured on 2 cores, in chunks of 5,000 rows: 20,000 rows held 6.6 MB, 200,000 rows 7.9 MB
(1.2x); 200,000 rows in memory (one chunk) 104 MB. The RSS rose 37-52 MB, 72-75 MB and
196-239 MB: it also holds what the allocators (Arrow's mimalloc, glibc's) keep of freed
memory per thread, which grows with the number of chunks, far slower than the batch.
"""

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

IDENTIFIER = "raw.events"
SCRATCH = "raw.scratch"
FILE_ROWS = 5_000
CHUNK_ROWS = 5_000
SMALL, LARGE = 20_000, 200_000
TARGET = 1.5  # the larger partition's peak rise over the smaller one's, at most
START = datetime(2024, 1, 1, tzinfo=UTC)
START_MICROS = int(START.timestamp()) * 1_000_000


def schema_and_spec():
    from pyiceberg.partitioning import PartitionField, PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import DayTransform
    from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

    schema = Schema(
        NestedField(1, "id", StringType(), required=True),
        NestedField(2, "value", LongType(), required=True),
        NestedField(3, "name", StringType(), required=False),
        NestedField(4, "amount", DoubleType(), required=False),
        NestedField(5, "updated_at", TimestamptzType(), required=True),
        NestedField(6, "_dlt_load_id", StringType(), required=True),
        NestedField(7, "_dlt_id", StringType(), required=True),
        NestedField(8, "_cascade_ingested_at", TimestamptzType(), required=True),
    )
    spec = PartitionSpec(
        PartitionField(source_id=5, field_id=1000, transform=DayTransform(), name="day")
    )
    return schema, spec


def contract(identifier: str):
    from cascade.runtime.contract import TableContract

    schema, spec = schema_and_spec()
    return TableContract(
        identifier=identifier, schema=schema, partition_spec=spec, unique_key=("id",)
    )


def rows(numbers: np.ndarray, version: int) -> pa.Table:
    """Rows for key numbers, a second apart; `version` changes every column but the key."""
    n = pa.array(numbers, pa.int64())
    micros = pc.add(pc.multiply(n, 1_000_000), START_MICROS + version * 3_600_000_000)
    return pa.table(
        {
            "id": pc.binary_join_element_wise(
                "k", pc.utf8_lpad(pc.cast(n, pa.string()), width=9, padding="0"), ""
            ),
            "value": pc.add(n, version),
            "name": pc.binary_join_element_wise("name-", pc.cast(n, pa.string()), ""),
            "amount": pc.add(pc.cast(n, pa.float64()), version / 10),
            "updated_at": pc.cast(micros, pa.timestamp("us", tz="UTC")),
        }
    )


def key_numbers(positions: np.ndarray, size: int) -> np.ndarray:
    """Half the table's newest half, half new keys, shuffled by an affine permutation."""
    multiplier = 1_000_003
    while math.gcd(multiplier, size) != 1:
        multiplier += 2
    shuffled = (positions * multiplier + 7) % size
    half = size // 2
    return np.where(shuffled < half, size - half + shuffled, size + shuffled - half)


def api_pages(size: int, page: int = 1000) -> Iterator[list[dict]]:
    """The partition as an API's pages of dicts (camelCase, ISO 8601), built when asked for."""
    for start in range(0, size, page):
        table = rows(key_numbers(np.arange(start, min(size, start + page)), size), 1)
        stamps = pc.strftime(table.column("updated_at"), "%Y-%m-%dT%H:%M:%SZ")
        yield table.drop_columns(["updated_at"]).append_column("updatedAt", stamps).to_pylist()


def fill(size: int) -> None:
    """The table, created as a load creates it, with `size` rows in files of FILE_ROWS."""
    from pyiceberg.catalog import load_catalog

    from cascade.runtime.table import prepare_table

    table = prepare_table(load_catalog("cascade"), contract(IDENTIFIER)).table
    target = table.schema().as_arrow()
    for start in range(0, size, FILE_ROWS):
        part = rows(np.arange(start, min(size, start + FILE_ROWS)), 0)
        n = part.num_rows
        part = part.append_column("_dlt_load_id", pa.repeat(pa.scalar("1"), n))
        part = part.append_column("_dlt_id", pc.cast(pa.array(np.arange(n)), pa.string()))
        part = part.append_column(
            "_cascade_ingested_at", pa.repeat(pa.scalar(START, pa.timestamp("us", tz="UTC")), n)
        )
        table.append(part.select(target.names).cast(target))


# The child process: one measured load.


def load(size: int, identifier: str, chunk_rows: int) -> dict:
    import dagster as dg
    import dlt
    import pandera.pandas as pandera

    from cascade.runtime import IcebergResource, IngestionConfig, run_ingestion

    class Event(pandera.DataFrameModel):
        id: str = pandera.Field(unique=True)
        value: int = pandera.Field(ge=0)
        name: str | None = pandera.Field(nullable=True, str_startswith="name-")
        amount: float | None = pandera.Field(nullable=True, ge=0)
        updated_at: datetime

    def events(partition_date: str):
        return dlt.resource(api_pages(size), name=identifier.split(".")[1])

    @dg.asset(name="dlt_events", partitions_def=dg.DailyPartitionsDefinition("2024-01-01"))
    def dlt_events(
        context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
    ):
        yield from run_ingestion(
            context,
            config=config,
            iceberg=iceberg,
            source=events,
            validation_schema=Event,
            table=contract(identifier),
            validate=True,
            max_runtime_seconds=600,
        )

    result = dg.materialize(
        [dlt_events],
        partition_key="2024-01-02",
        resources={"iceberg": IcebergResource()},
        run_config={"ops": {"dlt_events": {"config": {"chunk_rows": chunk_rows}}}},
    )
    [event] = result.asset_materializations_for_node("dlt_events")
    return {key: value.value for key, value in event.metadata.items()}


def measure(size: int, chunk_rows: int) -> dict:
    """The peak of the memory a load holds, in MB: Arrow's (its memory pool's peak) plus
    Python's (tracemalloc, numpy and pandas included); and how far its RSS rose."""
    import tracemalloc

    # First-use costs, the code of both paths and of a rewrite paged in: a few rows in memory,
    # then more in chunks of 100 (which peak below any measured load, as Arrow's peak counts
    # from the process's start).
    load(300, SCRATCH, 10**9)
    load(600, SCRATCH, 100)
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    base = _status("VmRSS")
    tracemalloc.start()
    metadata = load(size, IDENTIFIER, chunk_rows)
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "held_mb": (pa.default_memory_pool().max_memory() + python_peak) / 2**20,
        "rss_rise_mb": (_status("VmHWM") - base) / 1024,
        "counts": [metadata[k] for k in ("rows_inserted", "rows_updated", "rows_unchanged")],
    }


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(field)


# The test.


def peak(size: int, chunk_rows: int, tmp_path: Path) -> dict:
    folder = tmp_path / f"{size}-{chunk_rows}"
    (folder / "warehouse").mkdir(parents=True)
    env = {
        **os.environ,
        "PYICEBERG_CATALOG__CASCADE__TYPE": "sql",
        "PYICEBERG_CATALOG__CASCADE__URI": f"sqlite:///{folder / 'catalog.db'}",
        "PYICEBERG_CATALOG__CASCADE__WAREHOUSE": (folder / "warehouse").as_uri(),
        "HOME": str(tmp_path),
    }
    repo = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "tests.e2e.test_load_memory", str(size), str(chunk_rows)]
    done = subprocess.run(command, env=env, cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    half = size // 2
    assert report.pop("counts") == [size - half, half, 0]
    return report


@pytest.mark.slow
def test_a_ten_times_larger_partition_peaks_within_one_and_a_half_times(tmp_path: Path) -> None:
    small = peak(SMALL, CHUNK_ROWS, tmp_path)
    large = peak(LARGE, CHUNK_ROWS, tmp_path)
    # The measurement sees the difference: the large partition in one chunk, in memory.
    whole = peak(LARGE, 10**9, tmp_path)
    figures = f"{SMALL:,} rows: {small}; {LARGE:,} rows: {large}; in memory: {whole}"

    assert large["held_mb"] <= TARGET * small["held_mb"], figures
    assert whole["held_mb"] > 5 * small["held_mb"], figures
    # The process's RSS also holds what the allocators keep of freed memory per thread, which
    # grows with the number of chunks; still far below the load in memory.
    assert large["rss_rise_mb"] < whole["rss_rise_mb"] / 2, figures


if __name__ == "__main__":
    size, chunk_rows = int(sys.argv[1]), int(sys.argv[2])
    fill(size)
    print(json.dumps(measure(size, chunk_rows)))
