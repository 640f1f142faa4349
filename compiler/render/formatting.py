"""Formats rendered modules with the pinned ruff, isolated from any user configuration."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from ruff.__main__ import find_ruff_bin

RUFF_OPTIONS = ("--isolated", "--line-length", "100", "--target-version", "py311", "--quiet")


def format_python(files: dict[str, str]) -> dict[str, str]:
    """Formats every `.py` text in one ruff run (one process for the whole project is what
    keeps `cascade gen` fast); other files pass through unchanged."""
    python = {path: text for path, text in files.items() if path.endswith(".py")}
    if not python:
        return dict(files)
    with tempfile.TemporaryDirectory(prefix="cascade-format-") as folder:
        root = Path(folder)
        for path, text in python.items():
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        result = subprocess.run(
            [find_ruff_bin(), "format", *RUFF_OPTIONS, "."],
            cwd=root,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            # Rendered code that does not parse is a bug in a renderer, never a user error.
            raise RuntimeError(f"ruff could not format the generated code:\n{result.stderr}")
        formatted = {path: (root / path).read_text(encoding="utf-8") for path in python}
    return {**files, **formatted}
