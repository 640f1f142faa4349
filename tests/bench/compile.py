"""Benchmark: `cascade gen` / `cascade check` on a large project, and loading what they generate.

    .venv/bin/python tests/bench/compile.py [--ingestions 500] [--repeat 3] [--budget 30]
                                            [--load-repeat 3] [--keep]

Builds a synthetic user project (see synthetic.py) in a temporary folder and times, as
wall-clock of the real CLI in a subprocess:

- cold gen: no `<project>/.cascade` (the compiler's cache) and no generated/ folder;
- warm gen and warm check: nothing changed since the last gen;
- check and gen after one model changed (one file edited): the incremental path, where only
  the edited module is parsed and only the tables whose models it holds are resolved and
  rendered again.

Then it times importing the generated definitions in a fresh interpreter against a seed-style
copy of the same project, whose decorator builds schemas and assets at import (seed_cascade.py),
and checks that both define the same number of assets. Every figure and ratio comes from this
one run; targets are printed next to them, never asserted: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from synthetic import (
    IngestionSpec,
    make_ingestions,
    model_source,
    write_cascade_project,
    write_seed_project,
)

COLD_GEN_TARGET = 5.0  # seconds, for 500 ingestions
WARM_CHECK_TARGET = 0.2  # seconds
INCREMENTAL_CHECK_TARGET = 0.5  # seconds: `cascade check` after editing one model
LOAD_SPEEDUP_TARGET = 2.0  # seed-style import time / generated import time

# Run in a fresh interpreter with cwd = the project, so that nothing is cached in-process.
# The import is timed on its own; resolving the asset keys afterwards both counts the assets
# (so that the comparison is of equal work) and shows what Dagster pays next when it loads.
LOAD_SNIPPET = """\
import json, time
t0 = time.perf_counter()
{statement}
t1 = time.perf_counter()
keys = defs.resolve_all_asset_keys() if defs is not None else []
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "resolve": t2 - t1, "assets": len(keys)}}))
"""

# What both styles of definitions import before any project code: Dagster and Cascade's resource
# classes. Timing it alone shows how much of each load is the project's own cost. (The
# generated assets import the runtime's loading code, dlt and PyIceberg only when they run.)
SHARED_IMPORTS = (
    "import dagster; from cascade.runtime import IcebergResource, IngestionConfig; defs = None"
)


@dataclass
class Timing:
    label: str
    samples: list[float] = field(default_factory=list)
    target: float | None = None  # an upper bound in seconds, when there is one

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


class BenchError(Exception):
    """A command did not do what the benchmark needs; the message says what it printed."""


def subprocess_env(workdir: Path) -> dict[str, str]:
    """The environment of every timed subprocess.

    Bytecode goes to a cache inside the temporary folder (PYTHONPYCACHEPREFIX), so that the
    timed runs import compiled modules, as an installed deployment does, even where the caller
    sets PYTHONDONTWRITEBYTECODE, and without writing into the repository or the virtualenv.
    PYTHONPATH is dropped: it could put another `generated` package ahead of the project's.
    """
    dropped = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ingestions", type=int, default=500, help="number of ingestions")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each CLI benchmark")
    parser.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="stop repeating a CLI benchmark once its runs took this many seconds (min 1 run)",
    )
    parser.add_argument("--load-repeat", type=int, default=3, help="runs of each load benchmark")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args()
    if min(args.ingestions, args.repeat, args.load_repeat) < 1:
        parser.error("--ingestions, --repeat and --load-repeat must be at least 1")

    cascade = Path(sys.executable).with_name("cascade")
    if not cascade.exists():
        print(f"no cascade CLI next to {sys.executable}; run with the project's .venv/bin/python")
        return 2

    started = time.perf_counter()
    specs = make_ingestions(args.ingestions)
    workdir = Path(tempfile.mkdtemp(prefix="cascade-bench-"))
    try:
        env = subprocess_env(workdir)
        project, seed_project = workdir / "cascade_project", workdir / "seed_project"
        write_cascade_project(project, specs)
        write_seed_project(seed_project, specs)
        log(f"projects in {workdir}")
        bench = CliBench(cascade, project, env, args.repeat, args.budget)
        cli = bench.run_all(specs)
        loads = load_benchmarks(project, seed_project, env, args.load_repeat, len(specs))
    except BenchError as error:
        log(f"benchmark aborted: {error}")
        return 1
    finally:
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(args, specs, bench, cli, loads, time.perf_counter() - started)
    return 0


def log(message: str) -> None:
    """Progress goes to stderr, so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


# -- the CLI benchmarks -----------------------------------------------------------------------


class CliBench:
    def __init__(
        self, cascade: Path, project: Path, env: dict[str, str], repeat: int, budget: float
    ):
        self.cascade = cascade
        self.project = project
        self.env = env
        self.repeat = repeat
        self.budget = budget
        self.generated_files: int | None = None
        self.edited = ""

    def cli(self, command: str, expect: int) -> tuple[float, str]:
        """Wall-clock seconds of `cascade <command> --project DIR`, and its stdout."""
        argv = [str(self.cascade), command, "--project", str(self.project)]
        start = time.perf_counter()
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=900)
        elapsed = time.perf_counter() - start
        if done.returncode != expect:
            raise BenchError(
                f"`cascade {command}` exited {done.returncode}, expected {expect}; it printed:\n"
                + first_lines(done.stderr + done.stdout)
            )
        return elapsed, done.stdout

    def repeated(self, label: str, run: Callable[[], float], target: float | None = None) -> Timing:
        """Calls run() (which returns seconds) up to --repeat times, within --budget."""
        timing = Timing(label, target=target)
        while len(timing.samples) < self.repeat:
            timing.samples.append(run())
            log(f"  {label}: {timing.samples[-1]:.3f} s")
            if sum(timing.samples) >= self.budget:
                break
        return timing

    def run_all(self, specs: list[IngestionSpec]) -> list[Timing]:
        # Untimed: warms the bytecode cache with what the CLI imports at start-up, so that the
        # first cold gen does not pay for compiling the compiler and libcst.
        subprocess.run([str(self.cascade), "--help"], env=self.env, capture_output=True)
        # The target is for 500 ingestions: a smaller project must meet it too, and a larger
        # one gets a proportionally larger budget.
        cold_target = COLD_GEN_TARGET * max(1.0, len(specs) / 500)
        timings = [
            self.repeated("cold gen (no cache, no generated/)", self.cold_gen, cold_target),
            self.repeated("warm gen (nothing changed)", self.warm_gen),
            self.repeated(
                "warm check (nothing changed)",
                lambda: self.cli("check", expect=0)[0],
                WARM_CHECK_TARGET,
            ),
        ]
        return timings + self.incremental(specs)

    def cold_gen(self) -> float:
        # The compiler keeps its content-hash cache under <project>/.cascade/cache/.
        shutil.rmtree(self.project / ".cascade", ignore_errors=True)
        shutil.rmtree(self.project / "generated", ignore_errors=True)
        elapsed, stdout = self.cli("gen", expect=0)
        counts = gen_counts(stdout)
        if counts:
            self.generated_files = counts[0]
        return elapsed

    def warm_gen(self) -> float:
        elapsed, stdout = self.cli("gen", expect=0)
        counts = gen_counts(stdout)
        if counts and counts[1] != 0:
            # Not fatal: the figure is still a measurement, but gen did not reach a fixed
            # point (unstable output, or the compiler changed while the benchmark ran).
            log(f"  warning: warm gen changed {counts[1]} files")
        return elapsed

    def incremental(self, specs: list[IngestionSpec]) -> list[Timing]:
        """Edit one model: its key's description, a safe change that shows in one schema module.

        Each run makes a different edit, so that a content-hash cache cannot have seen it.
        The model is in one of the shared schemas/<group>.py modules, as in the seed's layout.
        """
        spec = next(s for s in specs if not s.model_inline)
        path = self.project / spec.model_path
        original = path.read_text(encoding="utf-8")
        model = model_source(spec)
        assert model in original and '"Record id"' in model
        readers = sum(1 for s in specs if s.model_path == spec.model_path)
        self.edited = (
            f"{spec.model_path} ({spec.model_name}; {readers} ingestions import that module)"
        )
        edits = iter(range(1, 1_000_000))

        def edit() -> None:
            changed = model.replace('"Record id"', f'"Record id (edit {next(edits)})"', 1)
            path.write_text(original.replace(model, changed), encoding="utf-8")

        def check_after_edit() -> float:
            edit()
            return self.cli("check", expect=1)[0]  # the output is stale: check must say so

        def gen_after_edit() -> float:
            edit()
            elapsed, stdout = self.cli("gen", expect=0)
            counts = gen_counts(stdout)
            if counts and counts[1] == 0:
                log("  warning: gen after an edit changed no file")
            return elapsed

        # gen comes last: it leaves generated/ matching the (edited) sources, which is what
        # the load benchmarks need; one description differs from the seed-style copy.
        return [
            self.repeated(
                "check after editing one model", check_after_edit, INCREMENTAL_CHECK_TARGET
            ),
            self.repeated("gen after editing one model", gen_after_edit),
        ]


def gen_counts(stdout: str) -> tuple[int, int] | None:
    """(files, changed) from gen's summary line `cascade gen: N files, M changed`."""
    found = re.search(r"(\d+) files, (\d+) changed", stdout)
    return (int(found[1]), int(found[2])) if found else None


def first_lines(text: str, count: int = 20) -> str:
    """The start of a command's output (the first diagnostics), and its end (where a
    traceback says what failed)."""
    lines = [f"  {line}" for line in text.strip().splitlines()]
    if len(lines) <= count:
        return "\n".join(lines)
    head, tail = count // 2, count - count // 2
    skipped = f"  ... ({len(lines) - count} lines)"
    return "\n".join([*lines[:head], skipped, *lines[-tail:]])


# -- loading the definitions ------------------------------------------------------------------


@dataclass
class LoadTarget:
    label: str
    cwd: Path
    statement: str  # imports the definitions and binds `defs`
    first_import: float = 0.0  # before the project's bytecode exists: a fresh deploy pays it
    imports: Timing = field(default_factory=lambda: Timing("import"))
    resolves: Timing = field(default_factory=lambda: Timing("resolve"))
    assets: int = 0


def load_benchmarks(
    project: Path, seed_project: Path, env: dict[str, str], repeat: int, expected_assets: int
) -> list[LoadTarget]:
    shared = LoadTarget("shared imports (dagster, resources)", project, SHARED_IMPORTS)
    # What importing the user modules adds (dlt resources, Pandera classes), for reading the
    # generated figure: the rest of it is the generated modules' own work.
    user_modules = LoadTarget(
        "shared + every user module", project, f"{SHARED_IMPORTS}; import bench_user_modules"
    )
    generated = LoadTarget(
        "generated definitions", project, "from generated.definitions import defs"
    )
    seed = LoadTarget("seed-style definitions", seed_project, "from seed_definitions import defs")
    targets = [shared, user_modules, generated, seed]

    def once(target: LoadTarget) -> dict:
        argv = [sys.executable, "-c", LOAD_SNIPPET.format(statement=target.statement)]
        done = subprocess.run(
            argv, cwd=target.cwd, env=env, capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            raise BenchError(f"{target.label}: import failed:\n" + first_lines(done.stderr, 30))
        return json.loads(done.stdout.strip().splitlines()[-1])

    # The shared libraries' bytecode first, so that each first import below compiles only
    # its own project's modules.
    once(shared)
    for target in (generated, seed):
        first = once(target)
        target.first_import, target.assets = first["import"], first["assets"]
    once(user_modules)  # untimed too: its modules' bytecode, in case no definitions import them
    if generated.assets != expected_assets or seed.assets != expected_assets:
        raise BenchError(
            f"expected {expected_assets} assets, found {generated.assets} in the generated and "
            f"{seed.assets} in the seed-style definitions: the loads would not be of equal work"
        )
    # Interleaved, so that both styles see the same background load on a shared machine.
    for _ in range(repeat):
        for target in targets:
            sample = once(target)
            target.imports.samples.append(sample["import"])
            target.resolves.samples.append(sample["resolve"])
            log(f"  import {target.label}: {sample['import']:.3f} s")
    return targets


# -- the report -------------------------------------------------------------------------------


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def timing_row(label: str, timing: Timing, target: float | None = None) -> tuple[str, ...]:
    """label, runs, min, median, target, and how the median compares with the target."""
    figures = (label, str(len(timing.samples)), seconds(timing.min), seconds(timing.median))
    if target is None:
        return (*figures, "", "")
    verdict = "met" if timing.median < target else "MISSED"
    return (*figures, f"< {seconds(target)}", f"{timing.median / target:.2f}x of target, {verdict}")


# A figure by statistic: "min" or "median" -> seconds.
Statistic = Callable[[str], float]


def ratio_row(
    label: str, top: Statistic, bottom: Statistic, at_least: float | None = None
) -> tuple[str, ...]:
    """label, top/bottom from the mins and from the medians, and the target (on the median)."""
    cells = [label]
    for which in ("min", "median"):
        numerator, denominator = top(which), bottom(which)
        # A difference (beyond the shared imports) can drown in noise and come out negative.
        valid = numerator > 0 and denominator > 0
        cells.append(f"{numerator / denominator:.2f}x" if valid else "n/a (noise)")
    if at_least is not None:
        met = bottom("median") > 0 and top("median") / bottom("median") >= at_least
        cells.append(f">= {at_least:g}x, " + ("met" if met else "MISSED"))
    return tuple(cells)


def print_report(
    args: argparse.Namespace,
    specs: list[IngestionSpec],
    bench: CliBench,
    cli: list[Timing],
    loads: list[LoadTarget],
    total: float,
) -> None:
    cold, warm_gen, warm_check, edit_check, edit_gen = cli
    shared, user_modules, generated, seed = loads

    rows = [timing_row(timing.label, timing, timing.target) for timing in cli]
    for target in loads:
        rows.append(timing_row(f"import {target.label}", target.imports))
        if target.assets:
            label = f"  then resolve its {target.assets} asset keys"
            rows.append(timing_row(label, target.resolves))
            rows.append(("  first import (no project .pyc)", "1", "", seconds(target.first_import)))

    # Each ratio from the mins and from the medians: on a busy machine background load only
    # adds time, so the min is the steadier estimate and the median the more conservative one.
    def of(timing: Timing) -> Statistic:
        return lambda which: getattr(timing, which)

    def beyond_shared(target: LoadTarget) -> Statistic:
        return lambda which: getattr(target.imports, which) - getattr(shared.imports, which)

    def with_resolve(target: LoadTarget) -> Statistic:
        return lambda which: getattr(target.imports, which) + getattr(target.resolves, which)

    def first(target: LoadTarget) -> Statistic:
        return lambda which: target.first_import

    ratios = [
        ratio_row("warm gen / cold gen", of(warm_gen), of(cold)),
        ratio_row("warm check / cold gen", of(warm_check), of(cold)),
        ratio_row("check after one edit / warm check", of(edit_check), of(warm_check)),
        ratio_row("gen after one edit / cold gen", of(edit_gen), of(cold)),
        ratio_row(
            "import: seed-style / generated",
            of(seed.imports),
            of(generated.imports),
            LOAD_SPEEDUP_TARGET,
        ),
        ratio_row(
            "import beyond the shared imports: seed-style / generated",
            beyond_shared(seed),
            beyond_shared(generated),
        ),
        ratio_row(
            "import: generated / (shared + every user module)",
            of(generated.imports),
            of(user_modules.imports),
        ),
        ratio_row(
            "import + resolve: seed-style / generated", with_resolve(seed), with_resolve(generated)
        ),
        ratio_row("first import: seed-style / generated", first(seed), first(generated)),
    ]

    columns = sum(len(spec.columns) for spec in specs)
    groups = len({spec.group for spec in specs})
    files = bench.generated_files if bench.generated_files is not None else "?"
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load_average = (
        ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    )
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("libcst", "dagster", "pandera", "pyiceberg")
    )
    print(
        f"Cascade compile benchmark: {len(specs)} ingestions in {groups} groups, "
        f"{columns} columns, {files} generated files"
    )
    print(
        f"machine: {cores} cores ({usable} usable), {platform.machine()}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, load average {load_average}"
    )
    print(f"packages: {versions}")
    print(
        f"runs: CLI up to {args.repeat} each within {args.budget:.0f} s, loads "
        f"{args.load_repeat} each (interleaved); edited model: {bench.edited}"
    )
    print()
    print_table(("benchmark", "runs", "min", "median", "target", "median vs target"), rows)
    print()
    print_table(("ratio", "of mins", "of medians", "target"), ratios)
    print()
    print(f"total benchmark time: {total:.0f} s")


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Text columns left-aligned (first and last), figures right-aligned."""
    rows = [row + ("",) * (len(header) - len(row)) for row in rows]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    last = len(header) - 1
    for index, row in enumerate((header, *rows)):
        cells = [
            cell.ljust(width) if i in (0, last) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


if __name__ == "__main__":
    sys.exit(main())
