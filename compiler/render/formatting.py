"""Formats rendered modules with the pinned ruff, isolated from any user configuration."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from ruff.__main__ import find_ruff_bin

from cascade.compiler.driver.cache import CompileCache, digest

RUFF_OPTIONS = ("--isolated", "--line-length", "100", "--target-version", "py311", "--quiet")


def format_python(files: dict[str, str], cache: CompileCache | None = None) -> dict[str, str]:
    """Formats every `.py` text in one ruff run (one process for the whole project is what
    keeps `cascade gen` fast); texts formatted before come from the cache."""
    keys = {path: format_key(text) for path, text in files.items()}
    done = {}
    if cache is not None:
        for path, key in keys.items():
            found = cache.formatted(key)
            if found is not None:
                done[path] = found
    pending = {path: text for path, text in files.items() if path not in done}
    formatted = run_ruff(pending) if pending else {}
    if cache is not None:
        for path, text in formatted.items():
            cache.store_formatted(keys[path], text)
    return {path: done[path] if path in done else formatted[path] for path in files}


def format_key(text: str) -> str:
    """The cache key of a rendered text's formatted version."""
    return digest(text)


# ruff formats files, not strings: the scratch copies go to memory where the system has it.
SCRATCH_FOLDER = (
    "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
)


def run_ruff(python: dict[str, str]) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="cascade-format-", dir=SCRATCH_FOLDER) as folder:
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
    return formatted
