"""README.md's fenced blocks, found by section, and the means to run its shell blocks as a
newcomer would: in a checkout of the project with `.venv`, from the repository root.

A `bash` block is a script, run as written. A `console` block is a session: each `$ ` line is
a command, the lines up to the next one what it prints (stdout and stderr, in order), and a
`# exit N` comment on the command the status it ends with (0 when there is none)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import REPO_ROOT

README = REPO_ROOT / "README.md"
SHELL_LANGUAGES = frozenset({"bash", "sh", "shell", "console"})

_FENCE = re.compile(r"^( *)```(\S*)\s*$")
_HEADING = re.compile(r"^#{1,6} +(.+?)\s*$")
_EXIT = re.compile(r"\s+# exit (\d+)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: its info-string language (`""` for none), its text less the fence's
    indentation, the line of its opening fence, and the heading it is under."""

    language: str
    text: str
    line: int
    section: str

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0] if self.text else ""

    def where(self) -> str:
        return f"README.md:{self.line} ({self.section})"


def blocks(text: str | None = None) -> list[Block]:
    """Every fenced block of the README (or of `text`), in order."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    found: list[Block] = []
    section = ""
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        heading = _HEADING.match(lines[index])
        if heading:
            section = heading.group(1)
        if not fence:
            index += 1
            continue
        start = index
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            index += 1
        indent = len(fence.group(1))  # a block in a list item: its lines, less the fence's
        body = "\n".join(line[indent:] for line in lines[start + 1 : index])
        found.append(Block(fence.group(2), body + "\n", start + 1, section))
        index += 1
    return found


def shell_blocks() -> list[Block]:
    """The blocks a reader would type into a shell: those marked as shell, and unmarked ones
    that begin with a `$ ` prompt."""
    return [
        b
        for b in blocks()
        if b.language in SHELL_LANGUAGES or (not b.language and b.first_line.startswith("$ "))
    ]


def block(section: str, first_line: str, *, language: str | None = None) -> Block:
    """The one block under the heading `section` whose first line starts with `first_line`."""
    matches = [
        b
        for b in blocks()
        if b.section == section
        and b.first_line.startswith(first_line)
        and (language is None or b.language == language)
    ]
    assert len(matches) == 1, (
        f"README.md has {len(matches)} block(s) under {section!r} starting {first_line!r}"
    )
    return matches[0]


# -- a checkout to run them in -----------------------------------------------------------------


def checkout(target: Path) -> Path:
    """The project's files as git sees them in the working tree (tracked, and new files that
    are not ignored), copied to `target` with their times (so make finds `.venv` up to date),
    `.venv` linked to this one, and committed to a new git repository: a clone of the work in
    progress, in which commands may change anything."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(REPO_ROOT / ".venv")
    for command in (["init", "--quiet"], ["add", "--all"], ["commit", "--quiet", "-m", "x"]):
        subprocess.run(["git", *command], cwd=target, env=shell_env(target), check=True)
    return target


def shell_env(project: Path, home: Path | None = None, **extra: str) -> dict[str, str]:
    """A newcomer's environment in `project`: `.venv/bin` first on PATH (as after `source
    .venv/bin/activate`), a home of its own, no catalog or Dagster settings from this test run,
    a git identity, and unbuffered Python so stdout and stderr interleave as they are written."""
    home = home or project.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYICEBERG_", "DAGSTER_", "NIGHTSCOUT_", "GITHUB_API_", "VIRTUAL"))
    }
    env.update(
        PATH=os.pathsep.join([str(project / ".venv" / "bin"), env.get("PATH", "")]),
        HOME=str(home),
        PYTHONUNBUFFERED="1",
        GIT_AUTHOR_NAME="Cascade Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Cascade Test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    env.update(extra)
    return env


def run_script(
    script: str, project: Path, env: dict[str, str], *, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """A bash block run as written in `project`, stopping at the first failing command."""
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_session(session: Block, project: Path, env: dict[str, str]) -> None:
    """Runs each command of a `console` block and asserts it prints exactly the lines the
    README shows and ends with the status it states."""
    assert session.language == "console", session.where()
    steps: list[tuple[str, list[str]]] = []
    for line in session.text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"{session.where()}: output before the first command: {line!r}"
            steps[-1][1].append(line)
    for command, expected in steps:
        status = _EXIT.search(command)
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=600,
        )
        printed = [line.rstrip() for line in result.stdout.splitlines()]
        assert printed == expected, (
            f"{session.where()}: `{command}` printed:\n{result.stdout}\nthe README shows:\n"
            + "\n".join(expected)
        )
        assert result.returncode == (int(status.group(1)) if status else 0), (
            f"{session.where()}: `{command}` exited {result.returncode}:\n{result.stdout}"
        )
