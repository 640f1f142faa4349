"""The case matrix: each folder under tests/cases is a tiny user project and, beside it, what
the compiler must make of it (as sqlc keeps its end-to-end cases). Adding coverage = adding a
folder:

    tests/cases/<case>/
        pyproject.toml, ingestion/, models/   the project; a folder's empty __init__.py may be
                                              left out (the harness adds it to its copy)
        previous/ or previous.txt             optional: an earlier generation's output, which
                                              locks the field ids; previous.txt names a shared
                                              one, tests/cases/_bases/<name>/
        xfail.txt                             optional: the known compiler bug the case shows
                                              (it must fail, strictly)
        expected/diagnostics.txt              the diagnostics as the CLI prints them, if any
        expected/<out>/...                    every generated file, byte for byte, except the
                                              package __init__.py files that are the one-line
                                              header of tests/cases/_package_init.py

A file in expected/ that is not produced any more fails the case as much as a new output does.
After an intended change, rewrite the expected/ folders (all, or those picked with -k) and
review them with git diff:

    .venv/bin/pytest tests/compiler/test_cases.py --update-goldens

(`--snapshot-update` does it too, so that one command updates syrupy's snapshots and these.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyiceberg.schema import Schema, assign_fresh_schema_ids

from cascade.compiler import compile_project, load_config
from cascade.compiler.config import ConfigError
from tests.helpers import (
    CASES,
    case_names,
    case_previous,
    copy_case,
    read_tree,
    tree_diff,
    write_tree,
)

UPDATE = "if the change is intended: .venv/bin/pytest tests/compiler/test_cases.py --update-goldens"
# The text of a generated package __init__.py, where a case does not store its own.
PACKAGE_INIT = (CASES / "_package_init.py").read_text(encoding="utf-8")


def exec_schema(code) -> Schema:
    namespace: dict[str, object] = {}
    exec(code, namespace)  # a generated schema module imports pyiceberg only
    schema = namespace["SCHEMA"]
    assert isinstance(schema, Schema)
    return schema


def case_param(name: str):
    """A case folder; an `xfail.txt` in it names a known compiler bug that makes it fail."""
    reason = CASES / name / "xfail.txt"
    marks = [pytest.mark.xfail(reason=reason.read_text(), strict=True)] if reason.exists() else []
    return pytest.param(name, marks=marks)


def produced(root: Path, previous: dict[str, str]) -> dict[str, str]:
    """What the case's expected/ folder must hold, from compiling the project."""
    try:
        config = load_config(root)
    except ConfigError as error:  # [tool.cascade] itself is wrong: one diagnostic, no output
        return {"diagnostics.txt": error.diagnostic.format_text() + "\n"}
    compilation = compile_project(config, previous=previous)
    output = {}
    if compilation.diagnostics:
        output["diagnostics.txt"] = "".join(d.format_text() + "\n" for d in compilation.diagnostics)
    if not compilation.ok:
        assert compilation.files == {}, "a project with errors must produce no files"
    for path, text in compilation.files.items():
        code = compile(text, path, "exec")
        if "/schemas/" in path and "\nSCHEMA = " in text:
            schema = exec_schema(code)
            if not previous:
                # A new table: its ids must be the ones Iceberg's create_table assigns.
                assert assign_fresh_schema_ids(schema).as_struct() == schema.as_struct(), path
        if not (path.endswith("/__init__.py") and text == PACKAGE_INIT):
            output[path] = text
    return output


@pytest.mark.parametrize("case", [case_param(name) for name in case_names(CASES)])
def test_case(case: str, tmp_path: Path, update_goldens: bool) -> None:
    root = CASES / case
    output = produced(copy_case(root, tmp_path / case), case_previous(root))
    if update_goldens:
        write_tree(root / "expected", output)
    differences = tree_diff(read_tree(root / "expected"), output, f"tests/cases/{case}/expected")
    if differences:
        pytest.fail(f"{differences}\n{UPDATE}", pytrace=False)


def test_every_folder_is_a_case_and_every_base_is_used() -> None:
    # A folder without pyproject.toml would be skipped silently: a renamed or half-deleted case.
    folders = {p.name for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert sorted(folders - set(case_names(CASES))) == [], "a case folder needs a pyproject.toml"
    named = {
        (CASES / name / "previous.txt").read_text(encoding="utf-8").strip()
        for name in case_names(CASES)
        if (CASES / name / "previous.txt").is_file()
    }
    unused = sorted(p.name for p in (CASES / "_bases").iterdir() if p.name not in named)
    assert unused == [], (
        f"no case's previous.txt names these folders of tests/cases/_bases: {unused}"
    )
