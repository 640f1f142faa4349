"""The pytest plugin as a user meets it: a copy of the example project with the two-line
snapshot test, run by pytest in a subprocess that finds the plugin through its entry point."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, edit

USER_TEST = """\
def test_schemas(cascade_schemas, cascade_snapshot):
    assert cascade_schemas == cascade_snapshot
"""
COMMITTED_SNAPSHOTS = REPO_ROOT / "tests" / "compiler" / "__snapshots__" / "test_schema_snapshots"
MODEL = "examples/schemas/nightscout.py"
INGESTION = "examples/ingestion/nightscout/glucose.py"
DEVICE_FIELD = '    device: str | None = Field(nullable=True, description="Uploading device")\n'


@pytest.fixture
def user_project(project_copy: Path) -> Path:
    """The example project with the user's snapshot test and this repo's snapshots of it."""
    tests = project_copy / "tests"
    tests.mkdir()
    (tests / "test_schemas.py").write_text(USER_TEST, encoding="utf-8")
    shutil.copytree(COMMITTED_SNAPSHOTS, tests / "__snapshots__" / "test_schemas")
    return project_copy


def run_pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # Hypothesis' plugin alone takes a second to load and has no part in these runs.
    options = ["-p", "no:hypothesispytest", "-p", "no:cacheprovider", "--color=no"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options, "tests/test_schemas.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plugin_is_registered_as_a_pytest11_entry_point():
    plugins = {e.name: e.value for e in entry_points(group="pytest11")}
    assert plugins.get("cascade") == "cascade.compiler.review.pytest_plugin"


@pytest.mark.slow
def test_a_schema_change_fails_with_the_field_line_until_snapshot_update(user_project: Path):
    edit(user_project / MODEL, DEVICE_FIELD, DEVICE_FIELD.replace("str | None", "int | None"))
    changed = run_pytest(user_project)
    assert changed.returncode == 1, changed.stdout + changed.stderr
    # The message names the table and section, then the one changed field line, old and new.
    explanation = [
        line.removeprefix("E").strip() for line in changed.stdout.splitlines() if line[:1] == "E"
    ]
    start = explanation.index("raw.glucose_entries, fields:")
    assert explanation[start : start + 3] == [
        "raw.glucose_entries, fields:",
        '-  7 device string optional "Uploading device"',
        '+  7 device long optional "Uploading device"',
    ], changed.stdout
    assert "1 of 3 tables differ; if intended, run pytest --snapshot-update" in changed.stdout
    assert "1 snapshot failed. 2 snapshots passed." in changed.stdout

    updated = run_pytest(user_project, "--snapshot-update")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "1 snapshot updated" in updated.stdout
    assert "warning" not in updated.stdout
    snapshot = user_project / "tests/__snapshots__/test_schemas/raw.glucose_entries.txt"
    assert '\n  7 device long optional "Uploading device"\n' in snapshot.read_text(encoding="utf-8")

    again = run_pytest(user_project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 snapshots passed." in again.stdout


@pytest.mark.slow
def test_a_project_that_does_not_compile_fails_with_its_diagnostics(user_project: Path):
    edit(user_project / INGESTION, 'unique_key="_id"', 'unique_key="entry_idd"')
    # The project named by the ini option, relative to the rootdir (here its tests/ folder).
    result = run_pytest(user_project, "--rootdir=tests", "-o", "cascade_project=..")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"cascade: the project in {user_project.resolve()} does not compile:" in result.stdout
    diagnostic = f"{INGESTION}:14:5: error: unique_key column 'entry_idd' is not a column of"
    assert diagnostic in result.stdout, result.stdout
    # The compiler's message, not a traceback through the plugin's fixture.
    assert "Traceback" not in result.stdout and "def cascade_schemas" not in result.stdout
    assert "1 error" in result.stdout


@pytest.mark.parametrize("cascade_project", ["tests/cases/ids_nested_struct_and_list_locked"])
def test_the_project_can_be_a_parameter_of_the_test(cascade_schemas: dict[str, str]):
    assert list(cascade_schemas) == ["raw.users"]
    assert "  2 address struct required\n    " in cascade_schemas["raw.users"]
