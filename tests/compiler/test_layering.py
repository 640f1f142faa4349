"""The layers the package names promise (ARCHITECTURE.md): the compiler runs no Dagster, catalog
or load code, the shared modules (contract, change rules, classifier) are PyIceberg-only, the
runtime never imports the compiler, and the front end does not reach into later stages.

Each check runs in a fresh interpreter, so that what an earlier test imported cannot hide an
import."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

# Modules whose presence means Dagster, a catalog, a load step or validation was imported.
FORBIDDEN_IN_THE_COMPILER = (
    "dagster",
    "pandera",
    "pandas",
    "polars",
    "duckdb",
    "sqlalchemy",
    "pyiceberg.catalog",
    "pyiceberg.table",
    "pyiceberg.io",
    "cascade.runtime.catalog",
    "cascade.runtime.table",
    "cascade.runtime.merge",
    "cascade.runtime.run",
    "cascade.runtime.plan",
    "cascade.runtime.adopt",
    "cascade.runtime.publish",
    "cascade.runtime.data_files",
    "cascade.runtime.compaction",
    "cascade.runtime.upkeep",
    "cascade.runtime.maintain",
    "cascade.runtime.staging",
)
# What the compiler may use of the runtime: the contract and the rules it shares with loads.
SHARED_RUNTIME_MODULES = {
    "cascade.runtime",
    "cascade.runtime.change_rules",
    "cascade.runtime.contract",
    "cascade.runtime.evolution",
    "cascade.runtime.schema_slots",
}


def imported_after(code: str) -> set[str]:
    """The modules loaded after running `code` in a fresh interpreter at the repo root."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def forbidden(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_compiling_and_diffing_import_no_dagster_catalog_or_load_code() -> None:
    modules = imported_after(
        "from pathlib import Path\n"
        "from cascade.compiler import compile_project, load_config\n"
        "from cascade.compiler.review.diff import diff_tables\n"
        "config = load_config(Path('.'))\n"
        "compilation = compile_project(config)\n"
        "assert compilation.ok, compilation.diagnostics\n"
        "diff_tables(compilation.files, compilation.files, config.out)\n"
    )
    assert forbidden(modules, FORBIDDEN_IN_THE_COMPILER) == []
    runtime = {m for m in modules if m.startswith("cascade.runtime")}
    assert runtime <= SHARED_RUNTIME_MODULES
    # The one exception: dlt's naming convention (compiler/resolve/naming.py), so that column
    # names are dlt's own. Importing it loads the dlt package; no pipeline is made or run.
    assert "dlt.common.normalizers.naming.snake_case" in modules


def test_the_shared_modules_are_pyiceberg_only() -> None:
    modules = imported_after(
        "import cascade.runtime.contract, cascade.runtime.change_rules, cascade.runtime.evolution"
    )
    assert forbidden(modules, ("dagster", "dlt", "pandera", "pandas", "pyarrow")) == []
    assert forbidden(modules, ("cascade.compiler",)) == []


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "runtime").glob("*.py")), ids=lambda p: p.name)
def test_the_runtime_never_imports_the_compiler(path: Path) -> None:
    assert not [m for m in imports_of(path) if m.startswith("cascade.compiler")]


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "compiler" / "frontend").glob("*.py")), ids=lambda p: p.name
)
def test_the_front_end_imports_no_later_stage(path: Path) -> None:
    later = ("resolve", "render", "driver", "review")
    assert not [
        m for m in imports_of(path) if m.startswith(tuple(f"cascade.compiler.{s}" for s in later))
    ]
