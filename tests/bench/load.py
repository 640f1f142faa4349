"""Whole-load benchmark: Cascade's load, step by step, against dlt's ways on the same pages.

    .venv/bin/python tests/bench/load.py            # 100,000 rows into a 1,000,000-row table
    .venv/bin/python tests/bench/load.py --quick    # 10,000 rows into a 100,000-row table
    # --rows N (rows per load, default 100,000)  --loads N (loads that fill the table before
    # the timed ones, default 10)  --page N (rows per page the resource yields, default 1,000)
    # --variants cascade,cascade_stage,dlt_stage,dlt_iceberg,seed  --timeout S (stop a dlt or
    # seed run after S seconds, default 120; Cascade always finishes)  --repeat N (runs of a
    # variant, default 3; the median is shown)  --budget S (no further run of a variant once
    # its runs add up to S seconds, default 60)  --keep (keep the temp folder)

One run, one batch, the same pages of dicts for every variant: --rows rows as a JSON API
returns them (camelCase keys, timestamps as ISO strings, pages of --page rows), shuffled, half
updates of keys in the newest tenth of the table (every column but the key changes) and half
new keys. The variants (tests/bench/load_variants.py has the code of each):

- cascade:     what users run: `dg.materialize` of an asset written the way `cascade gen`
               writes one (daily-partitioned `@dg.asset` with the Pandera asset check, calling
               `run_ingestion` with a schema module's SCHEMA, PARTITION_SPEC and UNIQUE_KEY),
               over a dlt resource yielding the pages, merged into bench.events;
- cascade_stage: Cascade's typed staging alone, the same work as dlt_stage: the ingestion
               function (the cascade variant's dlt resource of the pages) staged by
               `cascade.runtime.staging.stage(resource, "bench.events", SCHEMA)` (records to
               Arrow data of the schema, dlt's extract and normalize to parquet, read back),
               then `cascade.runtime.batch.conform` (the cast to the schema, the load time
               stamped); no Dagster, no validation, no table;
- dlt_stage:   dlt's own dict normalization of the pages to parquet (the staging path Cascade
               replaced with its own typed conversion to Arrow): a pipeline with a
               filesystem destination in a temp folder, `loader_file_format="parquet"`, the
               column hints the generated DLT_COLUMNS gave (text/bigint/double/timestamp tz),
               the files read back into Arrow; staging only, no Iceberg;
- dlt_iceberg: dlt's own Iceberg destination, write disposition merge (strategy upsert) on
               `id`, into dlt_bench.events: tests/bench/merge.py's `dlt_load`, on a resource of
               the pages with the same hints;
- seed:        the seed's way: dlt_stage's staging, then pyiceberg `Table.upsert` on `id` into
               bench.events.

Cascade's step timings are the ones the runtime records in the materialization's metadata:

- stage:    `dlt_elapsed_seconds`: the ingestion function and the staging of its records
            (`stage`: Cascade's typed conversion, dlt's extract and normalize to parquet in a
            temporary folder, read back);
- conform:  `conform_elapsed_seconds`: the cast to the generated schema (`_cascade_ingested_at`
            stamped) and the deduplication on the unique key;
- validate: `validate_elapsed_seconds`: the Pandera model (pandas), checks only;
- merge:    `merge_elapsed_seconds`: loading the catalog and the table, checking it against the
            generated schema, and the merge (probe, rewrite, one commit);
- `total_elapsed_seconds` is all of `run_ingestion` (the rest is what is left); outside it,
  Dagster's own run (the ephemeral instance, events) and the `dagster/row_count` metadata, read
  from `dg.materialize`'s wall-clock time. Cascade's figure against dlt's Iceberg merge and
  the seed's way is the total; against dlt_stage, cascade_stage's seconds (stage + conform in
  a process of their own), with the stage step of the whole load printed next to it.

Tables (SQLite SqlCatalog, local warehouse, partitioned by day like the generated modules):
the first of --loads loads creates bench.events through the asset, the others are appended
directly (one file set per load, same rows and columns), so it holds --loads x --rows rows,
keys `k000000000`... in order, as a table filled by daily loads. With dlt_iceberg, dlt creates
dlt_bench.events from the same first load's pages (partitioned by day too, dlt must own the
table it merges into) and the same loads are appended. Every run starts from the table's
snapshot before the timed runs (and dlt's pipeline folder as it was then).

Processes and memory: every run of every variant, Cascade's included, is a fresh process
(load_variants.py) that builds the pages, imports what the variant uses and runs it once on a
small page into a scratch table or folder (the first-use costs a process that has loaded
before no longer pays; a fresh Dagster run process pays them, and imports, on top: see
compile.py), then times one run. Its peak RSS is that process's VmHWM, reset to its RSS just
before the run (Arrow allocates outside Python, where tracemalloc cannot see; not
`ru_maxrss`, which Linux carries over from the parent across fork and exec): the peak during
the run, with the process's imports and the pages resident. "+MB" is how far that peak rose
above the RSS before the run. A dlt or seed run (never a Cascade one) is stopped after
--timeout seconds of its run and shown as "> S s", its peak so far as a lower bound.

Checks, cheap ones: each table after a run, dlt_stage's parquet files and cascade_stage's
rows (written to parquet once its peak is read), against DuckDB's count, distinct keys and a
hash of every value (merge.py's digest), expected: the starting rows whose key is not in the
batch plus the batch (dlt_stage, cascade_stage: the batch); cascade_stage's rows have the
schema's Arrow schema; Cascade's metadata row counts and the seed's upsert counts against the
batch. Timings are printed, never asserted.

Targets, like for like: staging time, dlt_stage / cascade_stage >= 4x (and, as before, dlt_stage
/ the whole load's stage step); rows/s through run_ingestion; whole load, dlt's Iceberg merge
and the seed's way / Cascade's total >= 10x; peak memory, cascade_stage below dlt_stage and
Cascade's whole load below dlt's Iceberg merge and below the seed's way.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import merge  # the merge benchmark: rows, appends, digests, RSS readers
from load_variants import IDENTIFIER, TABLE_NAME, VARIANTS

VARIANTS_SCRIPT = Path(__file__).with_name("load_variants.py")
DLT_IDENTIFIER = f"{merge.DLT_NAMESPACE}.{TABLE_NAME}"
START = datetime(2024, 1, 1, tzinfo=UTC)
LABELS = {
    "cascade": "Cascade run_ingestion",
    "cascade_stage": "Cascade staging: stage + conform",
    "dlt_stage": "dlt dict normalization -> parquet",
    "dlt_iceberg": "dlt Iceberg merge (upsert)",
    "seed": "seed: dlt staging + Table.upsert",
}
STEPS = (
    ("dlt", "stage: source + staging"),
    ("conform", "conform: cast + deduplicate"),
    ("validate", "validate: Pandera"),
    ("merge", "merge: table check + merge"),
)
# Targets, as ratios of this run's figures.
STAGING_TARGET = 4  # dlt's dict normalization / Cascade's staging (cascade_stage)
ROWS_PER_SECOND_TARGET = 100_000  # rows / total_elapsed_seconds
LOAD_TARGET = 10  # dlt's Iceberg merge, and the seed's way / Cascade's total


def environment(workdir: Path) -> dict[str, str]:
    """The `cascade` catalog as a deployment configures it, dlt's Iceberg destination on the
    same catalog, dlt's state in the temp folder."""
    uri, warehouse = f"sqlite:///{workdir / 'catalog.db'}", (workdir / "warehouse").as_uri()
    return {
        "HOME": str(workdir / "home"),  # no ~/.pyiceberg.yaml, no ~/.dlt
        "PYICEBERG_CATALOG__CASCADE__URI": uri,
        "PYICEBERG_CATALOG__CASCADE__WAREHOUSE": warehouse,
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DLT_DATA_DIR": str(workdir / "dlt_data"),
        "ICEBERG_CATALOG__ICEBERG_CATALOG_NAME": "cascade",
        "ICEBERG_CATALOG__ICEBERG_CATALOG_TYPE": "sql",
        "ICEBERG_CATALOG__ICEBERG_CATALOG_CONFIG": json.dumps(
            {"type": "sql", "uri": uri, "warehouse": warehouse}
        ),
    }


@dataclass
class Result:
    seconds: float | None  # the variant's figure; None: stopped after the timeout
    peak_mb: float | None = None
    grew_mb: float | None = None
    check: str = ""
    error: str = ""
    meta: dict = field(default_factory=dict)  # Cascade: the materialization's figures
    reported: dict = field(default_factory=dict)  # what the process wrote


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.runs = 0
        self.partition = (START + timedelta(days=args.loads + 1)).date().isoformat()
        self.rng = np.random.default_rng(20240101)
        self.dlt_state = workdir / "dlt_pipelines" / f"bench_{TABLE_NAME}"
        self.dlt_state_saved = workdir / "dlt_pipeline_before"

    # The starting tables and the batch.

    def fill(self, variants: tuple[str, ...]) -> dict[str, int]:
        """The tables before the timed runs: identifier -> snapshot id."""
        size, loads = self.args.rows, self.args.loads
        first = self.write("first", merge.rows(np.arange(size), 0))
        chunks = [
            merge.rows(np.arange(load * size, (load + 1) * size), 0) for load in range(1, loads)
        ]
        tables = {}
        if {"cascade", "seed"} & set(variants):
            started = time.perf_counter()
            created = self.child("cascade", first, warmup=False, timeout=None)
            if created.error:
                raise SystemExit(f"creating {IDENTIFIER} failed: {created.error}")
            print(
                f"  first load (creates {IDENTIFIER}, a fresh process): {size:,} rows, "
                f"{created.reported['wall']:.1f} s wall; {steps_line(created.meta)}",
                flush=True,
            )
            tables[IDENTIFIER] = self.append(IDENTIFIER, chunks, started)
        if "dlt_iceberg" in variants:
            started = time.perf_counter()
            created = self.child("dlt_create", first, warmup=False, timeout=None)
            if created.error:
                raise SystemExit(f"creating {DLT_IDENTIFIER} through dlt failed: {created.error}")
            tables[DLT_IDENTIFIER] = self.append(DLT_IDENTIFIER, chunks, started)
            shutil.copytree(self.dlt_state, self.dlt_state_saved)
        if len(tables) > 1:
            digests = {digest_of(identifier) for identifier in tables}
            same = "the same" if len(digests) == 1 else "DIFFERENT"
            print(f"  {' and '.join(tables)} hold {same} rows", flush=True)
        return tables

    def append(self, identifier: str, chunks: list[pa.Table], started: float) -> int:
        from pyiceberg.catalog import load_catalog

        table = load_catalog("cascade").load_table(identifier)
        target = table.schema().as_arrow()
        for load, chunk in enumerate(chunks, start=1):
            with table.transaction() as transaction:
                transaction.append(with_load_columns(chunk, load, target))
        table.refresh()
        print(
            f"  filled {identifier}: {self.args.loads * self.args.rows:,} rows in"
            f" {len(merge.data_file_paths(table))} data files (partitioned by day) in"
            f" {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        return table.current_snapshot().snapshot_id

    def batch(self) -> Path:
        """Half updates among the newest tenth of the table's keys, half new keys, shuffled."""
        size, table_rows = self.args.rows, self.args.rows * self.args.loads
        window = np.arange(table_rows - table_rows // 10, table_rows)
        updates = self.rng.choice(window, size // 2, replace=False)
        inserts = np.arange(table_rows, table_rows + size - size // 2)
        batch = merge.rows(np.concatenate([updates, inserts]), 1)
        return self.write("batch", batch.take(pa.array(self.rng.permutation(batch.num_rows))))

    def write(self, name: str, rows: pa.Table) -> Path:
        path = self.workdir / f"{name}.parquet"
        pq.write_table(rows, path)
        return path

    # Running the variants.

    def child(self, variant: str, batch: Path, warmup: bool, timeout: float | None) -> Result:
        """One run of `variant` in a fresh process (load_variants.py), stopped after `timeout`
        seconds of its run."""
        self.runs += 1
        out = self.workdir / "runs" / f"{self.runs:03d}_{variant}.json"
        out.parent.mkdir(exist_ok=True)
        command = [
            sys.executable, str(VARIANTS_SCRIPT), variant, "--batch", str(batch),
            "--out", str(out), "--workdir", str(self.workdir), "--page", str(self.args.page),
            "--partition", self.partition, *(["--warmup"] if warmup else []),
        ]  # fmt: skip
        log = out.with_suffix(".log")
        started_file = Path(f"{out}.started")
        with log.open("wb") as sink:
            # A session of its own, so that a stopped run goes with anything it started.
            process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
            run_started = None
            while process.poll() is None:
                if run_started is None and started_file.exists():
                    run_started = time.monotonic()
                if timeout and run_started and time.monotonic() - run_started > timeout:
                    return self.stop(process, started_file)
                time.sleep(0.02)
        if process.returncode or not out.exists():
            lines = log.read_text(errors="replace").strip().splitlines() or ["?"]
            return Result(None, error=f"failed ({log}): {lines[-1][:200]}")
        reported = json.loads(out.read_text())
        meta = reported.pop("meta", {})
        seconds = meta.get("total_elapsed_seconds", reported["seconds"])
        return Result(
            seconds,
            reported["peak_mb"],
            reported["peak_mb"] - reported["base_mb"],
            meta=meta,
            reported=reported,
        )

    @staticmethod
    def stop(process: subprocess.Popen, started_file: Path) -> Result:
        # Its peak so far is a lower bound of the peak it would have reached.
        try:
            peak = merge.memory_mb("VmHWM", process.pid)
        except FileNotFoundError:  # it ended just now
            peak = None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        base = json.loads(started_file.read_text())["base_mb"]
        return Result(None, peak, None if peak is None else peak - base, check="stopped")

    def run(self, variant: str, batch: Path, tables: dict[str, int]) -> Result:
        """Runs of `variant` from the same starting point while under --repeat and --budget."""
        from pyiceberg.catalog import load_catalog

        identifier = {"dlt_iceberg": DLT_IDENTIFIER, "dlt_stage": None, "cascade_stage": None}.get(
            variant, IDENTIFIER
        )
        table = load_catalog("cascade").load_table(identifier) if identifier else None
        # Every run starts from the table's starting snapshot: a correct run leaves the rows
        # whose key is not in the batch, plus the batch.
        expected = merge.expected_digest(table, batch) if table else merge.digest([str(batch)])
        runs: list[Result] = []
        while not runs or (
            len(runs) < self.args.repeat
            and runs[-1].seconds is not None
            and not runs[-1].error
            and sum(run.seconds for run in runs) < self.args.budget
        ):
            if variant == "dlt_iceberg":  # dlt's local state as it was after creating the table
                shutil.rmtree(self.dlt_state)
                shutil.copytree(self.dlt_state_saved, self.dlt_state)
            timeout = None if variant.startswith("cascade") else self.args.timeout
            run = self.child(variant, batch, warmup=True, timeout=timeout)
            if run.seconds is not None and not run.error:
                run.check = self.check(variant, run, table, expected)
            if table is not None:
                table.refresh()
                table.manage_snapshots().set_current_snapshot(tables[identifier]).commit()
            runs.append(run)
            print(f"  {LABELS[variant]:<36}{run_line(run, self.args.timeout)}", flush=True)
        return summarize(runs)

    def check(self, variant: str, run: Result, table, expected: tuple) -> str:
        """Row count, distinct keys and a hash of every value, and the counts a variant reports."""
        rows = self.args.rows
        counts = {"cascade": run.meta, "seed": run.reported}.get(variant)
        if counts is not None:
            got = (counts["rows_inserted"], counts["rows_updated"])
            if got != (rows - rows // 2, rows // 2):
                return f"WRONG counts: {got[0]:,} inserted, {got[1]:,} updated"
        if variant == "cascade_stage" and not run.reported["schema_ok"]:
            return "WRONG: the rows do not have the schema's Arrow schema"
        if variant in ("dlt_stage", "cascade_stage"):
            files = [path.removeprefix("file://") for path in run.reported["files"]]
            got = merge.digest(files)
            if variant == "dlt_stage":
                shutil.rmtree(run.reported["folder"], ignore_errors=True)
            else:
                for path in files:
                    Path(path).unlink()
        else:
            table.refresh()
            got = merge.digest(merge.data_file_paths(table))
        return f"ok ({got[0]:,} rows)" if got == expected else f"WRONG {got}, expected {expected}"


def digest_of(identifier: str) -> tuple:
    from pyiceberg.catalog import load_catalog

    return merge.digest(merge.data_file_paths(load_catalog("cascade").load_table(identifier)))


def with_load_columns(chunk: pa.Table, load: int, target: pa.Schema) -> pa.Table:
    """The columns dlt and Cascade add to each row of a load (those the table has)."""
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


def summarize(runs: list[Result]) -> Result:
    """The median run (Cascade: by total), the largest peak, and every check."""
    timed = sorted((run for run in runs if run.seconds is not None), key=lambda r: r.seconds)
    if len(timed) < len(runs) or any(run.error for run in runs):
        return runs[-1]
    median = timed[len(timed) // 2]
    checks = " / ".join(sorted({run.check for run in runs}))
    return Result(
        median.seconds,
        max(run.peak_mb for run in runs),
        max(run.grew_mb for run in runs),
        check=checks + (f" (median of {len(runs)})" if len(runs) > 1 else ""),
        meta=median.meta,
        reported=median.reported,
    )


# Printing.


def steps_line(meta: dict) -> str:
    return ", ".join(f"{step} {meta[f'{step}_elapsed_seconds']:.2f} s" for step, _ in STEPS)


def run_line(run: Result, timeout: float) -> str:
    if run.error:
        return run.error
    if run.seconds is None:
        so_far = "" if run.peak_mb is None else f"; peak so far {run.peak_mb:.0f} MB"
        return f"> {timeout:g} s (stopped{so_far})"
    steps = f"; {steps_line(run.meta)}" if run.meta else ""
    if "stage_seconds" in run.reported:  # cascade_stage
        stage, conform = run.reported["stage_seconds"], run.reported["conform_seconds"]
        steps = f"; stage {stage:.2f} s, conform {conform:.2f} s"
    return (
        f"{run.seconds:7.2f} s  peak {run.peak_mb:5.0f} MB (+{run.grew_mb:.0f}){steps}  {run.check}"
    )


def report(results: dict[str, Result], args: argparse.Namespace) -> None:
    rows, timeout = args.rows, args.timeout
    print(
        f"\n{rows:,} rows ({rows // 2:,} updates in the newest tenth + {rows - rows // 2:,} new"
        f" keys) into {rows * args.loads:,} rows, pages of {args.page:,} dicts"
    )
    cascade = results.get("cascade")
    if cascade and cascade.meta:
        cascade_steps(cascade)
    print("\n" + "=" * 104)
    print(
        f"{'variant (each run a fresh process)':<40}{'seconds':>9}{'vs Cascade':>12}"
        f"{'rows/s':>10}{'peak MB':>9}{'+MB':>6}  rows"
    )
    stage = cascade.meta["dlt_elapsed_seconds"] if cascade and cascade.meta else None
    staging = results.get("cascade_stage")
    # dlt's staging compares with Cascade's staging (the stage step of the whole load when
    # cascade_stage did not run), dlt's Iceberg merge and the seed's way with the whole load.
    staging_seconds = staging.seconds if staging and not staging.error else stage
    for variant, result in results.items():
        at_least = ">=" if result.seconds is None and result.peak_mb is not None else ""
        peak = "" if result.peak_mb is None else f"{at_least}{result.peak_mb:.0f}"
        grew = "" if result.grew_mb is None else f"{at_least}{result.grew_mb:.0f}"
        rate = "" if result.seconds is None else f"{rows / result.seconds:,.0f}"
        against = staging_seconds if variant == "dlt_stage" else cascade and cascade.seconds
        ratio = "" if variant.startswith("cascade") else ratio_cell(result, against, timeout)
        seconds = "error" if result.error else (
            f">{timeout:g}" if result.seconds is None else f"{result.seconds:.2f}"
        )  # fmt: skip
        print(
            f"{LABELS[variant]:<40}{seconds:>9}{ratio:>12}{rate:>10}{peak:>9}{grew:>6}"
            f"  {result.check or result.error}"
        )
        if variant == "cascade" and stage is not None:
            print(f"{'  of which stage (dlt_elapsed_seconds)':<40}{stage:>9.2f}{'':>12}"
                  f"{rows / stage:>10,.0f}")  # fmt: skip
    print(
        "seconds: Cascade's total_elapsed_seconds, the others' whole run; vs Cascade: their"
        " seconds / Cascade's total (dlt's staging: / Cascade's staging, stage + conform);"
        " peak MB: the"
        " process's peak RSS during the run (imports and pages resident), +MB: its rise over"
        " the RSS before the run; > and >=: so far, when stopped"
    )
    targets(results, args)


def cascade_steps(cascade: Result) -> None:
    """Cascade's median run, step by step: seconds and share of run_ingestion."""
    meta, wall = cascade.meta, cascade.reported["wall"]
    total = meta["total_elapsed_seconds"]
    lines = [(label, meta[f"{step}_elapsed_seconds"]) for step, label in STEPS]
    lines.append(("rest of run_ingestion", total - sum(seconds for _, seconds in lines)))
    print(f"\nCascade's load, step by step ({cascade.check})")
    print("=" * 62)
    print(f"{'step':<38}{'seconds':>10}{'share':>10}")
    for label, seconds in lines:
        print(f"{label:<38}{seconds:>10.2f}{seconds / total:>10.1%}")
    print("-" * 62)
    print(f"{'run_ingestion total':<38}{total:>10.2f}{1:>10.0%}")
    outside = wall - total
    print(f"{'Dagster run + row count (outside)':<38}{outside:>10.2f}{outside / total:>+10.1%}")
    print(f"{'dg.materialize wall-clock':<38}{wall:>10.2f}")
    print(
        f"files read {meta['files_scanned']}, rewritten {meta['files_rewritten']},"
        f" added {meta['files_added']}"
    )


def targets(results: dict[str, Result], args: argparse.Namespace) -> None:
    """Like for like: staging against staging, whole load against whole load."""
    done = {name: r for name, r in results.items() if r.seconds is not None and not r.error}
    cascade, staging = done.get("cascade"), done.get("cascade_stage")
    dlt_stage = results.get("dlt_stage")
    dlt_stage = None if dlt_stage is None or dlt_stage.error else dlt_stage
    if not (cascade or staging):
        return
    print("\nTargets (ratios of this run's figures; '>' where the other variant was stopped)")
    timeout = args.timeout
    if dlt_stage and staging:
        ratio, lower = speedup(dlt_stage, staging.seconds, timeout)
        print(
            f"  staging: dlt dict normalization / Cascade staging (stage + conform) ="
            f" {'>' if lower else ''}{ratio:.1f}x (target >= {STAGING_TARGET}x)"
            f" {verdict(ratio >= STAGING_TARGET, lower)}"
        )
    if dlt_stage and cascade:
        stage = cascade.meta["dlt_elapsed_seconds"]
        ratio, lower = speedup(dlt_stage, stage, timeout)
        print(
            f"  staging in the load: dlt dict normalization / Cascade's stage step ="
            f" {'>' if lower else ''}{ratio:.1f}x (target >= {STAGING_TARGET}x)"
            f" {verdict(ratio >= STAGING_TARGET, lower)}"
        )
    if cascade:
        rate = args.rows / cascade.seconds
        print(
            f"  Cascade: {rate:,.0f} rows/s through run_ingestion"
            f" (target >= {ROWS_PER_SECOND_TARGET:,}) {verdict(rate >= ROWS_PER_SECOND_TARGET)}"
        )
        for other in ("dlt_iceberg", "seed"):
            if other in results and not results[other].error:
                ratio, lower = speedup(results[other], cascade.seconds, timeout)
                met = verdict(ratio >= LOAD_TARGET, lower)
                print(
                    f"  whole load: {LABELS[other]} / Cascade = {'>' if lower else ''}"
                    f"{ratio:.1f}x (target >= {LOAD_TARGET}x) {met}"
                )
    # Peak memory, like for like: staging against staging, whole load against whole load.
    pairs = (
        ("cascade_stage", "dlt_stage", "Cascade staging"),
        ("cascade", "dlt_iceberg", "Cascade's whole load"),
        ("cascade", "seed", "Cascade's whole load"),
    )
    for ours, other, name in pairs:
        mine, theirs = done.get(ours), results.get(other)
        if mine is None or theirs is None or theirs.peak_mb is None:
            continue
        stopped = theirs.seconds is None  # then its peak is a lower bound
        print(
            f"  peak memory: {name} {mine.peak_mb:.0f} MB, {LABELS[other]}"
            f" {'>= ' if stopped else ''}{theirs.peak_mb:.0f} MB (target: {name} below)"
            f" {verdict(mine.peak_mb < theirs.peak_mb, stopped)}"
        )


def speedup(other: Result, seconds: float, timeout: float) -> tuple[float, bool]:
    """How many times slower `other` was than `seconds`; a lower bound if it was stopped."""
    if other.seconds is None:
        return timeout / seconds, True
    return other.seconds / seconds, False


def ratio_cell(result: Result, cascade_seconds: float | None, timeout: float) -> str:
    if not cascade_seconds or result.error:
        return ""
    ratio, lower = speedup(result, cascade_seconds, timeout)
    return f"{'>' if lower else ''}{ratio:.1f}x"


def verdict(met: bool, lower_bound: bool = False) -> str:
    """A figure that is only a lower bound can meet a target, not miss it."""
    return "MET" if met else ("unknown" if lower_bound else "MISSED")


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
    parser.add_argument("--page", type=int, default=1000, help="rows per page of the resource")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument(
        "--timeout", type=float, default=120, help="stop a dlt or seed run after S seconds"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of a variant")
    parser.add_argument(
        "--budget", type=float, default=60, help="no more runs of a variant past S seconds"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    args.rows = args.rows or (10_000 if args.quick else 100_000)
    variants = tuple(v for v in VARIANTS if v in args.variants.split(","))
    if unknown := set(args.variants.split(",")) - set(VARIANTS):
        parser.error(f"unknown variants {', '.join(sorted(unknown))}; known: {', '.join(VARIANTS)}")

    workdir = Path(tempfile.mkdtemp(prefix="cascade-bench-load-"))
    os.environ.update(environment(workdir))
    (workdir / "warehouse").mkdir()
    os.chdir(workdir)
    started = time.perf_counter()
    print(machine())
    print(f"work folder: {workdir}\n", flush=True)
    try:
        bench = Bench(args, workdir)
        tables = bench.fill(variants)
        batch = bench.batch()
        print(f"\n{args.rows:,} rows, each run from the same starting point:", flush=True)
        results = {variant: bench.run(variant, batch, tables) for variant in variants}
        report(results, args)
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
