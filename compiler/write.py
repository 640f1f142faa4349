"""Stage 6: `gen` writes a compilation to disk; `check` compares it with what is there."""

from __future__ import annotations

import difflib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cascade.compiler.config import ProjectConfig

WRITER_THREADS = 4


def write_files(
    config: ProjectConfig, files: dict[str, str], existing: dict[str, str]
) -> list[str]:
    """Writes changed files, removes orphaned generated ones (of `existing`, the generated
    files on disk); returns the paths touched."""
    changed = [
        path
        for path, text in files.items()
        if not (config.root / path).is_file()
        or (config.root / path).read_text(encoding="utf-8") != text
    ]
    for folder in sorted({(config.root / path).parent for path in changed}):
        folder.mkdir(parents=True, exist_ok=True)
    # Creating a file costs the file system far more time than Python spends on it, so a
    # few threads write at once (a cold gen of 500 ingestions writes over a thousand files).
    with ThreadPoolExecutor(WRITER_THREADS) as pool:
        for _ in pool.map(
            lambda p: (config.root / p).write_text(files[p], encoding="utf-8"), changed
        ):
            pass
    touched = list(changed)
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
