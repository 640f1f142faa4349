"""`--format github`: every value escaped as GitHub's workflow commands require, so a file name
or message can never end the annotation and start a command of its own (`::add-mask::`, a
forged `::error`). The rules are those of GitHub's toolkit (actions/toolkit
packages/core/src/command.ts): data escapes `%`, CR and LF; property values also `:` and `,`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cascade.compiler.diagnostics import (
    Diagnostic,
    Span,
    escape_github_data,
    escape_github_property,
    github_annotation,
)
from cascade.compiler.review.diff import TableDiff, format_github
from cascade.runtime.change_rules import Change
from tests.helpers import CASCADE

HOSTILE = [
    "evil\n::add-mask::secret",
    "evil\r\n::error file=x.py,line=1::forged",
    "evil\r::warning::forged",
    "already%0Aescaped%0D%25",
    "a,b:c.py",
    "::add-mask::secret",
    "ingestion/a\n\n::error::x,y:z%",
]


# The escaping itself.


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("%", "%25"),
        ("\r", "%0D"),
        ("\n", "%0A"),
        ("\r\n", "%0D%0A"),
        (":", ":"),
        (",", ","),
        ("plain text (hint: x=1)", "plain text (hint: x=1)"),
        # `%` first: the escapes are not escaped again, and text that looks escaped stays text.
        ("%0A", "%250A"),
        ("100%\n", "100%25%0A"),
        ("%25", "%2525"),
    ],
)
def test_escape_data(raw: str, escaped: str) -> None:
    assert escape_github_data(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("%", "%25"),
        ("\r", "%0D"),
        ("\n", "%0A"),
        (":", "%3A"),
        (",", "%2C"),
        ("ingestion/users.py", "ingestion/users.py"),
        ("a,b:c.py", "a%2Cb%3Ac.py"),
        # `%` first: %3A in a name is the text "%3A", not a colon.
        ("%3A%2C%0A", "%253A%252C%250A"),
        ("x\n::add-mask::s", "x%0A%3A%3Aadd-mask%3A%3As"),
        (12, "12"),
    ],
)
def test_escape_property(raw: object, escaped: str) -> None:
    assert escape_github_property(raw) == escaped


def unescape(value: str, special: str) -> str:
    """What GitHub's runner reads back (its unescape runs in the opposite order: `%25` last)."""
    codes = {"\r": "%0D", "\n": "%0A", ":": "%3A", ",": "%2C"}
    for char in special:
        value = value.replace(codes[char], char)
    return value.replace("%25", "%")


@pytest.mark.parametrize("raw", HOSTILE)
def test_escaping_round_trips(raw: str) -> None:
    assert unescape(escape_github_data(raw), "\r\n") == raw
    assert unescape(escape_github_property(raw), "\r\n:,") == raw
    assert not set("\r\n:,") & set(escape_github_property(raw))
    assert not set("\r\n") & set(escape_github_data(raw))


def test_annotation_line() -> None:
    assert (
        github_annotation("error", {"file": "a,b:c.py", "line": 3, "col": 5}, "x:\ny, 100%")
        == "::error file=a%2Cb%3Ac.py,line=3,col=5::x:%0Ay, 100%25"
    )


# The two formatters, given hostile file names and messages.


def assert_one_annotation(line: str, level: str) -> None:
    assert line.startswith(f"::{level} ")
    assert "\n" not in line and "\r" not in line
    # The properties end at the first "::"; nothing in them can open another command.
    properties, _, message = line[len(f"::{level} ") :].partition("::")
    assert "\n" not in message and "\r" not in message
    for pair in properties.split(","):
        key, _, value = pair.partition("=")
        assert key in {"file", "line", "col", "title"}, line
        assert ":" not in value and "," not in value


@pytest.mark.parametrize("path", HOSTILE)
@pytest.mark.parametrize("message", HOSTILE)
@pytest.mark.parametrize("severity", ["error", "warning"])
def test_diagnostic_format_github(path: str, message: str, severity: str) -> None:
    diagnostic = Diagnostic(Span(path, 7, 9), message, hint=message, severity=severity)
    line = diagnostic.format_github()
    assert_one_annotation(line, severity)
    properties, _, body = line.partition(" ")[2].partition("::")
    assert properties == f"file={escape_github_property(path)},line=7,col=9"
    assert unescape(body, "\r\n") == f"{message} (hint: {message})"


@pytest.mark.parametrize("path", HOSTILE)
@pytest.mark.parametrize("reason", HOSTILE)
def test_diff_format_github(path: str, reason: str) -> None:
    diffs = [
        TableDiff("raw.users", path, (Change("CAS201", "email", reason, 2),), ()),
        TableDiff("raw.users", path, (Change("CAS201", "email", reason, 2),), ("CAS201:email",)),
        TableDiff("raw,x:y\nz", path, (Change("CAS101", "x", reason, 3),), ()),
    ]
    output = format_github(diffs)
    assert output.endswith("\n")
    lines = output[:-1].split("\n")
    assert len(lines) == 3
    for line, level in zip(lines, ["error", "warning", "notice"], strict=True):
        assert_one_annotation(line, level)
        assert f"file={escape_github_property(path)}," in line
        assert line.endswith("::" + escape_github_data(reason))
    assert "title=CAS101 column-added (raw%2Cx%3Ay%0Az)::" in lines[2]


# End to end: the console script on a project with a source file named to forge commands.

EVIL_NAME = "evil\n::add-mask::secret\n::error file=x.py,line=1::forged, a:b.py"
INGESTION = """\
from cascade.runtime import cascade_ingestion
from models.users import Users


@cascade_ingestion(
    table_name="users",
    unique_key="user_id",
    validation_schema=Users,
    group="app",
    cron="0 25 * * *",
)
def users(partition_date: str):
    return None
"""
MODEL = """\
from pandera.pandas import DataFrameModel, Field


class Users(DataFrameModel):
    user_id: str = Field(description="User id")
    email: str
"""


@pytest.mark.slow
@pytest.mark.parametrize("command", ["check", "gen"])
def test_console_script_escapes_a_hostile_file_name(tmp_path: Path, command: str) -> None:
    project = {
        "pyproject.toml": '[tool.cascade]\nsources = ["ingestion"]\nout = "generated"\n',
        "ingestion/__init__.py": "",
        f"ingestion/{EVIL_NAME}": INGESTION,
        "models/__init__.py": "",
        "models/users.py": MODEL,
    }
    for path, text in project.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [str(CASCADE), command, "--format", "github"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines, result.stderr
    for line in lines:
        assert line.startswith("::error "), lines
        assert_one_annotation(line, "error")
    assert not any(line.startswith(("::add-mask::", "::error file=x.py")) for line in lines), lines
    # The hostile file is named, escaped, in a file= property.
    assert any(f"file={escape_github_property('ingestion/' + EVIL_NAME)}" in line for line in lines)
    assert not (tmp_path / "generated").exists()
