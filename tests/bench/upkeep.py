"""Upkeep benchmark: a table after a year of daily merges, before and after compaction + expiry.

    .venv/bin/python tests/bench/upkeep.py            # 200 daily merges + 1M/10M tables, ~1.5 min
    .venv/bin/python tests/bench/upkeep.py --quick    # a tenth of the sizes, a smoke run
    # --days N (daily merges, default 200)  --daily-rows N (new keys a day, default 20,000)
    # --target-mb N (compaction's target file size; default: the table's, else 128 MB)
    # --max-file-rows N (compaction's row cap of a file; default the runtime's, 500,000, a
    # tenth of it with --quick)
    # --repeat N (runs of each timed merge or scan, median shown; default 3)  --keep

One run, one SqlCatalog (SQLite + a local warehouse in a temporary folder), merge.py's rows
(keys `k000000000`... in order, four value columns), unpartitioned as a generated table is by
default. Two parts:

1. A year of daily merges. `bench.daily` is built by --days merges through Cascade's
   `merge_batch`, each a day's load: --daily-rows new keys (after the last one) and a quarter
   as many updates of keys delivered in the 7 days before (late corrections; every column but
   the key changes). Printed: the merge's seconds along the way; then, before and after
   upkeep, the table's data files, manifests, snapshots, metadata.json bytes and files on disk;
   the full-scan time of DuckDB (`iceberg_scan` of the current metadata.json, the offline
   extension of tests/duckdb_reader.py) and of pyiceberg (`scan().to_arrow()`); and the next
   day's merge. Upkeep is what `cascade maintain` runs (runtime/maintain.py) with a 7-day
   retention of this simulated calendar: compaction (`compact_table`), then snapshot expiry
   (`expire_snapshots`, keeping the snapshots of the last 7 days: the real clock ran minutes,
   not days) and orphan removal (`remove_orphan_files`, with no safety window: nothing else
   writes here). The rows must be the same before and after (DuckDB: count, distinct keys and
   a hash of every value, merge.py's digest).

2. The merge benchmark's daily load on compacted tables. merge.py's 1M-row table in 100 files
   and 10M-row table in 1,000 files (commits of 100 files), each compacted and expired, then
   merge.py's daily batch: 100,000 rows, 50,000 updates among the newest 100,000 keys and
   50,000 new keys. Target (ISSUE 14): the 10M-row merge within 1.2x of the 1M-row one. Each
   merge is also checked against the expected rows (merge.py's `expected_digest`).

Timed merges and scans run --repeat times from the same snapshot (the table's current snapshot
is set back after each merge) and report their median: one run on a shared machine is
noise-prone. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))  # tests.duckdb_reader
import merge  # rows, schema, tables in files, digests

from cascade.runtime.compaction import DEFAULT_MAX_FILE_ROWS

KEY = ["id"]
RETENTION_DAYS = 7
LATE_DAYS = 7  # a day's updates are of keys delivered in the 7 days before it
DAILY_RATIO_TARGET = 1.2  # the 10M-row daily merge / the 1M-row one, on compacted tables


@dataclass(frozen=True)
class Shape:
    """What a table is made of at its current snapshot."""

    data_files: int
    data_bytes: int
    manifests: int
    snapshots: int
    metadata_bytes: int
    files_on_disk: int
    bytes_on_disk: int

    @classmethod
    def of(cls, table) -> Shape:
        table.refresh()
        snapshot = table.current_snapshot()
        files = [task.file for task in table.scan().plan_files()]
        root = Path(table.location().removeprefix("file://"))
        on_disk = [Path(folder, name) for folder, _, names in os.walk(root) for name in names]
        return cls(
            data_files=len(files),
            data_bytes=sum(file.file_size_in_bytes for file in files),
            manifests=len(snapshot.manifests(table.io)),
            snapshots=len(table.metadata.snapshots),
            metadata_bytes=Path(table.metadata_location.removeprefix("file://")).stat().st_size,
            files_on_disk=len(on_disk),
            bytes_on_disk=sum(path.stat().st_size for path in on_disk),
        )


def median_seconds(operation: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        operation()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        from pyiceberg.catalog.sql import SqlCatalog

        self.args = args
        self.workdir = workdir
        self.catalog = SqlCatalog(
            "bench",
            uri=f"sqlite:///{workdir / 'catalog.db'}",
            warehouse=f"file://{workdir / 'warehouse'}",
        )
        self.catalog.create_namespace(merge.NAMESPACE)
        self.rng = np.random.default_rng(20240101)

    def create(self, name: str):
        table = self.catalog.create_table(f"{merge.NAMESPACE}.{name}", schema=merge.schema())
        if self.args.target_mb:
            with table.transaction() as transaction:
                transaction.set_properties(
                    {"write.target-file-size-bytes": str(self.args.target_mb * 2**20)}
                )
        return table

    # Reading.

    def scan_seconds(self, table) -> tuple[float, float, tuple]:
        """Median full-scan seconds of DuckDB and of pyiceberg, and DuckDB's digest."""
        from tests.duckdb_reader import connect

        path = table.metadata_location.removeprefix("file://")
        query = merge.DIGEST.format(source="iceberg_scan(?)")
        with connect() as connection:
            digest = connection.execute(query, [path]).fetchone()
            duckdb_seconds = median_seconds(
                lambda: connection.execute(query, [path]).fetchone(), self.args.repeat
            )
        pyiceberg_seconds = median_seconds(lambda: table.scan().to_arrow(), self.args.repeat)
        return duckdb_seconds, pyiceberg_seconds, digest

    # Merging.

    def merge_seconds(self, table, batch: pa.Table) -> float:
        """Median seconds of merging `batch`, each run from the current snapshot (set back
        after it); the first run's rows are checked against the expected ones."""
        from cascade.runtime.merge import merge_batch

        base = table.current_snapshot().snapshot_id
        batch_path = self.workdir / "batch.parquet"
        pq.write_table(batch, batch_path)
        expected = merge.expected_digest(table, batch_path)
        times = []
        for run in range(self.args.repeat):
            started = time.perf_counter()
            merge_batch(table, batch, KEY)
            times.append(time.perf_counter() - started)
            if run == 0:
                got = merge.digest(merge.data_file_paths(table))
                if got != expected:
                    raise SystemExit(f"WRONG rows after the merge: {got}, expected {expected}")
            table.manage_snapshots().set_current_snapshot(base).commit()
        return statistics.median(times)

    def upkeep(self, table, expire_before: datetime) -> list[str]:
        """Compaction, expiry and orphan removal, as `cascade maintain` runs them; what each
        did and its seconds."""
        from cascade.runtime.compaction import compact_table
        from cascade.runtime.upkeep import expire_snapshots, remove_orphan_files

        started = time.perf_counter()
        compaction = compact_table(table, KEY, max_file_rows=self.args.max_file_rows)
        compacted = time.perf_counter()
        expiry = expire_snapshots(table, expire_before)
        expired = time.perf_counter()
        orphans = remove_orphan_files(table, datetime.now(UTC))
        done = time.perf_counter()
        return [
            f"compaction {compacted - started:.1f} s: {compaction.files_rewritten:,} files "
            f"({mb(compaction.bytes_rewritten)}) rewritten into {compaction.files_written:,} "
            f"({mb(compaction.bytes_written)}), target {mb(compaction.target_file_size)} "
            f"or {compaction.max_file_rows:,} rows",
            f"expiry {expired - compacted:.1f} s: {len(expiry.expired):,} snapshots expired, "
            f"{expiry.kept:,} kept",
            f"orphan removal {done - expired:.1f} s: {orphans.files:,} files "
            f"({mb(orphans.bytes)}) deleted",
        ]


# Part 1: a year of daily merges.


def day_batch(bench: Bench, day: int, new_rows: int) -> pa.Table:
    """Day `day`'s load (from 0): `new_rows` new keys, and a quarter as many updates of the
    keys delivered in the LATE_DAYS days before, shuffled."""
    inserts = np.arange(day * new_rows, (day + 1) * new_rows)
    late = np.arange(max(0, day - LATE_DAYS) * new_rows, day * new_rows)
    updates = bench.rng.choice(late, min(len(late), new_rows // 4), replace=False)
    batch = merge.rows(np.concatenate([updates, inserts]), day + 1)
    batch = batch.take(pa.array(bench.rng.permutation(batch.num_rows)))
    return batch.cast(merge.schema().as_arrow())


def daily_merges(bench: Bench) -> None:
    from cascade.runtime.merge import merge_batch

    args = bench.args
    days, new_rows = args.days, args.daily_rows
    print(
        f"\n1. {days} daily merges into bench.daily: {new_rows:,} new keys a day and "
        f"{new_rows // 4:,} updates of the {LATE_DAYS} days before",
        flush=True,
    )
    table = bench.create("daily")
    seconds, day_snapshots = [], []
    started = time.perf_counter()
    for day in range(days):
        batch = day_batch(bench, day, new_rows)
        before = time.perf_counter()
        merge_batch(table, batch, KEY)
        seconds.append(time.perf_counter() - before)
        day_snapshots.append(table.current_snapshot())
        if (day + 1) % max(1, days // 10) == 0:
            recent = statistics.median(seconds[-10:])
            print(f"  day {day + 1:>4}: merge {recent:.2f} s (median of the last 10)", flush=True)
    print(f"  built in {time.perf_counter() - started:.0f} s")

    next_day = day_batch(bench, days, new_rows)
    before = Shape.of(table)
    duckdb_before, pyiceberg_before, digest_before = bench.scan_seconds(table)
    merge_before = bench.merge_seconds(table, next_day)

    # The 7-day retention of this calendar: snapshots of the days before the last 7 expire.
    expire_before = datetime.fromtimestamp(day_snapshots[-RETENTION_DAYS].timestamp_ms / 1000, UTC)
    steps = bench.upkeep(table, expire_before)
    after = Shape.of(table)
    duckdb_after, pyiceberg_after, digest_after = bench.scan_seconds(table)
    merge_after = bench.merge_seconds(table, next_day)

    if digest_after != digest_before:
        raise SystemExit(f"WRONG rows after upkeep: {digest_after}, before {digest_before}")
    for step in steps:
        print(f"  {step}")
    first = statistics.median(seconds[:10])
    last = statistics.median(seconds[-10:])
    print(
        f"  the daily merge as the table grew (no upkeep): median {first:.2f} s over days "
        f"1-10, {last:.2f} s over days {days - 9}-{days}"
    )
    rows = [
        (f"merge of day {days + 1}", f"{merge_before:.2f} s", f"{merge_after:.2f} s"),
        ("data files", f"{before.data_files:,}", f"{after.data_files:,}"),
        ("data bytes", mb(before.data_bytes), mb(after.data_bytes)),
        ("manifests", f"{before.manifests:,}", f"{after.manifests:,}"),
        # Before upkeep: one per merge. Upkeep also expires the timed runs of the next day,
        # which were set back, and adds the compaction's own.
        ("snapshots", f"{before.snapshots:,}", f"{after.snapshots:,}"),
        ("metadata.json", mb(before.metadata_bytes), mb(after.metadata_bytes)),
        (
            "files on disk",
            f"{before.files_on_disk:,} ({mb(before.bytes_on_disk)})",
            f"{after.files_on_disk:,} ({mb(after.bytes_on_disk)})",
        ),
        ("DuckDB full scan", f"{duckdb_before:.2f} s", f"{duckdb_after:.2f} s"),
        ("pyiceberg full scan", f"{pyiceberg_before:.2f} s", f"{pyiceberg_after:.2f} s"),
    ]
    print(f"\n  rows: {digest_after[0]:,}, the same before and after upkeep (DuckDB digest)")
    print(f"  {'':<40}{'before upkeep':>22}{'after':>22}{'after/before':>14}")
    for label, was, now in rows:
        print(f"  {label:<40}{was:>22}{now:>22}{ratio(was, now):>14}")


# Part 2: the merge benchmark's daily load on compacted tables.


def compacted_daily_loads(bench: Bench) -> None:
    scale = 10 if bench.args.quick else 1
    small, batch_size = 1_000_000 // scale, 100_000 // scale
    big = 10 * small
    print(
        f"\n2. merge.py's daily load ({batch_size:,} rows: half updates among the newest "
        f"{small // 10:,} keys, half new keys) on compacted {small:,}- and {big:,}-row tables",
        flush=True,
    )
    results = {}
    for name, row_count, files in (("small", small, 100), ("big", big, 1000)):
        started = time.perf_counter()
        table = bench.create(name)
        merge.append_files(
            table,
            [
                merge.rows(np.arange(i * row_count // files, (i + 1) * row_count // files), 0)
                for i in range(files)
            ],
        )
        updates = bench.rng.choice(
            np.arange(row_count - small // 10, row_count), batch_size // 2, replace=False
        )
        inserts = np.arange(row_count, row_count + batch_size - batch_size // 2)
        batch = merge.rows(np.concatenate([updates, inserts]), 1)
        batch = batch.take(pa.array(bench.rng.permutation(batch.num_rows)))
        batch = batch.cast(merge.schema().as_arrow())
        before = Shape.of(table)
        merge_before = bench.merge_seconds(table, batch)
        steps = bench.upkeep(table, datetime.now(UTC))
        after = Shape.of(table)
        merge_after = bench.merge_seconds(table, batch)
        results[name] = (merge_before, merge_after)
        print(
            f"  {row_count:,} rows: {before.data_files:,} files, {before.manifests} manifests -> "
            f"{after.data_files:,} files, {after.manifests} manifests "
            f"({time.perf_counter() - started:.0f} s)"
        )
        for step in steps:
            print(f"    {step}")
        print(
            f"    daily merge: {merge_before:.2f} s before upkeep, {merge_after:.2f} s after",
            flush=True,
        )
    small_after, big_after = results["small"][1], results["big"][1]
    daily_ratio = big_after / small_after
    verdict = "MET" if daily_ratio <= DAILY_RATIO_TARGET else "MISSED"
    print(
        f"\n  {big:,}-row daily merge on the compacted table: {big_after:.2f} s vs "
        f"{small_after:.2f} s on {small:,} rows = {daily_ratio:.2f}x "
        f"(target <= {DAILY_RATIO_TARGET}x) {verdict}"
    )
    before_ratio = results["big"][0] / results["small"][0]
    print(f"  (before upkeep, as merge.py measures it: {before_ratio:.2f}x)")


def mb(count: int) -> str:
    return f"{count / 2**20:,.1f} MB"


def ratio(was: str, now: str) -> str:
    def number(text: str) -> float:
        return float(text.split()[0].replace(",", ""))

    return f"{number(now) / number(was):.2f}x" if number(was) else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--daily-rows", type=int, default=None, help="new keys a day")
    parser.add_argument("--target-mb", type=int, default=None, help="compaction's target size")
    parser.add_argument("--max-file-rows", type=int, default=None, help="compaction's row cap")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.daily_rows is None:
        args.daily_rows = 2_000 if args.quick else 20_000
    if args.max_file_rows is None:  # a tenth of the sizes, a tenth of the cap
        args.max_file_rows = DEFAULT_MAX_FILE_ROWS // (10 if args.quick else 1)
    workdir = Path(tempfile.mkdtemp(prefix="cascade-bench-upkeep-"))
    started = time.perf_counter()
    print(merge.machine())
    print(f"work folder: {workdir}")
    try:
        bench = Bench(args, workdir)
        daily_merges(bench)
        compacted_daily_loads(bench)
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
