"""Memory benchmark: a load's peak RSS and throughput as the partition grows.

    .venv/bin/python tests/bench/memory.py                # 100,000, 1,000,000 and 5,000,000 rows
    .venv/bin/python tests/bench/memory.py --scale 0.1    # 10,000, 100,000 and 500,000 rows
    # --sizes N,N,...  --chunk-rows N (the load's chunk size, default 100,000; scaled too)
    # --page N (rows per page, default 1,000)  --in-memory (also load each size with chunks
    # bigger than the batch: the path every load took before chunking)  --keep

For each size N, a catalog of its own (SQLite + a local warehouse in a temporary folder) with
bench.events, created as Cascade creates it and filled with N rows (keys `k000000000`... in
order, appended directly, partitioned by day), then ONE load of a partition of N rows through
`dg.materialize` of the asset `cascade gen` would write (tests/bench/load_variants.py: the
daily-partitioned asset with the Pandera check, calling `run_ingestion`): half updates of the
table's newest half (every column but the key changes), half new keys, in a shuffled order.
The ingestion function's dlt resource yields them as an API gives them: pages of --page dicts
with camelCase keys and ISO 8601 timestamps, each page built when the resource asks for it
(an API's pages are not all in memory either), so the process holds only what the load holds.

Each load runs in a fresh process (this script with --child) that imports what it uses, loads
a small page into a scratch table first (first-use costs out of the figures), resets its peak
RSS (VmHWM) to its RSS, then runs the load. Its peak RSS is VmHWM after the load: all memory,
Arrow's and pandas' included, which tracemalloc would not see; "+MB" is how far it rose above
the RSS before the load. Rows/s is N / `total_elapsed_seconds` (all of `run_ingestion`).
After each load: its counts (N/2 inserted, N/2 updated) and the table's rows against the
expected ones (DuckDB: count, distinct keys and a hash of every value; merge.py's digest).

Targets (ISSUE 14): the peak RSS of the 5M load within 1.5x of the 1M load's, and the
throughput of each load at least the 100k load's (which, at chunk_rows 100,000, is prepared in
memory: the path of every load that fits in one chunk). Figures are printed, never asserted.
"""

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import load  # the whole-load benchmark: the load columns
import load_variants  # the schema module, the Pandera model, the asset, API pages
import merge  # rows, digests, RSS readers

IDENTIFIER = load_variants.IDENTIFIER
PARTITION = "2024-03-01"
PEAK_TARGET = 1.5  # peak RSS of the largest load / the 1M load's (the second size)
WHOLE = 10**12  # a chunk size no batch reaches: the load in memory


def environment(workdir: Path) -> dict[str, str]:
    return {
        "HOME": str(workdir / "home"),  # no ~/.pyiceberg.yaml, no ~/.dlt
        "PYICEBERG_CATALOG__CASCADE__TYPE": "sql",
        "PYICEBERG_CATALOG__CASCADE__URI": f"sqlite:///{workdir / 'catalog.db'}",
        "PYICEBERG_CATALOG__CASCADE__WAREHOUSE": (workdir / "warehouse").as_uri(),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }


# The batch: row p of N is key number `key_number(p, N)`, in an order that looks shuffled and
# needs no memory: an affine permutation of 0..N-1.


def _multiplier(size: int) -> int:
    multiplier = 1_000_003
    while math.gcd(multiplier, size) != 1:
        multiplier += 2
    return multiplier


def key_numbers(positions: np.ndarray, size: int) -> np.ndarray:
    """Half the newest half of the table's keys (N/2..N-1), half new ones (N..N+N/2-1)."""
    shuffled = (positions * _multiplier(size) + 12_345) % size
    half = size // 2
    return np.where(shuffled < half, size - half + shuffled, size + shuffled - half)


def pages(size: int, page: int):
    """The batch as an API's pages of dicts, each built when it is asked for."""
    for start in range(0, size, page):
        positions = np.arange(start, min(size, start + page), dtype=np.int64)
        rows = merge.rows(key_numbers(positions, size), 1)
        yield load_variants.api_pages(rows, page)[0]


# The child: one load in a fresh process.


def child(args: argparse.Namespace) -> None:
    import dagster as dg
    import dlt

    import cascade.runtime.run  # noqa: F401  (imported before the peak is reset)
    from cascade.runtime import IcebergResource

    schema, spec = load_variants.schema_module()
    model = load_variants.pandera_model()

    def materialize(size: int, identifier: str, partition: str, chunk_rows: int) -> dict:
        def events(partition_date: str):
            @dlt.resource(name=load_variants.TABLE_NAME)
            def resource():
                yield from pages(size, args.page)

            return resource()

        asset = load_variants.asset(events, model, schema, spec, identifier)
        result = dg.materialize(
            [asset],
            partition_key=partition,
            resources={"iceberg": IcebergResource()},
            run_config={
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                # 0: the asset's default (or a checkout from before chunk_rows, --pythonpath)
                **(
                    {"ops": {"dlt_events": {"config": {"chunk_rows": chunk_rows}}}}
                    if chunk_rows
                    else {}
                ),
            },
            raise_on_error=False,
        )
        if not result.success:
            raise SystemExit(f"the load failed: {result.failure_data_for_node('dlt_events').error}")
        [event] = result.asset_materializations_for_node("dlt_events")
        return {k: v.value for k, v in event.metadata.items() if isinstance(v.value, int | float)}

    # First-use costs (dlt's pipeline, Pandera, Dagster's instance, pyiceberg's writer) out of
    # the figures, in and out of chunks.
    for warmup_chunks in (0,) if args.chunk_rows == 0 else (100, WHOLE):
        materialize(300, load_variants.WARMUP_IDENTIFIER, "2024-01-01", warmup_chunks)
    base_mb = merge.reset_peak_rss()
    started = time.perf_counter()
    metadata = materialize(args.rows, IDENTIFIER, PARTITION, args.chunk_rows)
    wall = time.perf_counter() - started
    peak_mb = merge.memory_mb("VmHWM")
    result = {"base_mb": base_mb, "peak_mb": peak_mb, "wall": wall, "meta": metadata}
    Path(args.out).write_text(json.dumps(result))


# The parent: a catalog per size, one child per load, the checks and the table.


def catalog(workdir: Path):
    """The size's catalog, configured explicitly: pyiceberg read the environment on import."""
    from pyiceberg.catalog import load_catalog

    prefix = "PYICEBERG_CATALOG__CASCADE__"
    properties = {
        key.removeprefix(prefix).lower(): value
        for key, value in environment(workdir).items()
        if key.startswith(prefix)
    }
    return load_catalog("cascade", **properties)


def prepare(workdir: Path, size: int) -> tuple:
    """bench.events with `size` rows, as Cascade creates it, and the expected digest of its
    rows after the load."""
    from cascade.runtime.contract import TableContract
    from cascade.runtime.table import prepare_table

    schema, spec = load_variants.schema_module()
    contract = TableContract(
        identifier=IDENTIFIER, schema=schema, partition_spec=spec, unique_key=("id",)
    )
    table = prepare_table(catalog(workdir), contract).table
    target = table.schema().as_arrow()
    step = 1_000_000
    for start in range(0, size, step):
        rows = merge.rows(np.arange(start, min(size, start + step)), 0)
        with table.transaction() as transaction:
            transaction.append(load.with_load_columns(rows, 1 + start // step, target))
    table.refresh()
    batch = workdir / "batch.parquet"
    pq.write_table(merge.rows(key_numbers(np.arange(size), size), 1), batch)
    expected = merge.expected_digest(table, batch)
    batch.unlink()
    return expected


def run_size(args: argparse.Namespace, root: Path, size: int, chunk_rows: int) -> dict:
    workdir = root / f"{size}_{'memory' if chunk_rows == WHOLE else chunk_rows}"
    (workdir / "warehouse").mkdir(parents=True)
    (workdir / "home").mkdir()
    os.environ.update(environment(workdir))  # for the child
    started = time.perf_counter()
    expected = prepare(workdir, size)
    prepared = time.perf_counter() - started
    out = workdir / "result.json"
    command = [
        sys.executable, __file__, "--child", "--rows", str(size), "--chunk-rows",
        str(chunk_rows), "--page", str(args.page), "--out", str(out),
    ]  # fmt: skip
    log = workdir / "child.log"
    with log.open("wb") as sink:
        code = subprocess.call(command, stdout=sink, stderr=subprocess.STDOUT, env=os.environ)
    if code or not out.exists():
        lines = log.read_text(errors="replace").strip().splitlines() or ["?"]
        return {"rows": size, "chunk_rows": chunk_rows, "error": f"failed ({log}): {lines[-1]}"}
    result = json.loads(out.read_text())
    meta = result["meta"]
    counts = (meta["rows_inserted"], meta["rows_updated"], meta["rows_unchanged"])
    half = size // 2
    checks = []
    if counts != (size - half, half, 0):
        checks.append(f"counts {counts} != {(size - half, half, 0)}")
    table = catalog(workdir).load_table(IDENTIFIER)
    if merge.digest(merge.data_file_paths(table)) != expected:
        checks.append("rows differ from the expected ones")
    return {
        "rows": size,
        "chunk_rows": chunk_rows,
        "prepare_s": prepared,
        "check": "; ".join(checks) or "ok",
        **result,
    }


def row(result: dict) -> str:
    if result["chunk_rows"] == 0:
        path = "default" + (" (--pythonpath)" if os.environ.get("BENCH_PYTHONPATH") else "")
    elif result["chunk_rows"] >= result["rows"]:
        path = "in memory"
    else:
        path = f"chunks of {result['chunk_rows']:,}"
    if "error" in result:
        return f"{result['rows']:>11,}  {path:<20}  {result['error']}"
    meta = result["meta"]
    total = meta["total_elapsed_seconds"]
    steps = "  ".join(
        f"{step} {meta[f'{step}_elapsed_seconds']:.1f}"
        for step in ("dlt", "conform", "validate", "merge")
    )
    return (
        f"{result['rows']:>11,}  {path:<20}  {total:>8.1f}  {result['rows'] / total:>9,.0f}"
        f"  {result['peak_mb']:>8,.0f}  {result['peak_mb'] - result['base_mb']:>+7,.0f}"
        f"  {result['check']:<5}  {steps}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply sizes and chunk")
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--in-memory", action="store_true", help="also load each size whole")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--pythonpath",
        help="put this folder first on the loads' PYTHONPATH: another checkout's cascade "
        "package (with --chunk-rows 0 for one from before chunk_rows)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sizes = [max(1, round(int(n) * args.scale)) for n in args.sizes.split(",")]
    if args.pythonpath:
        os.environ["BENCH_PYTHONPATH"] = args.pythonpath
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [args.pythonpath, os.environ.get("PYTHONPATH")])
        )
    chunk_rows = args.chunk_rows and max(1, round(args.chunk_rows * args.scale))
    root = Path(tempfile.mkdtemp(prefix="cascade-bench-memory-"))

    now = datetime.now(UTC)
    print(
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, Python "
        f"{platform.python_version()}, pyarrow {pa.__version__}; {now:%Y-%m-%d %H:%M} UTC"
    )
    print(f"loads of N rows (half updates, half new) into a table of N rows; page {args.page}")
    print(
        f"{'rows':>11}  {'path':<20}  {'total s':>8}  {'rows/s':>9}  {'peak MB':>8}  {'+MB':>7}"
        f"  check  steps (s)"
    )
    results = []
    try:
        for size in sizes:
            for chunks in [chunk_rows, *([WHOLE] if args.in_memory else [])]:
                result = run_size(args, root, size, chunks)
                results.append(result)
                print(row(result), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")
    chunked = {r["rows"]: r for r in results if r["chunk_rows"] == chunk_rows and "error" not in r}
    if len(sizes) >= 3 and all(n in chunked for n in sizes[:3]):
        small, middle, large = (chunked[n] for n in sizes[:3])
        ratio = large["peak_mb"] / middle["peak_mb"]
        verdict = "MET" if ratio <= PEAK_TARGET else "MISSED"
        print(
            f"peak RSS {large['rows']:,} / {middle['rows']:,} rows: {ratio:.2f}x "
            f"(target <= {PEAK_TARGET}x): {verdict}"
        )
        floor = small["rows"] / small["meta"]["total_elapsed_seconds"]
        for result in (middle, large):
            rate = result["rows"] / result["meta"]["total_elapsed_seconds"]
            verdict = "MET" if rate >= floor else "MISSED"
            print(
                f"rows/s {result['rows']:,} rows: {rate:,.0f}, {rate / floor:.2f}x the "
                f"{small['rows']:,}-row load's {floor:,.0f} (target >= 1x): {verdict}"
            )


if __name__ == "__main__":
    main()
