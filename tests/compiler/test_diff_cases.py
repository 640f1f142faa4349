"""The `cascade diff` case matrix: each folder under tests/diff_cases is one change to a tiny
project. The folder's root is the project after the change (pyproject.toml, ingestion/), and
`before/` is the generated tree committed before it: the baseline `cascade diff` reads from git,
and the lock the new compile keeps field ids from. The classified changes are pinned twice, as
`cascade diff` prints them (text) and as its json, in the case's expected/ folder.

`before/` is the compiler's own output for `before_project/` (compiled with the output of
`older_project/` as its lock, where a case has one), never written by hand, except in a case
that says why in `hand_written_before.txt` (a retired id reused cannot come out of the
compiler). Cases that start from the same project share it: their `before.txt` names a folder
tests/diff_cases/_bases/<name>/ that holds the `before_project/` and `before/` they would
otherwise each copy. After changing a before_project/ or the compiler's output:

    .venv/bin/python -m tests.compiler.test_diff_cases [case or base ...]    # rewrites before/

`expected_codes.txt` lists what the classification must be, one line per change: the rule code,
then `refused` or `allowed` for a breaking change; and `unused CODE:subject` for an allowance
that matches no change. It is checked even with --update-goldens, so that a wrong
classification cannot be pinned by accident.

After an intended change, rewrite expected/diff.txt and expected/diff.json (all, or those
picked with -k) and review them with git diff:

    .venv/bin/pytest tests/compiler/test_diff_cases.py --update-goldens

(`--snapshot-update` does it too.)
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
from pathlib import Path

import pytest

from cascade.compiler import Compilation, compile_project, load_config
from cascade.compiler.review.diff import (
    TableDiff,
    change_line,
    diff_tables,
    format_json,
    format_text,
)
from cascade.runtime.change_rules import RULES, Change
from tests.helpers import DIFF_CASES as CASES
from tests.helpers import case_names, read_tree, tree_diff, write_tree

UPDATE = "if intended: .venv/bin/pytest tests/compiler/test_diff_cases.py --update-goldens"


def compile_ok(root: Path, previous: dict[str, str]) -> Compilation:
    compilation = compile_project(load_config(root), previous=previous)
    problems = "".join(d.format_text() + "\n" for d in compilation.diagnostics)
    assert not compilation.diagnostics, f"{root} does not compile cleanly:\n{problems}"
    return compilation


def before_folder(case: Path) -> Path:
    """The folder that holds the case's before_project/ and before/: the case's own, or the
    shared one its before.txt names."""
    named = case / "before.txt"
    if not named.is_file():
        return case
    base = CASES / "_bases" / named.read_text(encoding="utf-8").strip()
    assert base.is_dir(), f"{named} names no folder under {CASES / '_bases'}"
    assert not (case / "before").exists(), f"{case.name}: before/ or before.txt, not both"
    return base


@functools.cache
def baseline_files(case: Path) -> dict[str, str]:
    """What `cascade gen` writes for the before_project/ in `case` (older_project/'s output is
    its lock): the generated schema modules committed before the change."""
    older = (
        compile_ok(case / "older_project", {}).files if (case / "older_project").is_dir() else {}
    )
    out = load_config(case / "before_project").out
    files = compile_ok(case / "before_project", older).files
    # Only the schema modules: the lock and all that `cascade diff` reads.
    return {
        path: text
        for path, text in files.items()
        if path.startswith(f"{out}/schemas/") and not path.endswith("/__init__.py")
    }


def write_baselines(names: list[str]) -> None:
    folders = {
        before_folder(CASES / name) for name in case_names(CASES) if name in names or not names
    }
    folders |= {base for base in (CASES / "_bases").iterdir() if base.name in names}
    for case in sorted(folders):
        if not (case / "before_project").is_dir():
            continue
        files = baseline_files(case)
        shutil.rmtree(case / "before", ignore_errors=True)
        for path, text in files.items():
            target = case / "before" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        print(f"wrote {case.relative_to(CASES.parent)}/before ({len(files)} files)")


CASE_NAMES = case_names(CASES)


@functools.cache
def run_case(name: str) -> list[TableDiff]:
    root = CASES / name
    config = load_config(root)
    before = read_tree(before_folder(root) / "before")
    assert before, f"{name} has no before/ folder"
    after = compile_ok(root, previous=before)
    return diff_tables(before, after.files, config.out)


def classification(diffs: list[TableDiff]) -> list[str]:
    """The lines expected_codes.txt holds, for what the diff found."""
    lines = []
    for diff in diffs:
        for change in diff.changes:
            status = (
                " refused" if diff.is_refused(change) else " allowed" if change.breaking else ""
            )
            lines.append(change.code + status)
        lines.extend(f"unused {entry}" for entry in diff.unused_allowances)
    return sorted(lines)


def expected_classification(name: str) -> list[str]:
    text = (CASES / name / "expected_codes.txt").read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return sorted(" ".join(line.split()) for line in lines if line)


@pytest.mark.parametrize("case", CASE_NAMES)
def test_diff_case(case: str, update_goldens: bool) -> None:
    diffs = run_case(case)
    text = format_text(diffs, "before")
    output = {"diff.txt": text, "diff.json": format_json(diffs, "before")}
    expected = CASES / case / "expected"
    if update_goldens:
        write_tree(expected, output)
    differences = tree_diff(read_tree(expected), output, f"tests/diff_cases/{case}/expected")
    if differences:
        pytest.fail(f"{differences}\n{UPDATE}", pytrace=False)
    # The summary line agrees with the changes, and a refused change is what makes exit 2.
    refused = sum(len(d.refused) for d in diffs)
    assert (
        text.rstrip("\n")
        .rsplit("\n", 1)[-1]
        .endswith(f"; {refused} breaking change(s) not allowed" if refused else "against before")
    )


@pytest.mark.parametrize("case", CASE_NAMES)
def test_diff_case_classification(case: str) -> None:
    # Independent of the snapshots: --snapshot-update cannot make a wrong code pass.
    assert classification(run_case(case)) == expected_classification(case)


@pytest.mark.parametrize("case", CASE_NAMES)
def test_before_is_the_compilers_output(case: str) -> None:
    root = before_folder(CASES / case)
    if not (root / "before_project").is_dir():
        reason = root / "hand_written_before.txt"
        assert reason.is_file(), f"{case}: before/ comes from before_project/, or says why not"
        assert reason.read_text(encoding="utf-8").strip()
        return
    assert read_tree(root / "before") == baseline_files(root), (
        f"{root.relative_to(CASES)}/before is stale: "
        f".venv/bin/python -m tests.compiler.test_diff_cases {root.name}"
    )


def test_json_output_is_what_the_text_shows() -> None:
    # One case, read back: refused flags, allowances and the refused count agree.
    diffs = run_case("allowance_partly_used")
    data = json.loads(format_json(diffs, "before"))
    assert data["against"] == "before" and data["refused"] == 0
    [table] = data["tables"]
    assert table["identifier"] == "raw.users"
    assert table["path"] == "generated/schemas/app/users.py"
    [change] = table["changes"]
    assert change["allowance"] == "CAS201:email" and not change["refused"]
    assert table["unused_allowances"] == ["CAS203:age"]


# Rules only a live table can show (two generations always record their key the same way),
# with the test that covers each.
LIVE_TABLE_ONLY = {"CAS109": "tests/runtime/test_table_contract.py"}


def test_every_rule_has_a_case() -> None:
    found = {line.split()[0] for name in CASE_NAMES for line in expected_classification(name)}
    missing = sorted(set(RULES) - found - set(LIVE_TABLE_ONLY))
    assert not missing, f"add a folder under tests/diff_cases for each of {missing}"
    # A breaking change that may be allowed is shown both refused and allowed somewhere.
    for code, rule in RULES.items():
        if rule.severity == "breaking":
            seen = {line for name in CASE_NAMES for line in expected_classification(name)}
            assert f"{code} refused" in seen, f"no case where {code} is refused"
            if rule.allowable:
                assert f"{code} allowed" in seen, f"no case where {code} is allowed"


def test_every_folder_is_a_case_and_every_base_is_used() -> None:
    # A folder without pyproject.toml would be skipped silently: a renamed or half-deleted case.
    folders = {p.name for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert sorted(folders - set(CASE_NAMES)) == [], "a case folder needs a pyproject.toml"
    used = {before_folder(CASES / name) for name in CASE_NAMES}
    unused = sorted(p.name for p in (CASES / "_bases").iterdir() if p not in used)
    assert unused == [], f"no case names these folders of tests/diff_cases/_bases: {unused}"


if __name__ == "__main__":
    write_baselines(sys.argv[1:])


def test_a_change_refused_although_allowed_is_not_told_to_allow_itself() -> None:
    # `cascade plan`: a column with nulls cannot become required, allowed or not.
    reason = "email becomes required, but 4 row(s) hold nulls: fill them first, or keep it optional"
    change = Change("CAS203", "email", reason, 2)
    assert change_line(change, True, ("CAS203:email",)).endswith(reason)
    assert change_line(change, True).endswith(
        "; allow with allow_breaking=('CAS203:email',) in the decorator"
    )
