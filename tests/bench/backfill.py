"""Benchmark: a 30-day backfill of the example's Nightscout asset through Dagster's CLI, as 30
runs (one `dagster asset materialize --partition DAY` each, as Dagster runs a backfill without
a single-run policy) against one single-run backfill (`--partition-range FIRST...LAST`).

    .venv/bin/python tests/bench/backfill.py [--days 30] [--start 2024-01-01] [--keep]

Each way loads into its own embedded catalog, in its own copy of the example project, from
the same Nightscout fixture server on 127.0.0.1, with its own Dagster instance. Afterwards the
two tables are read back with pyiceberg and must hold the same rows (every column but the
load's own `_dlt_load_id`, `_dlt_id` and `_cascade_ingested_at`); the script prints the
wall-clock of each way, the ratio, and the snapshots each table gained. The target (the single
run at least 10x faster, one snapshot instead of one per day) is printed, never asserted: this
is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from cascade.runtime import IcebergResource  # noqa: E402
from cascade.runtime.contract import METADATA_COLUMN_NAMES  # noqa: E402
from examples.fixtures.nightscout_server import NightscoutFixtureServer  # noqa: E402

SPEEDUP_TARGET = 10.0
TABLE = "raw.glucose_entries"
BIN = Path(sys.executable).parent


def project_copy(folder: Path) -> Path:
    """The example project (pyproject.toml, examples/, generated/) in `folder`."""
    folder.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "pyproject.toml", folder)
    for name in ("examples", "generated"):
        shutil.copytree(
            REPO_ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    return folder


def materialize(project: Path, server: NightscoutFixtureServer, *partition: str) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYICEBERG_", "DAGSTER_HOME"))
    }
    env |= {"NIGHTSCOUT_BASE_URL": server.url, "DAGSTER_HOME": str(project / ".cascade/dagster")}
    (project / ".cascade/dagster").mkdir(parents=True, exist_ok=True)
    command = [
        str(BIN / "dagster"), "asset", "materialize", "-m", "generated.definitions",
        "--select", "dlt_glucose_entries", *partition,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def rows(project: Path) -> tuple[pa.Table, int]:
    """The table's rows without the load's own columns, sorted by key; and its snapshots."""
    table = IcebergResource(project_dir=str(project)).load_catalog().load_table(TABLE)
    data = table.scan().to_arrow()
    data = data.drop_columns([n for n in METADATA_COLUMN_NAMES if n in data.column_names])
    return data.sort_by("_id"), len(table.snapshots())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--keep", action="store_true", help="keep the projects, print where")
    args = parser.parse_args()
    days = [date.fromisoformat(args.start) + timedelta(days=n) for n in range(args.days)]
    folder = Path(tempfile.mkdtemp(prefix="cascade-bench-backfill-"))
    print(f"{args.days} daily partitions of {TABLE}, {days[0]}..{days[-1]}")
    print(f"python {platform.python_version()}, {os.cpu_count()} cpu(s), {platform.platform()}")

    try:
        with NightscoutFixtureServer() as server:
            runs = project_copy(folder / "runs")
            started = time.perf_counter()
            for day in days:
                materialize(runs, server, "--partition", day.isoformat())
            runs_seconds = time.perf_counter() - started
            requests_runs = server.request_count

            single = project_copy(folder / "single")
            started = time.perf_counter()
            materialize(single, server, "--partition-range", f"{days[0]}...{days[-1]}")
            single_seconds = time.perf_counter() - started
            requests_single = server.request_count - requests_runs

        runs_rows, runs_snapshots = rows(runs)
        single_rows, single_snapshots = rows(single)
        equal = runs_rows.equals(single_rows)
        print(f"\n{'':28}{'seconds':>10}{'rows':>8}{'snapshots':>11}{'requests':>10}")
        print(
            f"{'30 runs' if args.days == 30 else f'{args.days} runs':28}{runs_seconds:>10.2f}"
            f"{runs_rows.num_rows:>8}{runs_snapshots:>11}{requests_runs:>10}"
        )
        print(
            f"{'one single-run backfill':28}{single_seconds:>10.2f}"
            f"{single_rows.num_rows:>8}{single_snapshots:>11}{requests_single:>10}"
        )
        ratio = runs_seconds / single_seconds
        print(f"\nspeedup: {ratio:.1f}x (target >= {SPEEDUP_TARGET:.0f}x)")
        print(f"rows equal: {equal}; snapshots: {runs_snapshots} -> {single_snapshots} (target 1)")
        if not equal:
            sys.exit("the two tables differ")
    finally:
        if args.keep:
            print(f"projects kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
