"""Helpers the tests share: the case folders and their expected output, runs of the console
script and of git, one Dagster run of an asset and what it reports. Fixtures are in
tests/conftest.py. Imported as `from tests.helpers import ...` (pytest puts the repo root on
sys.path).
"""

from __future__ import annotations

import difflib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg

from cascade.runtime import IcebergResource

REPO_ROOT = Path(__file__).resolve().parents[1]
CASES = REPO_ROOT / "tests" / "cases"
DIFF_CASES = REPO_ROOT / "tests" / "diff_cases"
# The console script installed next to the interpreter running the tests.
CASCADE = Path(sys.executable).with_name("cascade")

# What a tests/cases folder holds besides the user project it is: the expected output, an
# earlier generation's output (or the name of a shared one, under tests/cases/_bases/), and a
# known bug the case shows.
CASE_EXTRAS = frozenset({"expected", "previous", "previous.txt", "xfail.txt"})


def read_tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative POSIX path -> text); {} when there is no folder."""
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in files}


def write_tree(folder: Path, files: dict[str, str]) -> None:
    """Makes `folder` hold exactly `files`: what is not in it is removed."""
    shutil.rmtree(folder, ignore_errors=True)
    for path, text in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def tree_diff(expected: dict[str, str], actual: dict[str, str], folder: str) -> str:
    """What differs between the files of `folder` and the output, as unified diffs; "" if
    nothing does. A file only on one side is named (a golden nothing writes any more fails too)."""
    parts = []
    for path in sorted(expected.keys() | actual.keys()):
        if path not in actual:
            parts.append(f"{folder}/{path}: stored, but not produced any more")
        elif path not in expected:
            parts.append(f"{folder}/{path}: produced, but not stored\n{actual[path]}")
        elif expected[path] != actual[path]:
            lines = difflib.unified_diff(
                expected[path].splitlines(keepends=True),
                actual[path].splitlines(keepends=True),
                f"{folder}/{path} (expected)",
                f"{folder}/{path} (produced)",
            )
            parts.append("".join(lines))
    return "\n".join(parts)


def case_names(folder: Path) -> list[str]:
    """The case folders under `folder` (each a project: it has a pyproject.toml)."""
    return sorted(p.parent.name for p in folder.glob("*/pyproject.toml"))


def case_previous(root: Path) -> dict[str, str]:
    """The earlier generation a case compiles against: its previous/ folder, or the shared one
    under tests/cases/_bases/ that its previous.txt names; {} for a first generation."""
    named = root / "previous.txt"
    if named.is_file():
        base = CASES / "_bases" / named.read_text(encoding="utf-8").strip()
        assert base.is_dir(), f"{named} names no folder under {CASES / '_bases'}"
        assert not (root / "previous").exists(), f"{root.name}: previous/ or previous.txt"
        return read_tree(base)
    return read_tree(root / "previous")


def project_files(root: Path) -> list[Path]:
    """The files of the user project a case folder is: not its expected output, previous
    generation or notes."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.relative_to(root).parts[0] not in CASE_EXTRAS
        and "__pycache__" not in p.parts
    )


def copy_case(root: Path, target: Path, *, previous: bool = False) -> Path:
    """The case's project copied to `target`, with an empty `__init__.py` in each folder of
    Python files that has none (the cases leave them out: the compiler does not need them, a
    user's packages have them). With `previous`, its previous generation is written where
    `gen` would have written it."""
    files = project_files(root)
    for path in files:
        destination = target / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    for path in files:
        folder = path.parent
        while path.suffix == ".py" and folder != root:
            (target / folder.relative_to(root) / "__init__.py").touch()
            folder = folder.parent
    if previous:
        for path, text in case_previous(root).items():
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            (target / path).write_text(text, encoding="utf-8")
    return target


def copy_example_project(target: Path) -> Path:
    """The example project (pyproject.toml, examples/, generated/) copied to `target`."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "pyproject.toml", target / "pyproject.toml")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO_ROOT / "examples", target / "examples", ignore=ignore)
    shutil.copytree(REPO_ROOT / "generated", target / "generated", ignore=ignore)
    return target


# -- processes ------------------------------------------------------------------------------


def cascade(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed `cascade` console script on `project`, with `env` added to the
    environment."""
    return subprocess.run(
        [CASCADE, *args, "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def git(repo: Path, *args: str) -> str:
    """Runs git in `repo` as a throwaway user; its output."""
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def edit(path: Path, old: str, new: str) -> None:
    """Replaces `old` (which must be there) with `new` in the file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- Iceberg and Dagster ------------------------------------------------------------------------


def catalog_of(project: Path):
    """The catalog a project's loads use (its embedded default unless pyiceberg is configured)."""
    return IcebergResource(project_dir=str(project)).load_catalog()


def field_ids(schema) -> dict[str, int]:
    """A schema's top-level field ids by name."""
    return {field.name: field.field_id for field in schema.fields}


def materialize(
    asset: dg.AssetsDefinition, partition: str, **kwargs: object
) -> dg.ExecuteInProcessResult:
    """One in-process run of `asset` for `partition`, with the `iceberg` resource the generated
    definitions give it (whose catalog the environment configures). A failed run is returned,
    not raised: see failure_message()."""
    return dg.materialize(
        [asset],
        partition_key=partition,
        resources={"iceberg": IcebergResource()},
        raise_on_error=False,
        **kwargs,
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """What the run's failed steps raised: each error's message and its causes', without the
    stack traces; "" for a run that succeeded."""
    lines = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            while error is not None:
                lines.append(error.message.strip())
                error = error.cause or error.context
    return "\n".join(lines)


def metadata_of(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    """The metadata of the run's one materialization, as plain values."""
    assert result.success, failure_message(result)
    [event] = result.get_asset_materialization_events()
    return {key: value.value for key, value in event.materialization.metadata.items()}
