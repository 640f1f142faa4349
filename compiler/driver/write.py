"""Stage 6: `gen` writes a compilation to disk; `check` compares it with what is there."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from pathlib import Path, PurePosixPath

from cascade.compiler.config import ProjectConfig, is_generated
from cascade.compiler.diagnostics import Diagnostic, Span

WRITER_THREADS = 4


def user_files_in_the_way(
    config: ProjectConfig, files: dict[str, str], generated: Collection[str] = ()
) -> list[Diagnostic]:
    """Each file (or folder) at a path `gen` would write that `gen` did not write itself: it
    only ever replaces files that carry its header. `generated`: paths just found to hold a
    file gen wrote (read_out_folder), which need no second look."""
    problems = []
    not_folders: dict[Path, bool] = {}  # a folder path -> whether something else is there

    def in_the_way(folder: Path) -> bool:
        if folder not in not_folders:
            not_folders[folder] = folder.exists() and not folder.is_dir()
        return not_folders[folder]

    for path in sorted(files):
        if path in generated:
            continue
        target = config.root / path
        folders = [config.root / f for f in PurePosixPath(path).parents if f.name]
        blocker = next((f for f in folders if in_the_way(f)), None)
        if blocker is None and target.is_dir():
            blocker = target
        if blocker is not None:
            relative = blocker.relative_to(config.root).as_posix()
            problems.append(
                Diagnostic(
                    Span(relative),
                    f"{relative} is in the way of the files cascade gen writes",
                    f"move it out of {config.out}/: gen writes only files of its own there",
                )
            )
        elif target.exists() and not is_generated(target):
            problems.append(
                Diagnostic(
                    Span(path),
                    f"{path} was not written by cascade gen (it has no generated header): "
                    "gen will not overwrite it",
                    f"move your file out of {config.out}/ (or delete it if it is an old "
                    "generated file) and run cascade gen again",
                )
            )
    return sorted(set(problems))


def write_files(
    config: ProjectConfig, files: dict[str, str], existing: dict[str, str]
) -> list[str]:
    """Writes changed files, removes orphaned generated ones (of `existing`, the generated
    files on disk); returns the paths touched."""
    # Only ever files gen wrote: compile_project refused the others (user_files_in_the_way),
    # and a file that appeared since is still left alone.
    changed = [
        path
        for path, text in files.items()
        if not (config.root / path).exists()
        or (
            is_generated(config.root / path)
            and (config.root / path).read_text(encoding="utf-8") != text
        )
    ]
    for folder in sorted({(config.root / path).parent for path in changed}):
        folder.mkdir(parents=True, exist_ok=True)
    # Creating a file costs the file system far more time than Python spends on it, so a
    # few threads write at once (a cold gen of 500 ingestions writes over a thousand files).
    from concurrent.futures import ThreadPoolExecutor  # imports logging: for gen only

    with ThreadPoolExecutor(WRITER_THREADS) as pool:
        for _ in pool.map(
            lambda p: (config.root / p).write_text(files[p], encoding="utf-8"), changed
        ):
            pass
    touched = list(changed)
    for path in sorted(set(existing) - set(files)):
        target = config.root / path
        if not is_generated(target):
            continue
        target.unlink()
        touched.append(path)
        remove_empty_parents(target.parent, config.root / config.out)
    return touched


def remove_empty_parents(folder: Path, stop: Path) -> None:
    """Remove the folders that removing orphaned files left empty, up to `stop`. Python's
    bytecode cache goes with them when it holds only bytecode; nothing is followed through a
    symbolic link, and a folder holding anything else stays."""
    while folder != stop and folder.is_dir() and not folder.is_symlink():
        entries = list(folder.iterdir())
        cache = folder / "__pycache__"
        if any(entry != cache for entry in entries):
            return
        if cache in entries:
            if cache.is_symlink() or not cache.is_dir():
                return
            compiled = list(cache.iterdir())
            if any(p.is_symlink() or not p.is_file() or p.suffix != ".pyc" for p in compiled):
                return
            for item in compiled:
                item.unlink()
            cache.rmdir()
        folder.rmdir()
        folder = folder.parent


def stale_diff(config: ProjectConfig, files: dict[str, str], existing: dict[str, str]) -> str:
    """A unified diff from what is on disk (`existing`, the generated files found there) to
    what `gen` would write; empty when fresh."""
    chunks: list[str] = []
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
