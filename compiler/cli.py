"""The `cascade` command: thin wrappers around compile_project."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cascade.compiler.cache import CompileCache
from cascade.compiler.compile import Compilation, compile_project, remember_written
from cascade.compiler.config import ConfigError, ProjectConfig, load_config
from cascade.compiler.previous import existing_generated_files, previous_locks
from cascade.compiler.write import stale_diff, write_files

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
def main() -> None:
    """Cascade: compile decorated dlt ingestions into Iceberg schemas and Dagster assets."""


def compile_or_exit(
    project_dir: Path, output_format: str
) -> tuple[ProjectConfig, Compilation, CompileCache, dict[str, str]]:
    """Compiles the project, or prints the diagnostics and exits 1. Also returns the cache and
    the generated files found on disk (read once: they are the lock, and what gets compared)."""
    try:
        config = load_config(project_dir)
    except ConfigError as error:
        report([error.diagnostic], output_format)
        sys.exit(1)
    cache = CompileCache(config.root / ".cascade" / "cache")
    existing = existing_generated_files(config)
    compilation = compile_project(config, previous=existing, cache=cache)
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
    remember_written(cache, compilation)
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
        click.echo(diff, nl=False)
        click.echo(f"{config.out}/ is stale; run: cascade gen --project {project_dir}", err=True)
        sys.exit(1)
    click.echo(f"cascade check: {config.out}/ is up to date")


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
    from cascade.compiler.diff import (
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


@main.command()
@click.argument("branch")
@project_option
def publish(branch: str, project_dir: Path) -> None:
    """Fast-forward main to BRANCH on every table of the project (all or nothing)."""
    from cascade.runtime.catalog import IcebergResource
    from cascade.runtime.publish import apply_publish, plan_publish

    try:
        config = load_config(project_dir)
    except ConfigError as error:
        report([error.diagnostic], "text")
        sys.exit(1)
    identifiers = sorted(previous_locks(config, existing_generated_files(config)))
    catalog = IcebergResource(project_dir=str(config.root)).load_catalog()
    steps = plan_publish(catalog, identifiers, branch)
    for step in steps:
        click.echo(f"{step.identifier}: {step.status}")
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
