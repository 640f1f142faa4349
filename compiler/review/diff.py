"""`cascade diff`: what a change to the models does to each table, classified for review.

The baseline is the generated schema modules of a git revision (HEAD by default: what was
reviewed and committed), the new side is a fresh compile of the working tree. Both are read as
table contracts (driver/contract_reader.py) and compared by field id with the runtime's own
classifier (runtime/evolution.py), so review and load apply the same rules.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cascade.compiler.driver.contract_reader import read_contract
from cascade.runtime.change_rules import Change
from cascade.runtime.contract import TableContract


class DiffError(Exception):
    """The baseline cannot be read (no git, an unknown revision, a damaged schema module)."""


@dataclass(frozen=True)
class TableDiff:
    identifier: str
    path: str  # the schema module, relative to the project root
    changes: tuple[Change, ...]
    allowed: tuple[str, ...]  # the new side's ALLOWED_BREAKING

    def is_refused(self, change: Change) -> bool:
        return change.breaking and change.allowance not in self.allowed

    @property
    def refused(self) -> list[Change]:
        return [change for change in self.changes if self.is_refused(change)]

    @property
    def unused_allowances(self) -> list[str]:
        used = {change.allowance for change in self.changes if change.breaking}
        return [entry for entry in self.allowed if entry not in used]


def schema_modules(files: dict[str, str], out: str) -> dict[str, tuple[str, TableContract]]:
    """The contracts of the generated schema modules among `files` (path -> text), with
    their paths, by table identifier."""
    found = {}
    for path, text in sorted(files.items()):
        if path.startswith(f"{out}/schemas/") and not path.endswith("__init__.py"):
            try:
                module = read_contract(text, path)
            except ValueError as error:
                raise DiffError(str(error)) from None
            found[module.identifier] = (path, module)
    return found


def diff_tables(before: dict[str, str], after: dict[str, str], out: str) -> list[TableDiff]:
    """Classified changes of every table whose schema module differs between two generations."""
    from cascade.runtime.evolution import TableShape, classify

    old, new = schema_modules(before, out), schema_modules(after, out)
    diffs = []
    for identifier in sorted(set(old) | set(new)):
        if identifier not in new:
            path = old[identifier][0]
            change = Change("CAS108", "table", f"{identifier} is no longer generated")
            diffs.append(TableDiff(identifier, path, (change,), ()))
            continue
        path, module = new[identifier]
        if identifier not in old:
            change = Change("CAS100", "table", f"{identifier} is created on its first load")
            diffs.append(TableDiff(identifier, path, (change,), module.allowed_breaking))
            continue
        was = old[identifier][1]
        changes = classify(TableShape.of(was), TableShape.of(module))
        if changes or module.allowed_breaking:
            diffs.append(TableDiff(identifier, path, tuple(changes), module.allowed_breaking))
    return diffs


def files_at_revision(root: Path, revision: str, folder: str) -> dict[str, str]:
    """The text of every file under `folder` (relative to `root`) at a git revision."""

    def git(*args: str, stdin: bytes | None = None) -> bytes:
        try:
            result = subprocess.run(
                ["git", "-C", str(root), *args], input=stdin, capture_output=True, check=False
            )
        except FileNotFoundError:
            raise DiffError(
                "git is not installed; cascade diff compares with a git revision"
            ) from None
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise DiffError(f"git {' '.join(args[:2])}: {message}")
        return result.stdout

    prefix = git("rev-parse", "--show-prefix").decode().strip()
    try:
        git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except DiffError:
        raise DiffError(f"{revision!r} is not a commit of this repository") from None
    # -z: paths as they are. Without it git quotes a path with non-ASCII characters (a project
    # in a folder "données" is listed as "donn\303\251es/..."), which cat-file does not find.
    listed = git("ls-tree", "-r", "-z", "--name-only", "--full-name", revision, "--", folder)
    paths = [path for path in listed.decode().split("\0") if path]
    if not paths:
        return {}
    # One git process for every file: `cat-file --batch` answers "<sha> blob <size>\n<data>\n".
    output = git("cat-file", "--batch", stdin="".join(f"{revision}:{p}\n" for p in paths).encode())
    files, offset = {}, 0
    for path in paths:
        header_end = output.index(b"\n", offset)
        size = int(output[offset:header_end].split()[2])
        start = header_end + 1
        try:
            files[path.removeprefix(prefix)] = output[start : start + size].decode("utf-8")
        except UnicodeDecodeError:
            if path.endswith(".py"):
                raise DiffError(f"{path} at {revision} is not UTF-8 text") from None
            # Not a module (a stray data file): nothing to compare.
        offset = start + size + 1
    return files


def change_line(change: Change, refused: bool, allowed: tuple[str, ...] = ()) -> str:
    """`  CAS201 BREAKING column-dropped  old (id 9) is dropped; allow with ...`; `allowed`:
    the allowances given, which a change may be refused in spite of (its reason says why)."""
    rule = change.rule
    note = ""
    if change.breaking and not refused:
        note = " (allowed)"
    elif refused and change.allowance in allowed:
        note = ""  # allowed, and refused all the same: the reason says what to do first
    elif refused and rule.allowable:
        note = f"; allow with allow_breaking=({change.allowance!r},) in the decorator"
    elif refused:
        note = f"; {rule.hint}"
    severity = "BREAKING" if refused else rule.severity
    return f"  {change.code} {severity:<8} {rule.name:<24} {change.reason}{note}"


def format_text(diffs: list[TableDiff], against: str) -> str:
    lines = []
    for diff in diffs:
        lines.append(f"{diff.identifier}  ({diff.path})")
        lines.extend(change_line(change, diff.is_refused(change)) for change in diff.changes)
        for entry in diff.unused_allowances:
            lines.append(f"  note: allow_breaking entry {entry!r} matches no change here")
    changes = sum(len(d.changes) for d in diffs)
    refused = sum(len(d.refused) for d in diffs)
    tables = sum(1 for d in diffs if d.changes)
    summary = f"cascade diff: {changes} change(s) in {tables} table(s) against {against}"
    if refused:
        summary += f"; {refused} breaking change(s) not allowed"
    return "\n".join([*lines, summary]) + "\n"


def format_github(diffs: list[TableDiff]) -> str:
    """GitHub Actions annotations: errors for refused changes, warnings for allowed breaking
    ones, notices for safe ones. Every value escaped, one line each."""
    from cascade.compiler.diagnostics import github_annotation

    lines = []
    for diff in diffs:
        for change in diff.changes:
            level = (
                "error" if diff.is_refused(change) else "warning" if change.breaking else "notice"
            )
            title = f"{change.code} {change.rule.name} ({diff.identifier})"
            lines.append(
                github_annotation(level, {"file": diff.path, "title": title}, change.reason)
            )
    return "".join(line + "\n" for line in lines)


def format_json(diffs: list[TableDiff], against: str) -> str:
    tables = [
        {
            "identifier": diff.identifier,
            "path": diff.path,
            "changes": [
                {
                    "code": change.code,
                    "rule": change.rule.name,
                    "severity": change.rule.severity,
                    "subject": change.subject,
                    "reason": change.reason,
                    "field_id": change.field_id,
                    "allowance": change.allowance,
                    "refused": diff.is_refused(change),
                }
                for change in diff.changes
            ],
            "unused_allowances": diff.unused_allowances,
        }
        for diff in diffs
    ]
    refused = sum(len(d.refused) for d in diffs)
    return json.dumps({"against": against, "tables": tables, "refused": refused}, indent=2) + "\n"
