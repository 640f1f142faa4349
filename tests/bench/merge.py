"""Merge benchmark: Cascade's merge_batch against the other ways to merge into Iceberg.

    .venv/bin/python tests/bench/merge.py            # 1M-row tables + a 10M-row table
    .venv/bin/python tests/bench/merge.py --quick    # a tenth of the sizes, a smoke run
    # --timeout S (stop Table.upsert and dlt after S seconds, default 120; Cascade and
    # delete+append always finish)  --variants cascade,delete_append,upsert,dlt
    # --repeat N (runs of a quick variant, median shown; default 3)  --budget S (no further
    # run once a variant's runs add up to S seconds; default 5)  --keep (keep the temp folder)

One run, one SqlCatalog (SQLite + a local warehouse in a temporary folder), the same data for
every variant:
- cascade:        `cascade.runtime.merge.merge_batch`;
- delete+append:  one transaction with `Transaction.delete(<In on the batch keys>)` then
                  `append(batch)` (Cascade's merge before this change);
- upsert:         pyiceberg's `Table.upsert(batch, join_cols=["id"])`;
- dlt:            dlt's filesystem destination with `table_format="iceberg"`, write
                  disposition merge with strategy upsert and primary key `id`, pointed at the
                  same catalog (`iceberg_catalog_config`); it runs extract, normalize and load,
                  and loads through `Table.upsert` in slices of 1,000 rows. It merges into its
                  own table (dlt must own the table it loads), with the same rows and layout.

Tables: keys `k000000000`, `k000000001`... in order, so that each data file holds a narrow key
range, as a table filled by daily appends does. 1,000,000 rows in 1, 10 and 100 data files, and
10,000,000 rows in 1,000 files (the same file size as 100 files of 1M rows), written in commits
of at most 100 files: one manifest per 100 files, as in a table that grew by loads (one
manifest each) or was compacted. (In one 1,000-file manifest, every merge would also pay
pyiceberg's rewrite of that manifest, ~0.2 s here, for removing a few of its files.)
Batches of 100,000 rows, shuffled: 50,000 updates (every column but the key changes) and
50,000 new keys (after the last one); the updates are spread over the whole table, or in the
newest tenth of it (a daily load). On the 10M-row table, also the same daily window as on 1M
rows (the newest 100,000 rows): the cost should follow the touched files, not the table size.

Each variant runs in its own subprocess, started from the same snapshot (the table is reset
between variants), and reports the time of the merge call alone, its peak RSS (VmHWM, reset
just before the call: Arrow allocates outside Python, where tracemalloc cannot see) and how
much that peak exceeds the RSS before the call. Table.upsert and dlt, which take minutes at
full size, are stopped after --timeout seconds and shown as "> S". After each variant the
table's rows are checked against the expected ones (count, distinct keys and a hash of all
values, computed by DuckDB). Timings are printed, never asserted.
"""

from __future__ import annotations

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NAMESPACE, DLT_NAMESPACE = "bench", "dlt_bench"
VARIANTS = ("cascade", "delete_append", "upsert", "dlt")
LABELS = {
    "cascade": "Cascade merge_batch",
    "delete_append": "delete+append txn",
    "upsert": "Table.upsert",
    "dlt": "dlt iceberg upsert",
}
COLUMNS = ("id", "value", "name", "amount", "updated_at")
# Tables are written in commits of this many files at most, so a manifest lists at most this
# many files, whatever the table size (as when a table grows by loads, or is compacted).
MANIFEST_FILES = 100
# The references known to take minutes at full size: stopped after --timeout seconds.
SLOW = ("upsert", "dlt")
START_MICROS = 1_704_067_200_000_000  # 2024-01-01


def schema():  # pyiceberg is imported lazily, after the environment is set
    from pyiceberg.schema import Schema
    from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

    return Schema(
        NestedField(1, "id", StringType(), required=True),
        NestedField(2, "value", LongType(), required=False),
        NestedField(3, "name", StringType(), required=False),
        NestedField(4, "amount", DoubleType(), required=False),
        NestedField(5, "updated_at", TimestamptzType(), required=False),
        identifier_field_ids=[1],
    )


def rows(numbers: np.ndarray, version: int) -> pa.Table:
    """Rows for key numbers; `version` changes every column but the key."""
    n = pa.array(numbers, pa.int64())
    digits = pc.utf8_lpad(pc.cast(n, pa.string()), width=9, padding="0")
    micros = pc.add(pc.multiply(n, 1_000_000), START_MICROS + version * 86_400_000_000)
    return pa.table(
        {
            "id": pc.binary_join_element_wise("k", digits, ""),
            "value": pc.add(n, version * 1_000_000_000),
            "name": pc.binary_join_element_wise(
                "name-", pc.cast(pc.add(pc.bit_wise_and(n, 1023), version), pa.string()), ""
            ),
            "amount": pc.add(pc.cast(n, pa.float64()), version / 10),
            "updated_at": pc.cast(micros, pa.timestamp("us", tz="UTC")),
        }
    )


# The parent: build tables and batches, run each variant in a subprocess, check and print.


@dataclass(frozen=True)
class Scenario:
    name: str  # short, for the summary table
    title: str
    table: str  # bench.<table>, and dlt_bench.<table> for dlt
    batch: Path
    variants: tuple[str, ...]
    files: int
    compare_with: str = ""  # the scenario whose Cascade time this one should stay close to


@dataclass
class Result:
    seconds: float | None  # None: stopped after the timeout
    peak_mb: float | None = None
    merge_mb: float | None = None
    check: str = ""
    error: str = ""


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.uri = f"sqlite:///{workdir / 'catalog.db'}"
        self.warehouse = f"file://{workdir / 'warehouse'}"
        os.environ.update(self.environment())
        from pyiceberg.catalog.sql import SqlCatalog

        self.catalog = SqlCatalog("bench", uri=self.uri, warehouse=self.warehouse)
        self.catalog.create_namespace(NAMESPACE)
        self.rng = np.random.default_rng(20240101)

    def environment(self) -> dict[str, str]:
        """dlt's configuration: the benchmark's catalog, everything else in the temp folder."""
        config = {"type": "sql", "uri": self.uri, "warehouse": self.warehouse}
        return {
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DLT_DATA_DIR": str(self.workdir / "dlt_data"),
            "ICEBERG_CATALOG__ICEBERG_CATALOG_NAME": "bench",
            "ICEBERG_CATALOG__ICEBERG_CATALOG_TYPE": "sql",
            "ICEBERG_CATALOG__ICEBERG_CATALOG_CONFIG": json.dumps(config),
        }

    # Tables and batches.

    def build(self, name: str, row_count: int, files: int, with_dlt: bool) -> None:
        started = time.perf_counter()
        chunks = [
            rows(np.arange(i * row_count // files, (i + 1) * row_count // files), 0)
            for i in range(files)
        ]
        table = self.catalog.create_table(f"{NAMESPACE}.{name}", schema=schema())
        append_files(table, chunks)
        if with_dlt:
            # dlt creates its table from the first file, then the others go in like ours.
            subprocess.run(
                [sys.executable, __file__, "--child", "dlt_create", "--table", name, *self.paths()],
                input=pa_to_bytes(chunks[0]),
                check=True,
                capture_output=True,
            )
            append_files(self.catalog.load_table(f"{DLT_NAMESPACE}.{name}"), chunks[1:])
        print(
            f"  built {name}: {row_count:,} rows in {files:,} files"
            f"{' (and the dlt copy)' if with_dlt else ''} in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

    def batch(self, name: str, row_count: int, window: int, size: int) -> Path:
        """`size` rows: half updates among the newest `window` keys, half new keys."""
        updates = self.rng.choice(
            np.arange(row_count - window, row_count), size // 2, replace=False
        )
        inserts = np.arange(row_count, row_count + size - size // 2)
        batch = rows(np.concatenate([updates, inserts]), 1)
        batch = batch.take(pa.array(self.rng.permutation(batch.num_rows)))
        path = self.workdir / f"batch_{name}.parquet"
        pq.write_table(batch.cast(schema().as_arrow()), path)
        return path

    def paths(self) -> list[str]:
        return ["--workdir", str(self.workdir), "--uri", self.uri, "--warehouse", self.warehouse]

    # Running and checking.

    def run(self, scenario: Scenario) -> dict[str, Result]:
        print(f"\n{scenario.title}", flush=True)
        results, expected_by_table = {}, {}
        for variant in scenario.variants:
            identifier = f"{DLT_NAMESPACE if variant == 'dlt' else NAMESPACE}.{scenario.table}"
            table = self.catalog.load_table(identifier)
            base = table.current_snapshot().snapshot_id
            if identifier not in expected_by_table:
                expected_by_table[identifier] = expected_digest(table, scenario.batch)
            runs: list[Result] = []
            # Quick variants run again (from the same snapshot) while under the budget, and
            # report their median time: one run on a shared machine is noise-prone.
            while not runs or (
                len(runs) < self.args.repeat
                and runs[-1].seconds is not None
                and sum(run.seconds for run in runs) < self.args.budget
            ):
                run = self.child(variant, scenario)
                table.refresh()
                if run.seconds is not None and not run.error:
                    got = digest(data_file_paths(table))
                    expected = expected_by_table[identifier]
                    run.check = f"ok ({got[0]:,} rows)" if got == expected else f"WRONG {got}"
                table.manage_snapshots().set_current_snapshot(base).commit()
                runs.append(run)
            results[variant] = summarize(runs)
            print(
                f"  {LABELS[variant]:<22} {format_seconds(results[variant], self.args.timeout)}",
                flush=True,
            )
        return results

    def child(self, variant: str, scenario: Scenario) -> Result:
        command = [
            sys.executable, __file__, "--child", variant, "--table", scenario.table,
            "--batch", str(scenario.batch), *self.paths(),
        ]  # fmt: skip
        # A session of its own, so that a stopped variant goes with anything it started.
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
        )
        timeout = self.args.timeout if variant in SLOW else None
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Its peak so far is a lower bound of the peak it would have reached.
            peak = memory_mb("VmHWM", process.pid)
            os.killpg(process.pid, signal.SIGKILL)
            out, _ = process.communicate()
            lines = out.decode().strip().splitlines()
            base = json.loads(lines[0])["base_mb"] if lines else peak
            return Result(None, peak, peak - base, check="stopped")
        if process.returncode:
            message = err.decode().strip().splitlines()[-1:] or ["?"]
            return Result(seconds=None, error=f"failed: {message[0][:200]}")
        report = json.loads(out.decode().strip().splitlines()[-1])
        return Result(report["seconds"], report["peak_mb"], report["peak_mb"] - report["base_mb"])


def summarize(runs: list[Result]) -> Result:
    """The median time, the largest memory figures, and every check (they must all be ok)."""
    timed = sorted((run for run in runs if run.seconds is not None), key=lambda r: r.seconds)
    if len(timed) < len(runs) or any(run.error for run in runs):
        return runs[-1]
    median = timed[len(timed) // 2]
    checks = {run.check for run in runs}
    return Result(
        median.seconds,
        max(run.peak_mb for run in runs),
        max(run.merge_mb for run in runs),
        check=" / ".join(sorted(checks)) + (f" (median of {len(runs)})" if len(runs) > 1 else ""),
    )


def append_files(table, chunks: list[pa.Table]) -> None:
    """One data file per chunk, in commits of at most 100 files (one manifest each)."""
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    from cascade.runtime.pyiceberg_compat import write_data_files

    arrow_schema = table.schema().as_arrow()
    counter = itertools.count()
    for start in range(0, len(chunks), MANIFEST_FILES):
        with table.transaction() as transaction:
            with transaction.update_snapshot().fast_append() as append:

                def write(chunk: pa.Table) -> list:
                    data = chunk.select(arrow_schema.names).cast(arrow_schema)
                    metadata = transaction.table_metadata
                    return write_data_files(metadata, data, table.io, append.commit_uuid, counter)

                with ThreadPoolExecutor(max_workers=4) as pool:
                    for files in pool.map(write, chunks[start : start + MANIFEST_FILES]):
                        for file in files:
                            append.append_data_file(file)


def pa_to_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def data_file_paths(table) -> list[str]:
    return [task.file.file_path.removeprefix("file://") for task in table.scan().plan_files()]


DIGEST = """
    SELECT count(*), count(DISTINCT id),
           sum(hash(id, value, name, amount, epoch_us(updated_at))::HUGEINT)
    FROM {source}
"""


def digest(paths: list[str]) -> tuple:
    import duckdb

    columns = ", ".join(COLUMNS)
    source = f"(SELECT {columns} FROM read_parquet({paths!r}))"
    return duckdb.sql(DIGEST.format(source=source)).fetchone()


def expected_digest(table, batch: Path) -> tuple:
    """The rows after a correct merge: the table's rows whose key is not in the batch, + batch."""
    import duckdb

    columns = ", ".join(COLUMNS)
    source = f"""(
        SELECT {columns} FROM read_parquet({data_file_paths(table)!r})
        WHERE id NOT IN (SELECT id FROM read_parquet('{batch}'))
        UNION ALL SELECT {columns} FROM read_parquet('{batch}')
    )"""
    return duckdb.sql(DIGEST.format(source=source)).fetchone()


def format_seconds(result: Result, timeout: float) -> str:
    if result.error:
        return result.error
    if result.seconds is None:
        so_far = "" if result.peak_mb is None else f"; peak so far {result.peak_mb:.0f} MB"
        return f"> {timeout:.0f} s (stopped{so_far})"
    return (
        f"{result.seconds:8.2f} s  peak {result.peak_mb:6.0f} MB  (merge +{result.merge_mb:.0f} MB)"
        f"  {result.check}"
    )


def report(scenarios: list[Scenario], results: list[dict[str, Result]], timeout: float) -> None:
    print("\n" + "=" * 108)
    print(
        f"{'scenario':<34}{'variant':<22}{'seconds':>9}{'vs Cascade':>12}"
        f"{'peak MB':>9}{'+MB':>7}  rows"
    )
    for scenario, by_variant in zip(scenarios, results, strict=True):
        cascade = by_variant.get("cascade")
        for i, (variant, result) in enumerate(by_variant.items()):
            at_least = ">=" if result.seconds is None else ""
            peak = "" if result.peak_mb is None else f"{at_least}{result.peak_mb:.0f}"
            grew = "" if result.merge_mb is None else f"{at_least}{result.merge_mb:.0f}"
            print(
                f"{scenario.name if i == 0 else '':<34}{LABELS[variant]:<22}"
                f"{seconds_cell(result, timeout):>9}{ratio_cell(result, cascade, timeout):>12}"
                f"{peak:>9}{grew:>7}  {result.check or result.error}"
            )
    print(
        "peak MB: the process's peak RSS during the call (imports included); +MB: its growth"
        " over the RSS just before the call; >= : so far, when stopped"
    )

    print("\nTargets (ratios measured in this run; '>' where the other variant was stopped)")
    by_name = {s.name: r for s, r in zip(scenarios, results, strict=True)}
    for scenario, by_variant in zip(scenarios, results, strict=True):
        cascade = by_variant.get("cascade")
        if cascade is None or cascade.seconds is None:
            continue
        if scenario.files == 100:
            for other, target in (("upsert", 10), ("delete_append", 3)):
                if other in by_variant and not by_variant[other].error:
                    ratio, lower = speedup(by_variant[other], cascade, timeout)
                    verdict = "MET" if ratio >= target else ("unknown" if lower else "MISSED")
                    print(
                        f"  {scenario.name}: {LABELS[other]} / Cascade = "
                        f"{'>' if lower else ''}{ratio:.1f}x (target >= {target}x) {verdict}"
                    )
        upsert = by_variant.get("upsert")
        if upsert and upsert.merge_mb is not None:
            stopped = upsert.seconds is None  # then its figure is a lower bound
            below = cascade.merge_mb < upsert.merge_mb
            verdict = "MET" if below else ("unknown" if stopped else "MISSED")
            print(
                f"  {scenario.name}: memory growth Cascade +{cascade.merge_mb:.0f} MB,"
                f" Table.upsert {'>= ' if stopped else ''}+{upsert.merge_mb:.0f} MB"
                f" (target: Cascade below) {verdict}"
            )
        if scenario.compare_with in by_name:
            small = by_name[scenario.compare_with]["cascade"]
            if small.seconds:
                ratio = cascade.seconds / small.seconds
                print(
                    f"  {scenario.name} vs {scenario.compare_with}: Cascade {cascade.seconds:.2f} s"
                    f" vs {small.seconds:.2f} s = {ratio:.2f}x (target <= 1.5x) "
                    f"{'MET' if ratio <= 1.5 else 'MISSED'}"
                )


def seconds_cell(result: Result, timeout: float) -> str:
    if result.error:
        return "error"
    return f">{timeout:.0f}" if result.seconds is None else f"{result.seconds:.2f}"


def speedup(other: Result, cascade: Result, timeout: float) -> tuple[float, bool]:
    """How many times slower `other` was than Cascade; a lower bound if it was stopped."""
    if other.seconds is None:
        return timeout / cascade.seconds, True
    return other.seconds / cascade.seconds, False


def ratio_cell(result: Result, cascade: Result | None, timeout: float) -> str:
    if cascade is None or cascade.seconds is None or result.error:
        return ""
    ratio, lower = speedup(result, cascade, timeout)
    return f"{'>' if lower else ''}{ratio:.1f}x"


def parent(args: argparse.Namespace) -> None:
    scale = 10 if args.quick else 1
    n, batch_size = 1_000_000 // scale, 100_000 // scale
    big = 10 * n
    variants = tuple(v for v in VARIANTS if v in args.variants.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="cascade-bench-merge-"))
    started = time.perf_counter()
    print(machine())
    print(f"work folder: {workdir}\n")
    try:
        bench = Bench(args, workdir)
        for files in (1, 10, 100):
            bench.build(f"t{files}", n, files, with_dlt="dlt" in variants)
        bench.build("big", big, 1000, with_dlt=False)
        spread = bench.batch("spread", n, n, batch_size)
        newest = bench.batch("newest", n, n // 10, batch_size)
        newest_big = bench.batch("newest_big", big, big // 10, batch_size)
        daily_big = bench.batch("daily_big", big, n // 10, batch_size)

        m = f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"
        big_m = f"{big // 1_000_000}M"
        b = f"batch {batch_size:,} rows ({batch_size // 2:,} updates + {batch_size // 2:,} inserts)"
        scenarios = []
        for files in (1, 10, 100):
            for batch, short, where in (
                (spread, "spread", "updates spread over the whole table"),
                (newest, "newest", "updates in the newest tenth"),
            ):
                scenarios.append(
                    Scenario(
                        f"{m} rows/{files} files, {short}",
                        f"{n:,} rows in {files} files; {b}; {where}",
                        f"t{files}", batch, variants, files,
                    )
                )  # fmt: skip
        # dlt gets no 10M-row table: at 1,000 rows per upsert it would take hours.
        no_dlt = tuple(v for v in variants if v != "dlt")
        scenarios += [
            Scenario(
                f"{big_m} rows/1000 files, newest",
                f"{big:,} rows in 1000 files; {b}; updates in the newest tenth "
                f"({big // 10:,} rows: 100 files, 10x the rows the 1M-row newest tenth touches)",
                "big", newest_big, no_dlt, 1000,
            ),
            Scenario(
                f"{big_m} rows/1000 files, daily",
                f"{big:,} rows in 1000 files; {b}; updates in the newest {n // 10:,} rows "
                "(the window of the 1M-row newest tenth: the same daily load on a 10x table)",
                "big", daily_big, no_dlt, 1000, compare_with=f"{m} rows/100 files, newest",
            ),
        ]  # fmt: skip
        results = [bench.run(scenario) for scenario in scenarios]
        report(scenarios, results, args.timeout)
        if "dlt" in variants:
            print("  dlt was not run on the 10M-row table: it upserts 1,000 rows at a time.")
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def machine() -> str:
    import duckdb
    import pyiceberg

    versions = (
        f"pyiceberg {pyiceberg.__version__}, pyarrow {pa.__version__}, duckdb {duckdb.__version__}"
    )
    try:
        import dlt

        versions += f", dlt {dlt.__version__}"
    except ImportError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores,"
        f" load average {load}; {versions}"
    )


# The child: one variant, timed alone.


def child(args: argparse.Namespace) -> None:
    # What a variant imports is imported before the clock starts.
    import pyiceberg.io.pyarrow
    import pyiceberg.table.upsert_util  # noqa: F401
    from pyiceberg.catalog.sql import SqlCatalog

    if args.child.startswith("dlt"):
        import dlt  # noqa: F401
    else:
        import cascade.runtime.merge  # noqa: F401  (imports dagster, through runtime.errors)

    catalog = SqlCatalog("bench", uri=args.uri, warehouse=args.warehouse)
    if args.child == "dlt_create":
        dlt_load(args, pq.read_table(pa.BufferReader(sys.stdin.buffer.read())), "append")
        return
    batch = pq.read_table(args.batch)
    if args.child == "dlt":
        operation = lambda: dlt_load(args, batch, "merge")  # noqa: E731
    else:
        table = catalog.load_table(f"{NAMESPACE}.{args.table}")
        operation = {
            "cascade": lambda: cascade_merge(table, batch),
            "delete_append": lambda: delete_append(table, batch),
            "upsert": lambda: table.upsert(batch, join_cols=["id"]),
        }[args.child]
    base_mb = reset_peak_rss()
    print(json.dumps({"base_mb": base_mb}), flush=True)  # for the parent, if it stops us
    started = time.perf_counter()
    operation()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "base_mb": base_mb, "peak_mb": memory_mb("VmHWM")}))


def cascade_merge(table, batch: pa.Table) -> None:
    from cascade.runtime.merge import merge_batch

    merge_batch(table, batch, ["id"])


def delete_append(table, batch: pa.Table) -> None:
    from pyiceberg.expressions import In

    with table.transaction() as transaction:
        transaction.delete(In("id", set(batch.column("id").to_pylist())))
        transaction.append(batch)


def dlt_load(args: argparse.Namespace, data: pa.Table, disposition: str) -> None:
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{args.table}",
        pipelines_dir=str(Path(args.workdir) / "dlt_pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=f"file://{args.workdir}/dlt_bucket"),
        dataset_name=DLT_NAMESPACE,
    )
    write_disposition = (
        {"disposition": "merge", "strategy": "upsert"} if disposition == "merge" else "append"
    )
    pipeline.run(
        data,
        table_name=args.table,
        write_disposition=write_disposition,
        primary_key="id",
        table_format="iceberg",
    )


def memory_mb(field: str, pid: int | str = "self") -> float:
    """VmRSS (now) or VmHWM (peak) of a process. Not `ru_maxrss`: Linux carries it over
    `exec` from the parent, so a child would report the benchmark's own peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> float:
    """Reset VmHWM to the current RSS (Linux >= 4.0), and return that RSS."""
    Path("/proc/self/clear_refs").write_text("5")
    return memory_mb("VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument(
        "--timeout", type=float, default=120, help="stop Table.upsert and dlt after S seconds"
    )
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--repeat", type=int, default=3, help="runs of a quick variant")
    parser.add_argument(
        "--budget", type=float, default=5, help="no more runs of a variant past S seconds"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    for name in ("--child", "--table", "--batch", "--workdir", "--uri", "--warehouse"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    child(args) if args.child else parent(args)


if __name__ == "__main__":
    main()
