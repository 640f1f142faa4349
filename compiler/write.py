"""Stage 6: `gen` writes a compilation to disk; `check` compares it with what is there."""

from __future__ import annotations

import difflib
from pathlib import Path

from cascade.compiler.config import ProjectConfig


def write_files(
    config: ProjectConfig, files: dict[str, str], existing: dict[str, str]
) -> list[str]:
    """Writes changed files, removes orphaned generated ones (of `existing`, the generated
    files on disk); returns the paths touched."""
    touched = []
    for path, text in files.items():
        target = config.root / path
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            touched.append(path)
    for path in sorted(set(existing) - set(files)):
        target = config.root / path
        target.unlink()
        touched.append(path)
        remove_empty_parents(target.parent, config.root / config.out)
    return touched


def remove_empty_parents(folder: Path, stop: Path) -> None:
    while (
        folder != stop
        and folder.is_dir()
        and not any(p for p in folder.iterdir() if p.name != "__pycache__")
    ):
        for cache in folder.glob("__pycache__"):
            for item in cache.iterdir():
                item.unlink()
            cache.rmdir()
        folder.rmdir()
        folder = folder.parent


def stale_diff(config: ProjectConfig, files: dict[str, str], existing: dict[str, str]) -> str:
    """A unified diff from what is on disk (`existing`, the generated files found there) to
    what `gen` would write; empty when fresh."""
    chunks = []
    for path in sorted(set(existing) | set(files)):
        old = existing.get(path)
        if old is None and (config.root / path).is_file():
            old = (config.root / path).read_text(encoding="utf-8")
        new = files.get(path)
        if old == new:
            continue
        chunks.extend(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=f"a/{path}" if old is not None else "/dev/null",
                tofile=f"b/{path}" if new is not None else "/dev/null",
            )
        )
    return "".join(chunks)
