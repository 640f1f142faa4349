"""Loads of more rows than `chunk_rows` (runtime/chunking.py): prepared and merged a chunk at a
time, with the same rows, counts and refusals as a load in memory, in one commit.

Each comparison loads the same deliveries into two tables, one with chunks of a few rows and
one with chunks bigger than any batch (the in-memory path), and reads both back through
pyiceberg and DuckDB."""

import random
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import dagster as dg
import dlt
import pandera.pandas as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

from cascade.runtime import IcebergResource, IngestionConfig, run, run_ingestion
from cascade.runtime.chunking import prepare_chunked
from cascade.runtime.contract import TableContract
from cascade.runtime.spill import SortedSpill
from tests.duckdb_reader import query_iceberg
from tests.helpers import failure_message

pytestmark = pytest.mark.usefixtures("catalog")

SCHEMA = Schema(
    NestedField(1, "_id", StringType(), required=True),
    NestedField(2, "site", StringType(), required=True),
    NestedField(3, "n", LongType(), required=True),
    NestedField(4, "value", LongType(), required=True),
    NestedField(5, "email", StringType(), required=False),
    NestedField(6, "taken_at", TimestamptzType(), required=True),
    NestedField(7, "_dlt_load_id", StringType(), required=True),
    NestedField(8, "_dlt_id", StringType(), required=True),
    NestedField(9, "_cascade_ingested_at", TimestamptzType(), required=True),
)
PARTITION_SPEC = PartitionSpec(
    PartitionField(source_id=6, field_id=1000, transform=DayTransform(), name="taken_at_day")
)
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]
WHOLE = 10**9  # chunks bigger than any batch here: the in-memory path
DATA = ("_id", "site", "n", "value", "email")


class Reading(pa.DataFrameModel):
    reading_id: str = pa.Field(alias="_id", unique=True)
    site: str
    n: int
    value: int = pa.Field(ge=0, le=1000)
    email: str | None = pa.Field(nullable=True)
    taken_at: datetime


class UniqueEmail(Reading):
    email: str | None = pa.Field(nullable=True, unique=True)


class SmallTotal(Reading):
    @pa.check("value")
    def total_below_1000(cls, values):  # a whole-column check: all chunks' values add up
        return values.sum() < 1000


class RisingValues(Reading):
    @pa.check("value")
    def rising(cls, values):  # depends on the rows' order: the order they were delivered in
        return values.diff().fillna(0) >= 0


class FrameWide(Reading):
    @pa.dataframe_check
    def sites_differ(cls, frame):
        return frame["site"].nunique() > 1


def record(i: int, value: int, day: str = DAYS[0], email: str | None = None) -> dict:
    """Reading i: `_id` and (`site`, `n`) both identify it, so either can be the key."""
    return {
        "_id": f"k{i:04d}",
        "site": f"s{i % 3}",
        "n": i // 3,
        "value": value,
        "email": email,
        "takenAt": f"{day}T{i % 24:02}:00:00Z",
    }


def source(deliveries: dict[str, list[dict]]):
    def readings(partition_date: str):
        # Pages of dicts, as an API returns them.
        rows = deliveries.get(partition_date, [])
        return dlt.resource([rows[i : i + 4] for i in range(0, len(rows), 4)], name="readings")

    return readings


def ingestion_asset(
    deliveries: dict[str, list[dict]],
    identifier: str,
    unique_key: tuple[str, ...] = ("_id",),
    model: type[pa.DataFrameModel] = Reading,
) -> dg.AssetsDefinition:
    @dg.asset(
        name="dlt_readings",
        partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def dlt_readings(
        context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from run_ingestion(
            context,
            config=config,
            iceberg=iceberg,
            source=source(deliveries),
            validation_schema=model,
            table=TableContract(
                identifier=identifier,
                schema=SCHEMA,
                partition_spec=PARTITION_SPEC,
                unique_key=unique_key,
            ),
            validate=True,
            max_runtime_seconds=300,
        )

    return dlt_readings


def load(asset: dg.AssetsDefinition, days: list[str], chunk_rows: int) -> dg.ExecuteInProcessResult:
    tags = {
        "dagster/asset_partition_range_start": days[0],
        "dagster/asset_partition_range_end": days[-1],
    }
    return dg.materialize(
        [asset],
        resources={"iceberg": IcebergResource()},
        tags=tags,
        run_config={"ops": {"dlt_readings": {"config": {"chunk_rows": chunk_rows}}}},
        raise_on_error=False,
    )


COUNTS = ("rows_inserted", "rows_updated", "rows_unchanged", "rows_deleted", "rows_deduplicated")


def counts(result: dg.ExecuteInProcessResult) -> dict:
    assert result.success, failure_message(result)
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    found = {key: metadata[key].value for key in COUNTS}
    if "partition_counts" in metadata:
        found["partition_counts"] = [r.data for r in metadata["partition_counts"].value.records]
    return found


def table_rows(catalog: Catalog, identifier: str) -> list[dict]:
    rows = catalog.load_table(identifier).scan().to_arrow().select(list(DATA)).to_pylist()
    return sorted(rows, key=lambda row: row["_id"])


def duckdb_rows(catalog: Catalog, identifier: str) -> list[tuple]:
    location = catalog.load_table(identifier).metadata_location
    return query_iceberg(location, "SELECT _id, site, n, value, email FROM {table}")


def deliveries(seed: int) -> list[tuple[list[str], dict[str, list[dict]]]]:
    """Two runs: a first day of 60 readings, shuffled, some delivered twice with different
    values far apart; then a backfill of three days that redelivers some readings unchanged,
    changes others, adds new ones and repeats keys across days (the later day wins)."""
    rng = random.Random(seed)
    first = [record(i, i) for i in range(60)]
    rng.shuffle(first)
    first += [record(i, 500 + i) for i in (3, 17, 41)]  # the last row of a key wins
    first.insert(0, record(59, 999))  # an earlier copy, replaced by the one in the shuffle
    backfill = {
        DAYS[0]: [record(i, i) for i in range(0, 20)]  # unchanged (but 3 and 17, below)
        + [record(i, i + 1) for i in range(20, 30)],  # updated
        DAYS[1]: [record(i, 7, DAYS[1]) for i in range(60, 80)] + [record(25, 1, DAYS[1])],
        DAYS[2]: [record(i, 8, DAYS[2]) for i in range(75, 90)] + [record(5, 5, DAYS[2])],
    }
    for rows in backfill.values():
        rng.shuffle(rows)
    return [([DAYS[0]], {DAYS[0]: first}), (DAYS, backfill)]


@pytest.mark.parametrize(
    ("unique_key", "chunks"),
    [
        (("_id",), (7, 7)),
        (("_id",), (WHOLE, 7)),  # the second load's chunks all meet the first load's files
        (("_id",), (7, WHOLE)),  # a load in memory over the small files of a chunked one
        (("site", "n"), (7, 7)),
        (("site", "n"), (WHOLE, 5)),
    ],
)
def test_a_load_in_chunks_matches_the_load_in_memory(
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
    unique_key: tuple[str, ...],
    chunks: tuple[int, int],
) -> None:
    spills = spied_spills(monkeypatch)
    runs = deliveries(seed=len(unique_key) * 10 + chunks[0] % 11)
    for number, ((days, delivered), chunk_rows) in enumerate(zip(runs, chunks, strict=True)):
        whole = load(ingestion_asset(delivered, "raw.whole", unique_key), days, WHOLE)
        assert not spills
        chunked = load(ingestion_asset(delivered, "raw.chunked", unique_key), days, chunk_rows)
        if chunk_rows != WHOLE:
            assert len(spills.pop().chunk_batches) > 5  # the chunked path, with many chunks

        assert counts(chunked) == counts(whole)
        assert table_rows(catalog, "raw.chunked") == table_rows(catalog, "raw.whole")
        assert duckdb_rows(catalog, "raw.chunked") == duckdb_rows(catalog, "raw.whole")
        assert len(catalog.load_table("raw.chunked").snapshots()) == number + 1  # one commit

    rows = {row["_id"]: row["value"] for row in table_rows(catalog, "raw.chunked")}
    assert rows["k0059"] == 59 and rows["k0041"] == 541  # the last row of each key won
    assert rows["k0025"] == 1 and rows["k0005"] == 5  # a later day won
    assert len(rows) == 90


def spied_spills(monkeypatch: pytest.MonkeyPatch) -> list[SortedSpill]:
    """The sorted batches the loads prepare in chunks, as they come."""
    spills = []

    def spied(*args, **kwargs):
        prepared = prepare_chunked(*args, **kwargs)
        spills.append(prepared.spill)
        return prepared

    monkeypatch.setattr(run, "prepare_chunked", spied)
    return spills


def test_the_last_row_of_a_key_wins_across_chunk_boundaries(catalog: Catalog) -> None:
    rows = [record(1, 1), *(record(i, i) for i in range(2, 40)), record(1, 2)]
    result = load(ingestion_asset({DAYS[0]: rows}, "raw.readings"), [DAYS[0]], 5)

    assert counts(result) == {
        "rows_inserted": 39,
        "rows_updated": 0,
        "rows_unchanged": 0,
        "rows_deleted": 0,
        "rows_deduplicated": 1,
    }
    values = {row["_id"]: row["value"] for row in table_rows(catalog, "raw.readings")}
    assert values["k0001"] == 2


def data_files(catalog_env: dict[str, str]) -> list[Path]:
    warehouse = Path(catalog_env["PYICEBERG_CATALOG__CASCADE__WAREHOUSE"].removeprefix("file://"))
    return sorted(warehouse.rglob("*.parquet"))


@pytest.mark.parametrize("table_exists", [False, True])
def test_a_unique_column_repeated_across_chunks_is_refused_and_nothing_written(
    catalog: Catalog, catalog_env: dict[str, str], table_exists: bool
) -> None:
    if table_exists:
        assert load(ingestion_asset({DAYS[0]: [record(0, 0)]}, "raw.readings"), DAYS[:1], 5).success
    before = data_files(catalog_env)
    rows = [record(i, i, email=f"{i}@example.com") for i in range(30)]
    rows[3]["email"] = rows[27]["email"] = "same@example.com"  # chunks 1 and 6 of 5 rows

    result = load(ingestion_asset({DAYS[0]: rows}, "raw.readings", model=UniqueEmail), DAYS[:1], 5)

    message = failure_message(result)
    assert "UniqueEmail rejected the batch for raw.readings; nothing was written." in message
    assert (
        "email: field_uniqueness failed for 2 row(s): 'same@example.com', 'same@example.com'"
        in message
    )
    assert data_files(catalog_env) == before
    if table_exists:
        assert len(catalog.load_table("raw.readings").snapshots()) == 1
    else:
        assert not catalog.table_exists("raw.readings")


def test_a_check_failing_in_several_chunks_counts_every_row(
    catalog: Catalog, catalog_env: dict[str, str]
) -> None:
    rows = [record(i, 5000 if i in (2, 21, 38) else i) for i in range(40)]

    message = failure_message(load(ingestion_asset({DAYS[0]: rows}, "raw.readings"), DAYS[:1], 6))

    assert "value: less_than_or_equal_to(1000) failed for 3 row(s): 5000, 5000, 5000" in message
    assert not catalog.table_exists("raw.readings")
    assert data_files(catalog_env) == []


def test_a_whole_column_check_sees_every_chunk(catalog: Catalog) -> None:
    # 40 values of 30: each chunk of 6 adds up to 180, below 1000, the whole column to 1200.
    rows = [record(i, 30) for i in range(40)]

    message = failure_message(
        load(ingestion_asset({DAYS[0]: rows}, "raw.readings", model=SmallTotal), DAYS[:1], 6)
    )

    assert "value: total_below_1000 failed" in message
    assert not catalog.table_exists("raw.readings")


@pytest.mark.parametrize("keys_fall", [False, True], ids=["keys-rise", "keys-fall"])
def test_a_check_of_the_rows_order_sees_them_as_delivered(
    catalog: Catalog, keys_fall: bool
) -> None:
    """Chunks come in key order; values rise in delivery order. Keys delivered falling put
    the values in falling key order, which a check run in key order would refuse."""
    numbers = range(30)
    rows = [record(29 - i if keys_fall else i, i) for i in numbers]
    falling = [record(29 - i if keys_fall else i, 29 - i) for i in numbers]
    for chunk_rows in (WHOLE, 4):
        asset = ingestion_asset({DAYS[0]: rows}, f"raw.rising{chunk_rows}", model=RisingValues)
        assert load(asset, DAYS[:1], chunk_rows).success, chunk_rows
        refused = ingestion_asset(
            {DAYS[0]: falling}, f"raw.falling{chunk_rows}", model=RisingValues
        )
        message = failure_message(load(refused, DAYS[:1], chunk_rows))
        assert "value: rising failed for 29 row(s)" in message, (chunk_rows, message)


def test_a_frame_wide_check_is_run_on_the_whole_batch(catalog: Catalog) -> None:
    # Two sites, each in a key range of its own: every chunk of 4 holds one site (mostly),
    # the batch both. A batch of one site fails.
    rows = [record(i, i) | {"site": "a" if i < 15 else "b"} for i in range(30)]
    asset = ingestion_asset({DAYS[0]: rows}, "raw.readings", model=FrameWide)
    assert load(asset, DAYS[:1], 4).success
    assert len(table_rows(catalog, "raw.readings")) == 30

    one_site = [record(i, i) for i in range(30, 90, 3)]
    message = failure_message(
        load(ingestion_asset({DAYS[0]: one_site}, "raw.readings", model=FrameWide), DAYS[:1], 4)
    )
    assert "sites_differ failed" in message


def test_a_chunk_size_below_one_is_refused_before_the_source_runs(catalog: Catalog) -> None:
    result = load(ingestion_asset({DAYS[0]: [record(0, 0)]}, "raw.readings"), DAYS[:1], 0)

    assert "chunk_rows must be at least 1, not 0; nothing was loaded." in failure_message(result)
    assert not catalog.table_exists("raw.readings")


def test_the_loads_files_are_removed_when_it_ends(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    rows = [record(i, i) for i in range(30)]
    assert load(ingestion_asset({DAYS[0]: rows}, "raw.readings"), DAYS[:1], 4).success
    assert list(temporary.iterdir()) == []

    rows[17]["value"] = 5000
    assert not load(ingestion_asset({DAYS[0]: rows}, "raw.readings"), DAYS[:1], 4).success
    assert list(temporary.iterdir()) == []
