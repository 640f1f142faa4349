"""The case matrix: each folder under tests/cases is a tiny user project (pyproject.toml,
ingestion/, models/, and optionally previous/: an earlier generation's output, which locks the
field ids). Each generated file is pinned by a snapshot file of its own; a project with
diagnostics is pinned by their text as the CLI prints it. Adding coverage = adding a folder.

A case folder holding an `xfail.txt` (the known compiler bug it shows) must fail, strictly.
After an intended change: .venv/bin/pytest tests/test_cases.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from cascade.compiler import compile_project, load_config
from cascade.compiler.config import ConfigError

CASES = Path(__file__).parent / "cases"
UPDATE = "if the change is intended: .venv/bin/pytest tests/test_cases.py --snapshot-update"


class PythonSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "py"


class TextSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


def read_tree(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in files}


def exec_schema(code) -> Schema:
    namespace: dict[str, object] = {}
    exec(code, namespace)  # a generated schema module imports pyiceberg only
    schema = namespace["SCHEMA"]
    assert isinstance(schema, Schema)
    return schema


def case_param(root: Path):
    """A case folder; an `xfail.txt` in it names a known compiler bug that makes it fail."""
    reason = root / "xfail.txt"
    marks = [pytest.mark.xfail(reason=reason.read_text(), strict=True)] if reason.exists() else []
    return pytest.param(root.name, marks=marks)


@pytest.mark.parametrize(
    "case", [case_param(p.parent) for p in sorted(CASES.glob("*/pyproject.toml"))]
)
def test_case(case: str, snapshot) -> None:
    root = CASES / case
    previous = read_tree(root / "previous")
    try:
        config = load_config(root)
    except ConfigError as error:  # [tool.cascade] itself is wrong: one diagnostic, no output
        text = error.diagnostic.format_text() + "\n"
        assert snapshot(extension_class=TextSnapshot, name="diagnostics") == text, UPDATE
        return
    compilation = compile_project(config, previous=previous)
    if compilation.diagnostics:
        text = "".join(d.format_text() + "\n" for d in compilation.diagnostics)
        assert snapshot(extension_class=TextSnapshot, name="diagnostics") == text, UPDATE
    if not compilation.ok:
        assert compilation.files == {}, "a project with errors must produce no files"
    for path, text in compilation.files.items():
        code = compile(text, path, "exec")
        name = path.removesuffix(".py").replace("/", ".")
        assert snapshot(extension_class=PythonSnapshot, name=name) == text, UPDATE
        if "/schemas/" in path and "\nSCHEMA = " in text:
            schema = exec_schema(code)
            if not previous:
                # A new table: its ids must be the ones Iceberg's create_table assigns.
                assert assign_fresh_schema_ids(schema).as_struct() == schema.as_struct(), path


def test_every_snapshot_belongs_to_a_case() -> None:
    # syrupy does not notice the snapshots of a case folder that was removed or renamed.
    cases = {p.parent.name for p in CASES.glob("*/pyproject.toml")}
    snapshots = Path(__file__).parent / "__snapshots__" / "test_cases"
    orphans = sorted(
        p.name
        for p in snapshots.iterdir()
        if p.name.partition("[")[2].partition("]")[0] not in cases
    )
    assert not orphans, f"delete the snapshots of cases that no longer exist: {orphans}"
