"""Whole-load benchmark: one materialization of an ingestion asset, and each step's share.

    .venv/bin/python tests/bench/load.py            # 100,000 rows into a 1,000,000-row table
    .venv/bin/python tests/bench/load.py --quick    # 10,000 rows into a 100,000-row table
    # --rows N (rows per load, default 100,000)  --loads N (loads that fill the table before
    # the timed ones, default 10)  --repeat N (timed loads, default 3; the median is shown)
    # --page N (rows per page the resource yields, default 1,000)  --keep (keep the temp folder)

What users run: `dg.materialize` of an asset written the way `cascade gen` writes one (a
daily-partitioned `@dg.asset` with the Pandera asset check, calling `run_ingestion` with a
schema module's SCHEMA, PARTITION_SPEC, UNIQUE_KEY and DLT_COLUMNS), over a dlt resource that
yields pages of dicts, as an API source does (camelCase keys, timestamps as ISO strings). The
step timings are the ones the runtime records in the materialization's metadata:

- stage:    `dlt_elapsed_seconds`: the ingestion function and dlt's extract, normalize and
            load to parquet in a temporary folder, read back;
- conform:  `conform_elapsed_seconds`: the cast to the generated schema (`_cascade_ingested_at`
            stamped) and the deduplication on the unique key;
- validate: `validate_elapsed_seconds`: the Pandera model (pandas), checks only;
- merge:    `merge_elapsed_seconds`: loading the catalog and the table, checking it against the
            generated schema, and the merge (probe, rewrite, one commit);
- their sum is `total_elapsed_seconds` (the rest of `run_ingestion` is what is left); outside
  it, Dagster's own run (the ephemeral instance, events) and the `dagster/row_count` metadata,
  read from `dg.materialize`'s wall-clock time.

The table (SQLite SqlCatalog, local warehouse, partitioned by day like the generated
modules) exists before the timed loads: the first of --loads loads creates it through the same
asset, the others are appended directly (one file set per load, same rows and columns), so it
holds --loads x --rows rows, keys `k000000000`... in order, as a table filled by daily loads.
Each timed load: --rows rows, shuffled, half updates of keys in the newest tenth of the table
(every column but the key changes), half new keys; each starts from the same snapshot. The
first load (untimed) also warms up the process (dlt's and Pandera's first-use imports), which
a fresh Dagster run process pays on top; `compile.py` measures imports. The metadata's row
counts are checked against the batch. Timings are printed, never asserted.
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).parent))
from merge import rows as versioned_rows  # noqa: E402  (the merge benchmark's rows)

IDENTIFIER = "bench.events"
START = datetime(2024, 1, 1, tzinfo=UTC)
STEPS = (
    ("dlt", "stage: source + dlt to parquet"),
    ("conform", "conform: cast + deduplicate"),
    ("validate", "validate: Pandera"),
    ("merge", "merge: table check + merge"),
)


def environment(workdir: Path) -> dict[str, str]:
    """The `cascade` catalog as a deployment configures it; dlt's state in the temp folder."""
    return {
        "HOME": str(workdir / "home"),  # no ~/.pyiceberg.yaml, no ~/.dlt
        "PYICEBERG_CATALOG__CASCADE__URI": f"sqlite:///{workdir / 'catalog.db'}",
        "PYICEBERG_CATALOG__CASCADE__WAREHOUSE": (workdir / "warehouse").as_uri(),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(workdir / "dlt_data"),
    }


# The equivalent of a generated schema module, and the user's Pandera model and source.


def schema_module():  # noqa: ANN201 (imported after the environment is set)
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
        PartitionField(source_id=5, field_id=1000, transform=DayTransform(), name="updated_at_day")
    )
    dlt_columns = {
        "id": {"data_type": "text"},
        "value": {"data_type": "bigint"},
        "name": {"data_type": "text"},
        "amount": {"data_type": "double"},
        "updated_at": {"data_type": "timestamp", "timezone": True},
    }
    return schema, spec, dlt_columns


def pandera_model():  # noqa: ANN201
    from pandera.pandas import DataFrameModel, Field

    class Event(DataFrameModel):
        id: str = Field(nullable=False, unique=True)
        value: int = Field(ge=0)
        name: str | None = Field(nullable=True, str_startswith="name-")
        amount: float | None = Field(nullable=True, ge=0)
        updated_at: datetime = Field()

    return Event


def api_pages(table: pa.Table, page: int) -> list[list[dict]]:
    """The rows as a JSON API returns them: camelCase keys, ISO 8601 timestamps, in pages."""
    iso = pc.strftime(table.column("updated_at"), "%Y-%m-%dT%H:%M:%SZ")
    records = table.drop_columns(["updated_at"]).append_column("updatedAt", iso).to_pylist()
    return [records[i : i + page] for i in range(0, len(records), page)]


def ingestion_function(pages: list[list[dict]]):  # noqa: ANN201
    import dlt

    def events(partition_date: str):  # noqa: ANN202, ARG001
        @dlt.resource(name="events")
        def resource():  # noqa: ANN202
            yield from pages

        return resource()

    return events


def asset(source, model, schema, spec, dlt_columns):  # noqa: ANN001, ANN201
    """The asset `cascade gen` would write for this table (see generated/assets/)."""
    import dagster as dg

    from cascade.runtime import IcebergResource, IngestionConfig

    @dg.asset(
        name="dlt_events",
        partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"),
        kinds={"dlt", "iceberg"},
        check_specs=[dg.AssetCheckSpec("pandera_validation", asset="dlt_events")],
    )
    def dlt_events(
        context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
    ):  # noqa: ANN202
        from cascade.runtime import run_ingestion

        yield from run_ingestion(
            context,
            config=config,
            iceberg=iceberg,
            source=source,
            validation_schema=model,
            identifier=IDENTIFIER,
            schema=schema,
            partition_spec=spec,
            unique_key=("id",),
            dlt_columns=dlt_columns,
            retired_field_ids={},
            last_column_id=8,
            last_partition_id=1000,
            validate=True,
            max_runtime_seconds=3600,
        )

    return dlt_events


# Running loads.


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.schema, self.spec, self.dlt_columns = schema_module()
        self.model = pandera_model()
        self.rng = np.random.default_rng(20240101)
        self.partition = START.date()

    def load(self, table: pa.Table) -> tuple[dict, float]:
        """Materialize the asset over `table`'s rows; its metadata and wall-clock seconds."""
        import dagster as dg

        from cascade.runtime import IcebergResource

        pages = api_pages(table, self.args.page)  # built before the clock starts
        definition = asset(
            ingestion_function(pages), self.model, self.schema, self.spec, self.dlt_columns
        )
        self.partition += timedelta(days=1)
        started = time.perf_counter()
        result = dg.materialize(
            [definition],
            partition_key=self.partition.isoformat(),
            resources={"iceberg": IcebergResource()},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=False,
        )
        wall = time.perf_counter() - started
        if not result.success:
            error = result.failure_data_for_node("dlt_events").error
            raise SystemExit(f"the load failed: {error.message}")
        [materialization] = result.asset_materializations_for_node("dlt_events")
        return {key: value.value for key, value in materialization.metadata.items()}, wall

    def fill(self) -> int:
        """The table before the timed loads: the first load through the asset, then appends."""
        from pyiceberg.catalog import load_catalog

        size, loads = self.args.rows, self.args.loads
        started = time.perf_counter()
        meta, wall = self.load(versioned_rows(np.arange(size), 0))
        print(
            f"  first load (creates the table, warms up): {size:,} rows,"
            f" {wall:.1f} s wall; {steps_line(meta)}",
            flush=True,
        )
        table = load_catalog("cascade").load_table(IDENTIFIER)
        for load in range(1, loads):
            chunk = versioned_rows(np.arange(load * size, (load + 1) * size), 0)
            with table.transaction() as transaction:
                transaction.append(with_load_columns(chunk, load, table.schema().as_arrow()))
        table.refresh()
        files = sum(1 for _ in table.scan().plan_files())
        print(
            f"  filled {IDENTIFIER}: {loads * size:,} rows in {files} data files (partitioned"
            f" by day) in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        return table.current_snapshot().snapshot_id

    def batch(self) -> pa.Table:
        """Half updates among the newest tenth of the table's keys, half new keys, shuffled."""
        size, table_rows = self.args.rows, self.args.rows * self.args.loads
        window = np.arange(table_rows - table_rows // 10, table_rows)
        updates = self.rng.choice(window, size // 2, replace=False)
        inserts = np.arange(table_rows, table_rows + size - size // 2)
        batch = versioned_rows(np.concatenate([updates, inserts]), 1)
        return batch.take(pa.array(self.rng.permutation(batch.num_rows)))

    def timed(self, base: int) -> list[tuple[dict, float]]:
        from pyiceberg.catalog import load_catalog

        table = load_catalog("cascade").load_table(IDENTIFIER)
        runs = []
        for run in range(self.args.repeat):
            batch = self.batch()
            meta, wall = self.load(batch)
            expected = (batch.num_rows - batch.num_rows // 2, batch.num_rows // 2)
            got = (meta["rows_inserted"], meta["rows_updated"])
            check = "ok" if got == expected and meta["rows_deleted"] == expected[1] else "WRONG"
            print(
                f"  load {run + 1}: {wall:.2f} s wall; {steps_line(meta)};"
                f" {got[0]:,} inserted, {got[1]:,} updated ({check}); files read"
                f" {meta['files_scanned']}, rewritten {meta['files_rewritten']},"
                f" added {meta['files_added']}",
                flush=True,
            )
            runs.append((meta, wall))
            table.refresh()
            table.manage_snapshots().set_current_snapshot(base).commit()
        return runs


def with_load_columns(chunk: pa.Table, load: int, target: pa.Schema) -> pa.Table:
    """The columns dlt and Cascade add to each row of a load."""
    n = chunk.num_rows
    load_id = f"{1_704_067_200 + load * 86_400}.000000"
    ingested = pa.scalar(START + timedelta(days=load), pa.timestamp("us", tz="UTC"))
    columns = {
        **{name: chunk.column(name) for name in chunk.column_names},
        "_dlt_load_id": pa.repeat(pa.scalar(load_id), n),
        "_dlt_id": pc.binary_join_element_wise(
            f"{load}-", pc.cast(pa.array(np.arange(n)), pa.string()), ""
        ),
        "_cascade_ingested_at": pa.repeat(ingested, n),
    }
    return pa.table(columns).select(target.names).cast(target)


def steps_line(meta: dict) -> str:
    return ", ".join(f"{step} {meta[f'{step}_elapsed_seconds']:.2f} s" for step, _ in STEPS)


def report(runs: list[tuple[dict, float]], args: argparse.Namespace) -> None:
    """The run with the median total, step by step: seconds and share of the load."""
    meta, wall = sorted(runs, key=lambda run: run[0]["total_elapsed_seconds"])[len(runs) // 2]
    total = meta["total_elapsed_seconds"]
    lines = [(label, meta[f"{step}_elapsed_seconds"]) for step, label in STEPS]
    lines.append(("rest of run_ingestion", total - sum(seconds for _, seconds in lines)))
    median = f" (the median of {len(runs)} loads)" if len(runs) > 1 else ""
    print(
        f"\n{args.rows:,} rows ({args.rows // 2:,} updates in the newest tenth + "
        f"{args.rows - args.rows // 2:,} new keys) into {args.rows * args.loads:,} rows{median}"
    )
    print("=" * 62)
    print(f"{'step':<38}{'seconds':>10}{'share':>10}")
    for label, seconds in lines:
        print(f"{label:<38}{seconds:>10.2f}{seconds / total:>10.1%}")
    print("-" * 62)
    print(f"{'run_ingestion total':<38}{total:>10.2f}{1:>10.0%}")
    outside = wall - total
    print(f"{'Dagster run + row count (outside)':<38}{outside:>10.2f}{outside / total:>+10.1%}")
    print(f"{'dg.materialize wall-clock':<38}{wall:>10.2f}")
    rate = args.rows / total
    print(f"\n{rate:,.0f} rows/s through run_ingestion; files read {meta['files_scanned']},"
          f" rewritten {meta['files_rewritten']}, added {meta['files_added']}")  # fmt: skip


def machine() -> str:
    import dagster
    import dlt
    import pandera
    import pyiceberg

    versions = (
        f"dagster {dagster.__version__}, dlt {dlt.__version__}, pandera {pandera.__version__},"
        f" pyiceberg {pyiceberg.__version__}, pyarrow {pa.__version__}"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores,"
        f" load average {load}; {versions}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 rows per load")
    parser.add_argument("--rows", type=int, help="rows per load (default 100,000)")
    parser.add_argument("--loads", type=int, default=10, help="loads that fill the table first")
    parser.add_argument("--repeat", type=int, default=3, help="timed loads")
    parser.add_argument("--page", type=int, default=1000, help="rows per page of the resource")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    args.rows = args.rows or (10_000 if args.quick else 100_000)

    workdir = Path(tempfile.mkdtemp(prefix="cascade-bench-load-"))
    os.environ.update(environment(workdir))
    (workdir / "warehouse").mkdir()
    os.chdir(workdir)
    started = time.perf_counter()
    print(machine())
    print(f"work folder: {workdir}\n", flush=True)
    try:
        bench = Bench(args)
        base = bench.fill()
        runs = bench.timed(base)
        report(runs, args)
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
