"""The pre-commit hooks in .pre-commit-hooks.yaml, run as pre-commit runs them: each hook's
`entry` with the environment's console scripts first on PATH, from the root of a git
repository holding a small Cascade project (pre-commit itself is not needed for that)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO_ROOT, git

HOOKS_FILE = REPO_ROOT / ".pre-commit-hooks.yaml"
HOOKS = {hook["id"]: hook for hook in yaml.safe_load(HOOKS_FILE.read_text(encoding="utf-8"))}

PROJECT = {
    "pyproject.toml": '[tool.cascade]\nsources = ["ingestion"]\nout = "generated"\n',
    "ingestion/__init__.py": "",
    "ingestion/events.py": (
        "from cascade.runtime import cascade_ingestion\n"
        "from models.events import Events\n\n\n"
        '@cascade_ingestion(table_name="events", unique_key="event_id",'
        ' validation_schema=Events, group="app")\n'
        "def events(partition_date: str):\n"
        "    return None\n"
    ),
    "models/__init__.py": "",
    "models/events.py": (
        "from pandera.pandas import DataFrameModel, Field\n\n\n"
        "class Events(DataFrameModel):\n"
        '    event_id: str = Field(unique=True, description="Event id")\n'
        '    kind: str = Field(description="Event kind")\n'
    ),
}
SCHEMA_MODULE = "generated/schemas/app/events.py"


def run_hook(hook_id: str, repo: Path) -> subprocess.CompletedProcess[str]:
    """The hook's entry and args, found on PATH in the environment's bin folder, as pre-commit
    runs a `language: python` hook from its own environment; no file names are passed."""
    hook = HOOKS[hook_id]
    command = [*shlex.split(hook["entry"]), *hook.get("args", [])]
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a Cascade project at its root and nothing generated yet."""
    root = tmp_path / "repo"
    for path, text in PROJECT.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    (root / ".gitignore").write_text(".cascade/\n", encoding="utf-8")
    git(root, "init", "--quiet")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "project")
    return root


def test_hooks_compile_the_whole_project_through_the_cascade_console_script():
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert sorted(HOOKS) == ["cascade-check", "cascade-gen"]
    for hook_id, hook in HOOKS.items():
        assert hook["entry"] == hook_id.replace("-", " ")
        # `language: python` installs this distribution: its console script must be the entry.
        assert hook["language"] == "python" and shlex.split(hook["entry"])[0] in scripts
        # The compiler reads the whole project; file names would only be ignored arguments.
        assert hook["pass_filenames"] is False
        assert set(hook["stages"]) <= {"pre-commit", "pre-push", "manual"}


@pytest.mark.parametrize("hook_id", ["cascade-gen", "cascade-check"])
def test_hooks_run_for_python_files_and_pyproject_only(hook_id: str):
    pattern = re.compile(HOOKS[hook_id]["files"])  # pre-commit matches with re.search
    for path in ("pyproject.toml", "ingestion/events.py", "generated/schemas/app/events.py"):
        assert pattern.search(path), path
    for path in ("README.md", "data/events.json", "mypyproject.toml", "cache.pyc"):
        assert not pattern.search(path), path


@pytest.mark.slow
def test_check_fails_on_a_stale_generated_folder_and_gen_fixes_it(repo: Path):
    first = run_hook("cascade-gen", repo)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (repo / SCHEMA_MODULE).is_file()
    fresh = run_hook("cascade-check", repo)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "generated")

    # A new model field makes the committed generated/ folder stale.
    model = repo / "models/events.py"
    model.write_text(
        model.read_text() + '    amount: int | None = Field(nullable=True, description="Amount")\n'
    )
    stale = run_hook("cascade-check", repo)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert (
        '+    NestedField(6, "amount", LongType(), required=False, doc="Amount"),' in stale.stdout
    )
    assert "run: cascade gen" in stale.stderr
    assert git(repo, "status", "--porcelain") == " M models/events.py\n"  # check writes nothing

    fixed = run_hook("cascade-gen", repo)
    # gen exits 0: pre-commit fails the commit itself because the hook modified files.
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert f"wrote {SCHEMA_MODULE}" in fixed.stdout
    assert SCHEMA_MODULE in git(repo, "diff", "--name-only").splitlines()

    # Once the regenerated files are staged, the next run of either hook passes untouched.
    git(repo, "add", "-A")
    for hook_id in ("cascade-check", "cascade-gen"):
        result = run_hook(hook_id, repo)
        assert result.returncode == 0, result.stdout + result.stderr
    assert git(repo, "diff", "--name-only") == ""
