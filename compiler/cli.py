"""The `cascade` command: thin wrappers around compile_project, and the dispatcher of the catalog
operations, which live in the runtime (plan, apply, adopt, publish, show, maintain).

Exit codes, for every command: 0 success; 1 a problem to fix (diagnostics, stale generated code
for `check`, an unreadable baseline, an unknown table or branch), printed to stderr or as
diagnostics; 2 a refusal (`diff`: a breaking change not allowed; `plan`/`apply`: a table that a
load would refuse; `maintain`: a table whose upkeep did not complete) or an option click
refuses. A user mistake never ends in a traceback.
"""

from __future__ import annotations

import atexit
import gc
import math
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cascade.compiler.config import ConfigError, ProjectConfig, load_config
from cascade.compiler.diagnostics import has_errors
from cascade.compiler.driver.cache import CompileCache
from cascade.compiler.driver.compile import (
    Compilation,
    analyze_project,
    compile_project,
    remember_written,
    schema_module_path,
)
from cascade.compiler.driver.previous import (
    existing_generated_files,
    read_out_folder,
)
from cascade.compiler.driver.write import stale_diff, write_files
from cascade.compiler.maintenance import INTEGER_MAINTENANCE_OPTIONS, MAINTENANCE_OPTIONS

if TYPE_CHECKING:
    from cascade.runtime.contract import TableContract

project_option = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Folder whose pyproject.toml has the [tool.cascade] table.",
)
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "github"]),
    default="text",
    show_default=True,
    help="How to print diagnostics; github prints GitHub Actions annotations.",
)


@click.group()
@click.version_option(package_name="cascade-lakehouse", prog_name="cascade")
def main() -> None:
    """Cascade: compile decorated dlt ingestions into Iceberg schemas and Dagster assets."""


# The commands that compile the project, and end soon after.
COMPILING_COMMANDS = ("gen", "check", "diff")


def run() -> None:
    """The `cascade` program: `main`, in a process of its own (tests invoke `main`)."""
    # What compiling builds is freed by reference counting; the cyclic collector would only
    # walk it, and once more when it is re-enabled at the end (~30 ms of a 0.4 s `check` after
    # one edit). At exit the interpreter collects once more whatever the setting (~45 ms), to
    # free memory the process is about to give back: frozen, what is alive then is not walked.
    if sys.argv[1:2] and sys.argv[1] in COMPILING_COMMANDS:
        gc.disable()
    atexit.register(gc.freeze)
    main()


def compile_or_exit(
    project_dir: Path, output_format: str
) -> tuple[ProjectConfig, Compilation, CompileCache, dict[str, str]]:
    """Compiles the project, or prints the diagnostics and exits 1. Also returns the cache and
    the generated files found on disk (read once: they are the lock, and what gets compared)."""
    # What compiling builds is freed by reference counting: the cyclic collector would only
    # walk it again and again (~15 ms of a 0.4 s `check` after one edit). The `cascade`
    # program (run) has it off already; a caller in process gets it back afterwards.
    if gc.isenabled():
        gc.disable()
        click.get_current_context().call_on_close(gc.enable)
    try:
        config = load_config(project_dir)
    except ConfigError as error:
        report([error.diagnostic], output_format)
        sys.exit(1)
    cache = CompileCache(config.root / ".cascade" / "cache")
    out_folder = read_out_folder(config)
    existing = out_folder.files
    compilation = compile_project(config, cache=cache, out_folder=out_folder)
    cache.save()
    report(compilation.diagnostics, output_format)
    if not compilation.ok:
        errors = sum(1 for d in compilation.diagnostics if d.severity == "error")
        click.echo(f"cascade: {errors} error(s); nothing was written", err=True)
        sys.exit(1)
    return config, compilation, cache, existing


def report(diagnostics: list, output_format: str) -> None:
    for diagnostic in diagnostics:
        if output_format == "github":
            click.echo(diagnostic.format_github())
        else:
            click.echo(diagnostic.format_text(), err=True)


@main.command()
@project_option
@format_option
def gen(project_dir: Path, output_format: str) -> None:
    """Generate schema and asset modules from the decorated ingestions."""
    config, compilation, cache, existing = compile_or_exit(project_dir, output_format)
    touched = write_files(config, compilation.files, existing)
    remember_written(config, cache, compilation)
    cache.save()
    for path in touched:
        click.echo(f"wrote {path}" if path in compilation.files else f"removed {path}")
    click.echo(f"cascade gen: {len(compilation.files)} files, {len(touched)} changed")


@main.command()
@project_option
@format_option
def check(project_dir: Path, output_format: str) -> None:
    """Fail (exit 1) when the generated code is not what `cascade gen` would write."""
    config, compilation, _, existing = compile_or_exit(project_dir, output_format)
    diff = stale_diff(config, compilation.files, existing)
    if diff:
        echo_untrusted(diff)
        click.echo(f"{config.out}/ is stale; run: cascade gen --project {project_dir}", err=True)
        sys.exit(1)
    click.echo(f"cascade check: {config.out}/ is up to date")


def echo_untrusted(text: str) -> None:
    """Print text that a pull request wrote (a diff of generated code holds the project's
    strings). In GitHub Actions a line of it such as `::error ...` would be a workflow command:
    command processing is stopped around it, with a token nobody can guess (GitHub's
    `::stop-commands::`)."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        click.echo(text, nl=False)
        return
    import secrets

    token = secrets.token_hex(16)
    click.echo(f"::stop-commands::{token}")
    click.echo(text, nl=False)
    click.echo(f"\n::{token}::")


@main.command()
@project_option
@click.option(
    "--against",
    default="HEAD",
    show_default=True,
    help="The git revision whose committed generated schemas are the baseline.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "github", "json"]),
    default="text",
    show_default=True,
    help="text for people, github for GitHub Actions annotations, json for tools.",
)
def diff(project_dir: Path, against: str, output_format: str) -> None:
    """Classify every table change against a git revision; exit 2 on a breaking change that
    is not allowed, 1 on an error, 0 otherwise."""
    from cascade.compiler.review.diff import (
        DiffError,
        diff_tables,
        files_at_revision,
        format_github,
        format_json,
        format_text,
    )

    config, compilation, _, _ = compile_or_exit(
        project_dir, "github" if output_format == "github" else "text"
    )
    try:
        before = files_at_revision(config.root, against, config.out)
        diffs = diff_tables(before, compilation.files, config.out)
    except DiffError as error:
        click.echo(f"cascade diff: {error}", err=True)
        sys.exit(1)
    if output_format == "json":
        click.echo(format_json(diffs, against), nl=False)
    elif output_format == "github":
        click.echo(format_github(diffs), nl=False)
        click.echo(format_text(diffs, against), nl=False, err=True)
    else:
        click.echo(format_text(diffs, against), nl=False)
    if any(d.refused for d in diffs):
        sys.exit(2)


def load_or_exit(project_dir: Path) -> ProjectConfig:
    try:
        return load_config(project_dir)
    except ConfigError as error:
        report([error.diagnostic], "text")
        sys.exit(1)


def generated_contracts(config: ProjectConfig) -> list:
    """The contracts of the generated schema modules on disk: what is deployed."""
    from cascade.compiler.review.diff import DiffError, schema_modules

    try:
        modules = schema_modules(existing_generated_files(config), config.out)
    except DiffError as error:
        click.echo(f"cascade: {error}", err=True)
        sys.exit(1)
    return [contract for _, contract in modules.values()]


branch_option = click.option(
    "--branch",
    default=None,
    help="Plan for this Iceberg branch: it is made from main's head where missing.",
)


def catalog_or_exit(config: ProjectConfig, command: str):  # -> pyiceberg Catalog
    from cascade.runtime.catalog import IcebergResource
    from cascade.runtime.errors import CatalogConfigError

    try:
        return IcebergResource(project_dir=str(config.root)).load_catalog()
    except CatalogConfigError as error:
        click.echo(f"cascade {command}: {error.description}", err=True)
        sys.exit(1)


def branch_or_exit(branch: str | None, command: str) -> str:
    """The branch a command was given ("" for none), or exit 1 when it is not a valid name,
    before the catalog is touched."""
    from cascade.runtime.branch import branch_name_problem

    if branch is None:
        return ""
    if (problem := branch_name_problem(branch)) is not None:
        click.echo(f"cascade {command}: {branch!r} is not a valid branch name: {problem}", err=True)
        sys.exit(1)
    return branch


def print_plans(plans: list) -> None:
    from cascade.compiler.review.diff import change_line

    for plan in plans:
        suffix = f" ({plan.branch})" if plan.branch else ""
        click.echo(f"{plan.identifier}: {plan.status}{suffix}")
        if plan.detail:
            click.echo(f"  {plan.detail}")
        for change in plan.changes:
            click.echo(change_line(change, change in plan.refused, plan.allowed))
    counts = Counter(plan.status for plan in plans)
    click.echo("cascade plan: " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "no tables"))


@main.command()
@project_option
@branch_option
def plan(project_dir: Path, branch: str | None) -> None:
    """Show what a load would change in each table of the catalog (exit 2 if it would refuse)."""
    from cascade.runtime.plan import plan_tables

    branch = branch_or_exit(branch, "plan")
    config = load_or_exit(project_dir)
    contracts = generated_contracts(config)  # read before the catalog is touched
    catalog = catalog_or_exit(config, "plan")
    plans = plan_tables(catalog, contracts, branch)
    print_plans(plans)
    if any(p.blocked for p in plans):
        sys.exit(2)


@main.command()
@project_option
@branch_option
def apply(project_dir: Path, branch: str | None) -> None:
    """Create and evolve the tables as a load would, without loading data (all or nothing:
    exit 2 and change nothing when any table's plan is refused)."""
    from cascade.runtime.errors import CascadeError
    from cascade.runtime.plan import apply_plans, plan_tables

    branch = branch_or_exit(branch, "apply")
    config = load_or_exit(project_dir)
    contracts = generated_contracts(config)  # read before the catalog is touched
    catalog = catalog_or_exit(config, "apply")
    plans = plan_tables(catalog, contracts, branch)
    print_plans(plans)
    if any(p.blocked for p in plans):
        click.echo("cascade apply: nothing was changed; see the refused tables above", err=True)
        sys.exit(2)
    try:
        apply_plans(catalog, contracts, plans, branch)
    except CascadeError as error:  # a table changed since the plan
        click.echo(f"cascade apply: {error.description}", err=True)
        sys.exit(2)
    changed = sum(1 for p in plans if p.status in ("create", "evolve"))
    click.echo(f"cascade apply: {changed} table(s) created or evolved")


@main.command()
@project_option
@click.option(
    "--package",
    default="pipelines",
    show_default=True,
    help="The project's Python package (its models and ingestions).",
)
def init(project_dir: Path, package: str) -> None:
    """Start a project here: pyproject.toml with [tool.cascade], one model, one ingestion with
    sample rows, a .gitignore; `cascade gen` and a load accept it at once."""
    from cascade.compiler.scaffold import ScaffoldError, scaffold

    try:
        written = scaffold(project_dir.resolve(), package)
    except ScaffoldError as error:
        click.echo(f"cascade init: {error}; nothing was written", err=True)
        sys.exit(1)
    for path in written:
        click.echo(f"wrote {path.relative_to(project_dir.resolve()).as_posix()}")
    click.echo(
        "cascade init: next, generate the code and load a day into the embedded catalog:\n"
        "  cascade gen\n"
        "  DAGSTER_HOME=$PWD/.cascade/dagster dagster asset materialize -m generated.definitions "
        "--select dlt_events --partition 2024-01-05"
    )


@main.command()
@click.argument("table", required=False)
@project_option
def show(table: str | None, project_dir: Path) -> None:
    """List the project's tables as the catalog holds them (rows, data files, snapshots,
    branches, last load); with TABLE, its schema with field ids, partitioning, recent
    snapshots and a few rows. Reads only."""
    from cascade.runtime.catalog import IcebergResource
    from cascade.runtime.errors import CascadeError
    from cascade.runtime.show import detail_lines, table_lines

    config = load_or_exit(project_dir)
    contracts = generated_contracts(config)
    try:
        catalog = IcebergResource(project_dir=str(config.root)).load_catalog()
    except CascadeError as error:  # a misconfigured catalog
        click.echo(f"cascade show: {error.description}", err=True)
        sys.exit(1)
    if table is None:
        for line in table_lines(catalog, contracts) or ["no tables: run cascade gen first"]:
            click.echo(line)
        return
    namespaced_or_exit(contracts, table, "show")
    lines = detail_lines(catalog, table)
    if lines is None:
        click.echo(f"cascade show: {table} does not exist in the catalog", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)


@main.command()
@click.argument("table")
@project_option
def adopt(table: str, project_dir: Path) -> None:
    """Generate TABLE's schema with the field ids the live table already has."""
    from pyiceberg.exceptions import NoSuchTableError

    from cascade.runtime.adopt import adopted_contract

    config = load_or_exit(project_dir)
    existing = existing_generated_files(config)
    ingestions, diagnostics = analyze_project(config, existing)
    report(diagnostics, "text")
    if has_errors(diagnostics):
        sys.exit(1)
    paths = [schema_module_path(config, i) for i in ingestions if i.identifier == table]
    if not paths:
        click.echo(f"cascade adopt: no ingestion of this project writes {table}", err=True)
        sys.exit(1)
    try:
        live = catalog_or_exit(config, "adopt").load_table(table)
    except NoSuchTableError:
        click.echo(f"cascade adopt: {table} does not exist in the catalog", err=True)
        sys.exit(1)
    adopted = compile_project(config, existing, adopted=[adopted_contract(table, live)])
    report(adopted.diagnostics, "text")
    if not adopted.ok:
        sys.exit(1)
    for path in write_files(config, adopted.files, existing):
        click.echo(f"wrote {path}")
    click.echo(
        f"cascade adopt: {paths[0]} now carries the field ids of the live table {table}; "
        "review it (cascade plan shows what the next load does) and commit generated/"
    )


@main.command()
@click.argument("branch")
@project_option
def publish(branch: str, project_dir: Path) -> None:
    """Fast-forward main to BRANCH on every table of the project (all or nothing)."""
    from cascade.runtime.publish import apply_publish, plan_publish

    branch = branch_or_exit(branch, "publish")
    if branch == "main":
        click.echo("cascade publish: name the branch to publish; main is what it moves", err=True)
        sys.exit(1)
    config = load_or_exit(project_dir)
    # Every table the deployed schema modules declare; one that cannot be read stops publish
    # before anything moves (it would otherwise be left behind on the branch, unpublished).
    identifiers = sorted(contract.identifier for contract in generated_contracts(config))
    catalog = catalog_or_exit(config, "publish")
    steps = plan_publish(catalog, identifiers, branch)
    for step in steps:
        click.echo(f"{step.identifier}: {step.status}")
    if not any(step.has_branch for step in steps):
        click.echo(
            f"cascade publish: no table of the project has a branch {branch!r}; "
            "nothing was published. A run tagged branch=<name> makes it.",
            err=True,
        )
        sys.exit(1)
    if any(step.refused for step in steps):
        click.echo(
            f"cascade publish: main has moved past {branch!r} on the tables marked diverged; "
            "nothing was published. Reload the branch from main and publish again.",
            err=True,
        )
        sys.exit(1)
    apply_publish(catalog, steps, branch)
    published = sum(1 for step in steps if step.status == "fast-forward")
    click.echo(f"cascade publish: main now at {branch!r} on {published} table(s)")


class _FiniteFloatRange(click.FloatRange):
    """click's FloatRange, refusing nan too (nan compares false with both bounds)."""

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


def maintenance_range(option: str) -> click.ParamType:
    """The values `cascade maintain --<option>` takes: the range `cascade gen` checks the same
    option of `maintenance=` against (MAINTENANCE_OPTIONS), so a value one refuses the other
    refuses too, before any table is touched."""
    low, low_open, high, _ = MAINTENANCE_OPTIONS[option]
    if option in INTEGER_MAINTENANCE_OPTIONS:
        return click.IntRange(min=int(low), max=int(high), min_open=low_open)
    return _FiniteFloatRange(min=low, max=high, min_open=low_open)


@main.command()
@click.argument("table", required=False)
@project_option
@click.option("--dry-run", is_flag=True, help="Print what would be done; change nothing.")
@click.option(
    "--retention-days",
    type=maintenance_range("retention_days"),
    default=7,
    show_default=True,
    help="Expire snapshots older than this (branch heads, tags and what each branch was at "
    "when the retention began are kept).",
)
@click.option(
    "--orphan-age-hours",
    type=maintenance_range("orphan_age_hours"),
    default=24,
    show_default=True,
    help="Delete unreferenced files only when older than this; longer than any load runs.",
)
@click.option(
    "--target-file-size-mb",
    type=maintenance_range("target_file_size_mb"),
    default=None,
    help="Size of compacted files, in MB of 2^20 bytes [default: the table's "
    "write.target-file-size-bytes, else 128].",
)
@click.option(
    "--max-file-rows",
    type=maintenance_range("max_file_rows"),
    default=None,
    help="Cap on the rows of a compacted file, where the target size is not reached first: "
    "a file holds fewer than twice this [default: 500000].",
)
def maintain(
    table: str | None,
    project_dir: Path,
    dry_run: bool,
    retention_days: float,
    orphan_age_hours: float,
    target_file_size_mb: float | None,
    max_file_rows: int | None,
) -> None:
    """Compact small data files, expire old snapshots and delete orphan files, for every table
    of the project or TABLE (exit 2 when a table's upkeep did not complete)."""
    from cascade.runtime.maintain import UpkeepOptions, maintain_tables, upkeep_lines

    config = load_or_exit(project_dir)
    contracts = generated_contracts(config)
    if table is not None:
        contracts = [contract_or_exit(contracts, table, "maintain")]
    catalog = catalog_or_exit(config, "maintain")
    options = UpkeepOptions.of(
        retention_days, orphan_age_hours, target_file_size_mb, max_file_rows, dry_run
    )
    reports = maintain_tables(catalog, contracts, options)
    for line in upkeep_lines(reports, options):
        click.echo(line)
    failed = [report.identifier for report in reports if report.failures]
    if failed:
        click.echo(
            f"cascade maintain: upkeep of {', '.join(failed)} did not complete (see above); "
            "what failed changed nothing, run it again",
            err=True,
        )
        sys.exit(2)
    if dry_run:
        click.echo("cascade maintain: dry run, nothing was changed")
    elif not reports:
        click.echo("cascade maintain: no tables: run cascade gen first")
    else:
        click.echo(f"cascade maintain: {len(reports)} table(s) maintained")


def namespaced_or_exit(contracts: list[TableContract], table: str, command: str) -> None:
    """Exit 1 unless `table` is written namespace.table, suggesting the project's table of
    that name."""
    if "" in table.split(".") or "." not in table:
        named = [c.identifier for c in contracts if c.identifier.split(".")[-1] == table]
        hint = f"; did you mean {named[0]}?" if named else ""
        click.echo(
            f"cascade {command}: name a table as namespace.table, not {table!r}{hint}", err=True
        )
        sys.exit(1)


def contract_or_exit(contracts: list[TableContract], table: str, command: str) -> TableContract:
    """The project's contract of `table` (namespace.table), or exit 1 naming the tables."""
    namespaced_or_exit(contracts, table, command)
    for contract in contracts:
        if contract.identifier == table:
            return contract
    known = ", ".join(sorted(c.identifier for c in contracts)) or "none; run cascade gen first"
    click.echo(
        f"cascade {command}: {table} is not a table of this project (its tables: {known})",
        err=True,
    )
    sys.exit(1)
