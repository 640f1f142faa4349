"""One variant of the whole-load benchmark (tests/bench/load.py), alone in a fresh process.

    .venv/bin/python tests/bench/load_variants.py VARIANT --batch B.parquet --out R.json \\
        --workdir DIR [--page N] [--partition YYYY-MM-DD] [--warmup]

load.py starts one such process per run of a variant, with the catalog and dlt configured in
its environment. The process reads the batch (parquet), turns it into the pages of dicts an
API returns (built before the clock starts), imports what the variant uses, and with
--warmup first runs the same variant on one small page into a scratch table or folder, so
that first-use costs (dlt's pipeline machinery, Pandera's schema, Dagster's instance) stay
out of the timing as in a process that has loaded before. It then resets its peak RSS
(VmHWM) to its current RSS, writes `<out>.started` (that RSS), runs the variant once, and
writes `<out>`: the seconds, the peak RSS during the run and what the variant reports.

Variants, all on the same pages:
- cascade:     `dg.materialize` of the asset `cascade gen` would write, calling `run_ingestion`
               (stage, conform, validate, merge into bench.events);
- cascade_stage: Cascade's typed staging alone, the work dlt_stage does: what `run_ingestion`
               runs before validation, without Dagster or a table: the ingestion function
               called on the pages, `cascade.runtime.staging.stage` (its records turned into
               Arrow data of the schema, dlt's extract and normalize to parquet, read back),
               then `cascade.runtime.batch.conform` (the cast to the schema, the load time
               stamped); the rows are written to parquet after the run, for load.py's check;
- dlt_stage:   dlt's own dict normalization to parquet, today's staging path: a pipeline with
               a filesystem destination in a folder of its own, `loader_file_format="parquet"`,
               the column hints the generated DLT_COLUMNS gave, and the root table's files read
               back into Arrow; no Iceberg;
- dlt_iceberg: dlt's Iceberg destination, write disposition merge (upsert) on `id`, into
               dlt_bench.events: `dlt_load` from tests/bench/merge.py, given a resource of the
               pages with the same hints;
- seed:        the seed's way: dlt_stage's staging, `_cascade_ingested_at` added and the rows
               cast to the table's schema, then pyiceberg's `Table.upsert(join_cols=["id"])`
               into bench.events, catalog and table loaded inside the timing like Cascade's;
- dlt_create:  (not timed) dlt creates dlt_bench.events from the pages, partitioned by day
               like bench.events, with write disposition append.
"""

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import merge  # the merge benchmark: its rows, dlt's Iceberg merge, RSS readers

IDENTIFIER = "bench.events"
WARMUP_IDENTIFIER = "bench.warmup"
SEED_WARMUP_IDENTIFIER = "bench.seed_warmup"
TABLE_NAME = "events"  # also dlt's table: dlt_bench.events
WARMUP_ROWS = 100
# The column hints the generated DLT_COLUMNS gave dlt for this table (dlt's naming turns the
# source's `updatedAt` into `updated_at` before it applies them).
DLT_HINTS = {
    "id": {"data_type": "text"},
    "value": {"data_type": "bigint"},
    "name": {"data_type": "text"},
    "amount": {"data_type": "double"},
    "updated_at": {"data_type": "timestamp", "timezone": True},
}
VARIANTS = ("cascade", "cascade_stage", "dlt_stage", "dlt_iceberg", "seed")


# The equivalent of a generated schema module, and the user's Pandera model and source.


def schema_module():  # imported after the environment is set
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
    return schema, spec


def pandera_model():
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


def ingestion_function(pages: list[list[dict]]):
    import dlt

    def events(partition_date: str):
        @dlt.resource(name=TABLE_NAME)
        def resource():
            yield from pages

        return resource()

    return events


def asset(source, model, schema, spec, identifier: str):
    """The asset `cascade gen` would write for this table (see generated/assets/)."""
    import dagster as dg

    from cascade.runtime import IcebergResource, IngestionConfig
    from cascade.runtime.contract import TableContract

    @dg.asset(
        name="dlt_events",
        partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"),
        kinds={"dlt", "iceberg"},
        check_specs=[dg.AssetCheckSpec("pandera_validation", asset="dlt_events")],
    )
    def dlt_events(
        context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
    ):
        from cascade.runtime import run_ingestion

        yield from run_ingestion(
            context,
            config=config,
            iceberg=iceberg,
            source=source,
            validation_schema=model,
            table=TableContract(
                identifier=identifier,
                schema=schema,
                partition_spec=spec,
                unique_key=("id",),
                retired_field_ids={},
                last_column_id=8,
                last_partition_id=1000,
            ),
            validate=True,
            max_runtime_seconds=3600,
        )

    return dlt_events


# The variants.


def cascade_load(pages: list[list[dict]], partition: str, identifier: str = IDENTIFIER) -> dict:
    """Materialize the asset over the pages: its metadata's figures and the wall-clock time."""
    import dagster as dg

    from cascade.runtime import IcebergResource

    schema, spec = schema_module()
    definition = asset(ingestion_function(pages), pandera_model(), schema, spec, identifier)
    started = time.perf_counter()
    result = dg.materialize(
        [definition],
        partition_key=partition,
        resources={"iceberg": IcebergResource()},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        raise_on_error=False,
    )
    wall = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"the load failed: {result.failure_data_for_node('dlt_events').error}")
    [materialization] = result.asset_materializations_for_node("dlt_events")
    metadata = {key: value.value for key, value in materialization.metadata.items()}
    figures = {k: v for k, v in metadata.items() if isinstance(v, int | float | str)}
    return {"meta": figures, "wall": wall}


def cascade_stage(pages: list[list[dict]], schema, partition: str) -> tuple[pa.Table, dict]:
    """`run_ingestion`'s staging alone: the ingestion function, `stage` and `conform`."""
    from cascade.runtime.batch import conform
    from cascade.runtime.staging import stage

    started = time.perf_counter()
    staged = stage(ingestion_function(pages)(partition), IDENTIFIER, schema)
    staged_at = time.perf_counter()
    rows = conform(staged.rows, schema, ingested_at=datetime.now(UTC))
    figures = {
        "stage_seconds": staged_at - started,
        "conform_seconds": time.perf_counter() - staged_at,
    }
    return rows, figures


def pages_resource(pages: list[list[dict]]):
    import dlt

    columns = {name: {"name": name, **hint} for name, hint in DLT_HINTS.items()}

    @dlt.resource(name=TABLE_NAME, columns=columns)
    def events():
        yield from pages

    return events()


def dlt_stage(pages: list[list[dict]], folder: Path) -> tuple[pa.Table, list[str]]:
    """dlt's extract, dict normalization and load to parquet files; the root table read back."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name="bench_stage",
        pipelines_dir=str(folder / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=str(folder / "bucket")),
        dataset_name="staging",
    )
    info = pipeline.run(
        pages_resource(pages), write_disposition="append", loader_file_format="parquet"
    )
    info.raise_on_failed_jobs()
    paths = [
        job.remote_url
        for metrics in info.metrics.values()
        for step in metrics
        for job in step["job_metrics"].values()
        if job.table_name == TABLE_NAME and job.remote_url
    ]
    return pa.concat_tables([pq.read_table(path) for path in paths]), paths


def dlt_iceberg(pages: list[list[dict]], workdir: Path, table: str, disposition: str) -> None:
    """merge.py's dlt Iceberg load, over a resource of the pages (partitioned by day, as
    bench.events, when dlt creates the table)."""
    from dlt.destinations.adapters import iceberg_adapter, iceberg_partition

    resource = iceberg_adapter(pages_resource(pages), partition=iceberg_partition.day("updated_at"))
    merge.dlt_load(SimpleNamespace(table=table, workdir=str(workdir)), resource, disposition)


def seed_load(pages: list[list[dict]], identifier: str) -> dict:
    """dlt staging as in dlt_stage, then `Table.upsert` on the unique key."""
    from pyiceberg.catalog import load_catalog

    with tempfile.TemporaryDirectory(prefix="bench-seed-") as folder:
        staged, _ = dlt_stage(pages, Path(folder))
    table = load_catalog("cascade").load_table(identifier)
    target = table.schema().as_arrow()
    ingested = pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC"))
    staged = staged.append_column("_cascade_ingested_at", pa.repeat(ingested, staged.num_rows))
    result = table.upsert(staged.select(target.names).cast(target), join_cols=["id"])
    return {"rows_inserted": result.rows_inserted, "rows_updated": result.rows_updated}


def ensure_seed_warmup_table() -> None:
    from pyiceberg.catalog import load_catalog

    schema, spec = schema_module()
    load_catalog("cascade").create_table_if_not_exists(
        SEED_WARMUP_IDENTIFIER, schema=schema, partition_spec=spec
    )


# The process.


def warmup_pages(page: int) -> list[list[dict]]:
    return api_pages(merge.rows(np.arange(WARMUP_ROWS), 0), page)


def run(args: argparse.Namespace) -> None:
    pages = api_pages(pq.read_table(args.batch), args.page)
    workdir = Path(args.workdir)
    # What the variant imports is imported before the clock starts, and with --warmup it runs
    # once on a small page, somewhere else.
    import pyiceberg.io.pyarrow
    import pyiceberg.table.upsert_util  # noqa: F401

    schema, _ = schema_module()  # a generated schema module is imported before its run
    if args.variant == "cascade":
        import dagster  # noqa: F401

        import cascade.runtime.run

        if args.warmup:
            cascade_load(warmup_pages(args.page), "2024-01-01", WARMUP_IDENTIFIER)
        operation = lambda: cascade_load(pages, args.partition)  # noqa: E731
    elif args.variant == "cascade_stage":
        import cascade.runtime.batch
        import cascade.runtime.staging  # noqa: F401

        if args.warmup:
            cascade_stage(warmup_pages(args.page), schema, "2024-01-01")

        def operation() -> dict:
            rows, figures = cascade_stage(pages, schema, args.partition)
            return {"rows": rows.num_rows, **figures, "table": rows}

    elif args.variant == "dlt_stage":
        folder = workdir / f"{Path(args.out).stem}_stage"
        if args.warmup:
            with tempfile.TemporaryDirectory(prefix="bench-warmup-") as scratch:
                dlt_stage(warmup_pages(args.page), Path(scratch))

        def operation() -> dict:
            staged, paths = dlt_stage(pages, folder)
            return {"rows": staged.num_rows, "files": paths, "folder": str(folder)}

    elif args.variant in ("dlt_iceberg", "dlt_create"):
        import dlt.destinations.impl.filesystem.filesystem  # noqa: F401

        if args.warmup:
            dlt_iceberg(warmup_pages(args.page), workdir, "warmup", "merge")
        disposition = "merge" if args.variant == "dlt_iceberg" else "append"
        operation = lambda: dlt_iceberg(pages, workdir, TABLE_NAME, disposition)  # noqa: E731
    elif args.variant == "seed":
        if args.warmup:
            ensure_seed_warmup_table()
            seed_load(warmup_pages(args.page), SEED_WARMUP_IDENTIFIER)
        operation = lambda: seed_load(pages, IDENTIFIER)  # noqa: E731
    else:
        raise SystemExit(f"unknown variant {args.variant!r}")

    base_mb = merge.reset_peak_rss()
    write_json(Path(f"{args.out}.started"), {"base_mb": base_mb})
    started = time.perf_counter()
    reported = operation() or {}
    seconds = time.perf_counter() - started
    peak_mb = merge.memory_mb("VmHWM")
    if (rows := reported.pop("table", None)) is not None:
        # cascade_stage's rows, for load.py's check: written once the peak is read.
        path = workdir / f"{Path(args.out).stem}_rows.parquet"
        pq.write_table(rows, path)
        reported |= {"files": [str(path)], "schema_ok": rows.schema.equals(schema.as_arrow())}
    result = {"seconds": seconds, "base_mb": base_mb, "peak_mb": peak_mb, **reported}
    write_json(Path(args.out), result)


def write_json(path: Path, value: dict) -> None:
    """Written whole or not at all: load.py polls for these files."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(value))
    partial.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=(*VARIANTS, "dlt_create"))
    parser.add_argument("--batch", required=True, help="the batch's rows (parquet)")
    parser.add_argument("--out", required=True, help="where to write the result (JSON)")
    parser.add_argument("--workdir", required=True, help="the benchmark's temporary folder")
    parser.add_argument("--page", type=int, default=1000, help="rows per page")
    parser.add_argument("--partition", default=date(2024, 1, 2).isoformat())
    parser.add_argument("--warmup", action="store_true", help="run once on a small page first")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
