"""`cascade diff` as users run it: the installed console script, in a temporary git repository
holding a small Cascade project whose generated/ was written by `cascade gen` and committed.
The classification itself is pinned case by case in test_diff_cases.py; here it is the command:
the baseline read from git, exit codes, allowances written by `cascade gen`, output formats."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import CASCADE, edit, git

# Slow: the console script in git repositories.
pytestmark = pytest.mark.slow

SCHEMA_MODULE = "generated/schemas/app/users.py"

MODEL = """\
from pandera.pandas import DataFrameModel, Field


class Users(DataFrameModel):
    user_id: str = Field(description="User id")
    email: str
    age: int | None
"""
INGESTION = """\
from cascade.runtime import cascade_ingestion
from models.users import Users


@cascade_ingestion(
    table_name="users",
    unique_key="user_id",
    validation_schema=Users,
    group="app",
)
def users(partition_date: str):
    return None
"""
PROJECT = {
    "pyproject.toml": '[tool.cascade]\nsources = ["ingestion"]\nout = "generated"\n',
    "ingestion/__init__.py": "",
    "ingestion/users.py": INGESTION,
    "models/__init__.py": "",
    "models/users.py": MODEL,
}
DROP_EMAIL = ("    email: str\n", "")
ALLOW_DROP = ('    group="app",\n', '    group="app",\n    allow_breaking=("CAS201:email",),\n')


def cascade(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CASCADE), *args], cwd=folder, capture_output=True, text=True, timeout=60
    )


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", message)


def write_project(root: Path) -> None:
    for path, text in PROJECT.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")


@pytest.fixture(autouse=True)
def no_repository_above(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A git repository around the temporary folder must not stand in for a missing one.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with a Cascade project and its generated/ committed (one commit)."""
    root = tmp_path_factory.mktemp("template") / "repo"
    write_project(root)
    (root / ".gitignore").write_text(".cascade/\n", encoding="utf-8")
    git(root, "init", "--quiet")
    generated = cascade(root, "gen")
    assert generated.returncode == 0, generated.stderr
    commit(root, "users, generated")
    return root


@pytest.fixture
def repo(committed: Path, tmp_path: Path) -> Path:
    """A copy of that repository, for one test to change."""
    return Path(
        shutil.copytree(committed, tmp_path / "repo", ignore=shutil.ignore_patterns(".cascade"))
    )


def test_no_change_and_safe_changes_exit_0(repo: Path) -> None:
    unchanged = cascade(repo, "diff")
    assert unchanged.returncode == 0, unchanged.stderr
    assert unchanged.stdout == "cascade diff: 0 change(s) in 0 table(s) against HEAD\n"

    # Not generated yet: diff compiles the working tree itself.
    edit(
        repo / "models/users.py",
        "    age: int | None\n",
        "    age: int | None\n    nickname: str | None\n",
    )
    edit(repo / "models/users.py", "    email: str\n", "    email: str | None\n")
    result = cascade(repo, "diff")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"raw.users  ({SCHEMA_MODULE})"
    assert [line.split()[:2] for line in lines[1:-1]] == [["CAS103", "safe"], ["CAS101", "safe"]]
    assert "nickname string is added" in lines[2]
    assert lines[-1] == "cascade diff: 2 change(s) in 1 table(s) against HEAD"
    assert result.stderr == ""


def test_breaking_change_exit_2_until_allowed(repo: Path) -> None:
    edit(repo / "models/users.py", *DROP_EMAIL)
    refused = cascade(repo, "diff")
    assert refused.returncode == 2, refused.stderr
    assert "CAS201 BREAKING column-dropped" in refused.stdout
    # The output names the entry to copy into the decorator.
    assert "allow with allow_breaking=('CAS201:email',) in the decorator" in refused.stdout
    assert refused.stdout.endswith("; 1 breaking change(s) not allowed\n")

    edit(repo / "ingestion/users.py", *ALLOW_DROP)
    allowed = cascade(repo, "diff")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "email (id 2) is dropped (allowed)" in allowed.stdout
    assert "not allowed" not in allowed.stdout

    # `cascade gen` records the allowance in the schema module, for the load to apply.
    assert cascade(repo, "gen").returncode == 0
    schema = (repo / SCHEMA_MODULE).read_text(encoding="utf-8")
    assert '\n    allowed_breaking=("CAS201:email",),\n' in schema
    commit(repo, "drop email, allowed")

    # Against the new HEAD nothing changes; the allowance is left over and said to be.
    after_commit = cascade(repo, "diff")
    assert after_commit.returncode == 0, after_commit.stderr
    assert "note: allow_breaking entry 'CAS201:email' matches no change here" in (
        after_commit.stdout
    )
    # Against the commit before, the drop is there again, allowed.
    older = cascade(repo, "diff", "--against", "HEAD~1")
    assert older.returncode == 0, older.stderr
    assert "email (id 2) is dropped (allowed)" in older.stdout
    assert older.stdout.endswith("against HEAD~1\n")

    # Without the allowance, the drop is refused against the commit that still had email.
    edit(repo / "ingestion/users.py", ALLOW_DROP[1], ALLOW_DROP[0])
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert cascade(repo, "diff", "--against", first).returncode == 2


def test_github_annotations(repo: Path) -> None:
    edit(repo / "models/users.py", *DROP_EMAIL)
    edit(
        repo / "models/users.py",
        "    age: int | None\n",
        "    age: int | None\n    x: str | None\n",
    )
    result = cascade(repo, "diff", "--format", "github")
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        f"::error file={SCHEMA_MODULE},title=CAS201 column-dropped (raw.users)::"
        "email (id 2) is dropped",
        f"::notice file={SCHEMA_MODULE},title=CAS101 column-added (raw.users)::x string is added",
    ]
    # The readable report goes to the log (stderr), next to the annotations.
    assert "1 breaking change(s) not allowed" in result.stderr

    edit(repo / "ingestion/users.py", *ALLOW_DROP)
    allowed = cascade(repo, "diff", "--format", "github")
    assert allowed.returncode == 0
    assert allowed.stdout.splitlines()[0].startswith(f"::warning file={SCHEMA_MODULE},")


def test_json(repo: Path) -> None:
    edit(repo / "models/users.py", *DROP_EMAIL)
    result = cascade(repo, "diff", "--format", "json")
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data == {
        "against": "HEAD",
        "refused": 1,
        "tables": [
            {
                "identifier": "raw.users",
                "path": SCHEMA_MODULE,
                "changes": [
                    {
                        "code": "CAS201",
                        "rule": "column-dropped",
                        "severity": "breaking",
                        "subject": "email",
                        "reason": "email (id 2) is dropped",
                        "field_id": 2,
                        "allowance": "CAS201:email",
                        "refused": True,
                    }
                ],
                "unused_allowances": [],
            }
        ],
    }
    (repo / "models/users.py").write_text(MODEL, encoding="utf-8")
    unchanged = cascade(repo, "diff", "--format", "json")
    assert unchanged.returncode == 0
    assert json.loads(unchanged.stdout) == {"against": "HEAD", "refused": 0, "tables": []}


def test_project_in_a_subfolder_and_tables_not_committed_yet(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    # A folder name git would quote in its listings (it once made diff fail with a traceback).
    lake = "données"
    write_project(repo / lake)
    (repo / ".gitignore").write_text(".cascade/\n", encoding="utf-8")
    git(repo, "init", "--quiet")
    commit(repo, "project without generated/")
    # Nothing generated at HEAD: every table is new.
    new = cascade(repo, "diff", "--project", lake)
    assert new.returncode == 0, new.stderr
    assert "CAS100 safe     table-added              raw.users is created on its first load" in (
        new.stdout
    )
    assert cascade(repo, "gen", "--project", lake).returncode == 0
    commit(repo, "generated")
    # The baseline is read from <lake>/generated at HEAD, from the root or from inside.
    edit(repo / lake / "models/users.py", *DROP_EMAIL)
    for folder, project in ((repo, lake), (repo / lake / "models", "..")):
        result = cascade(folder, "diff", "--project", project)
        assert result.returncode == 2, (folder, result.stderr)
        assert result.stdout.startswith("raw.users  (generated/schemas/app/users.py)\n")
        assert "CAS201 BREAKING column-dropped" in result.stdout


def test_errors_exit_1(repo: Path, tmp_path: Path) -> None:
    unknown = cascade(repo, "diff", "--against", "nope")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert unknown.stderr == "cascade diff: 'nope' is not a commit of this repository\n"

    outside = tmp_path / "not_a_repo"
    shutil.copytree(repo, outside, ignore=shutil.ignore_patterns(".git"))
    result = cascade(outside, "diff")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("cascade diff: ")
    assert "not a git repository" in result.stderr
    assert "Traceback" not in result.stderr

    # A project that does not compile: its diagnostics, and nothing compared.
    edit(repo / "models/users.py", "    age: int | None\n", "    age: int | str\n")
    broken = cascade(repo, "diff")
    assert broken.returncode == 1
    assert "models/users.py:" in broken.stderr and broken.stdout == ""


def test_a_baseline_that_is_no_schema_module_is_an_error_naming_it(repo: Path) -> None:
    # What a revision holds is untrusted: read, never run; a broken module is named.
    module = next((repo / "generated" / "schemas").rglob("users.py"))
    relative = module.relative_to(repo).as_posix()
    planted = repo / "planted_marker"
    module.write_text(
        f"from pyiceberg.transforms import _try_import\nTABLE = _try_import({str(planted)!r})\n",
        encoding="utf-8",
    )
    (repo / "generated" / "stray.bin").write_bytes(b"\xff\xfe not text")
    commit(repo, "a hostile baseline")
    git(repo, "checkout", "--quiet", "HEAD~1", "--", "generated")
    result = cascade(repo, "diff", "--against", "HEAD")
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.startswith(f"cascade diff: {relative}:2:9: _try_import is not")
    assert "Traceback" not in result.stderr and not planted.exists()

    module.write_bytes(b"\xff\xfe")  # not UTF-8 at all
    commit(repo, "a binary baseline")
    git(repo, "checkout", "--quiet", "HEAD~2", "--", "generated")
    binary = cascade(repo, "diff", "--against", "HEAD")
    assert binary.returncode == 1
    assert binary.stderr == f"cascade diff: {relative} at HEAD is not UTF-8 text\n"
