"""`cascade init` as a new user runs it: the scaffold compiles, a load through Dagster's CLI
succeeds, `cascade show` sees the table, and a second init touches nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cascade

# Slow: the console scripts and Dagster's CLI, as processes.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def test_a_new_project_compiles_and_loads_at_once(tmp_path: Path) -> None:
    project = tmp_path / "new_project"
    project.mkdir()
    created = cascade(project, "init")
    assert created.returncode == 0, created.stderr
    assert "wrote pipelines/ingestion/events.py" in created.stdout
    assert (project / ".gitignore").read_text(encoding="utf-8") == ".cascade/\n"

    generated = cascade(project, "gen")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert cascade(project, "check").returncode == 0

    home = tmp_path / "dagster_home"
    home.mkdir()
    # A clean environment: the catalog is the embedded default under the project.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYICEBERG_")}
    loaded = subprocess.run(
        [BIN / "dagster", "asset", "materialize", "-m", "generated.definitions",
         "--select", "dlt_events", "--partition", "2024-01-05"],
        cwd=project, env={**env, "DAGSTER_HOME": str(home)}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert loaded.returncode == 0, loaded.stdout[-3000:] + loaded.stderr[-3000:]
    shown = subprocess.run(
        [BIN / "cascade", "show", "raw.events"], cwd=project, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "identifier fields: event_id" in shown.stdout
    assert "2024-01-05-1" in shown.stdout and "2024-01-05-2" in shown.stdout


def test_init_touches_no_file_of_yours(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'mine'\n", encoding="utf-8")
    refused = cascade(tmp_path, "init")
    assert refused.returncode == 1
    assert refused.stderr.startswith("cascade init: pyproject.toml already exists")
    assert "nothing was written" in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == "[project]\nname = 'mine'\n"

    bad = cascade(tmp_path, "init", "--package", "Not-A-Package")
    assert bad.returncode == 1 and "lowercase Python identifier" in bad.stderr
