"""Compaction: the small data files of each partition rewritten into files of a target size,
sorted on the unique key, in one `replace` snapshot on main.

Every merge writes the rows with new keys of a partition into a new file, so a partition
loaded many times (the partition in progress, loaded at each cron tick) ends as many small
files, which every reader and every later merge opens one by one. Compaction puts them back
together:

1. plan, on main's current snapshot: the data files grouped by partition (partition spec and
   partition value); in each group, the "small" files (smaller than `SMALL_FILE_FRACTION` of the
   target size, with fewer rows than that share of the row cap) are rewritten when there are
   at least two of them. Files with delete files (written by other tools; Cascade writes none)
   are left as they are. A group larger than `GROUP_TARGETS` target sizes is cut into several
   rewrites (in the order of their keys), so that memory holds at most that much at once;
2. read each rewrite's files (`data_files.read_rows`: values exactly as stored, null lists of
   structs kept), sort the rows on the unique key, and write them as
   `max(1, bytes // target size, rows // row cap)` files of consecutive keys, each holding
   about a target size or a row cap (`DEFAULT_MAX_FILE_ROWS` says why rows count), so each new
   file covers a narrow key range and later merges prune well (`file_pruning`); the files are
   written under the table's current partition spec (a file of an earlier spec is rewritten
   into the current one, as a merge rewrites it too);
3. commit ONE `replace` snapshot on main that removes the rewritten files and adds the new
   ones (`data_files.commit_files`). Rows and values are unchanged, so readers see the same
   table before and after.

Concurrency: the snapshot is based on the one planned from. A merge that lands meanwhile makes
the commit lose its race; pyiceberg then validates the snapshots in between and commits on top
of them only if none removed a file the compaction removes
(`pyiceberg_compat.replace_files`). If one did (the merge rewrote a file being compacted),
the new files are deleted and the compaction is redone on the refreshed table, up to
`MAX_ATTEMPTS` times, and then refused (`CompactionConflict`): a merge's rows are never dropped
and rows it replaced never come back. A merge that planned before the compaction landed and
commits after it is redone by the merge itself (its key range lost files it read).

Crash safety: the new files are written before the commit, and the commit is the catalog's
atomic swap of the metadata pointer, so a process killed at any moment leaves the old snapshot
or the new one. What a killed attempt had written stays unreferenced: orphan-file removal
(`upkeep.remove_orphan_files`) deletes it once it is older than its safety window.

Only main is compacted: a branch is a trial of loads, published to main or dropped. Its files
stay referenced by its own snapshots.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.conversions import from_bytes
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table, TableProperties
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.types import NestedField, PrimitiveType

from cascade.runtime.data_files import FileWriter, commit_files, parallel, read_rows
from cascade.runtime.manifest_cache import reading_once

log = logging.getLogger(__name__)

# The target size of a compacted file when neither the caller nor the table's
# `write.target-file-size-bytes` sets one.
DEFAULT_TARGET_FILE_SIZE = 128 * 1024 * 1024
# The rows of a compacted file when neither the caller sets fewer nor the target size is
# reached first. A merge copies on write: it rewrites each file holding a key it updates, so the
# rows of a file are what a merge that updates one of them pays for. Files of the target size
# alone hold more rows the better the columns compress (merge.py's rows: 128 MB is 18M rows),
# and compacting a table into such files made its daily merge 7x slower at 10M rows
# (tests/bench/upkeep.py). With this cap, a compacted file holds from 500,000 rows up to (not
# including) a million, unless its partition holds fewer. In that benchmark, a compacted
# table's daily merge then costs about the same at 1M and 10M rows (1.13x), and the next day's
# merge after upkeep as much as before it; a cap of 1M rows made that merge 1.4x slower (it
# rewrote a million-row file where the fragmented table had small ones), a cap of 250,000 rows
# made it 2x faster at four times the files, and 10M against 1M rows 1.17x.
DEFAULT_MAX_FILE_ROWS = 500_000
# A file smaller than this share of the target size, and with fewer than this share of the
# row cap, is small (Iceberg's Java compaction: 75 % of the target size).
SMALL_FILE_FRACTION = 0.75
# One rewrite reads at most this many target sizes of small files (on disk) into memory.
GROUP_TARGETS = 8
# Attempts of a compaction whose commit found a concurrent merge in its files.
MAX_ATTEMPTS = 3


class CompactionRefused(ValueError):
    """The table cannot be compacted as it is: it lacks a column of the unique key the rows are
    sorted on (a load, or `cascade apply`, evolves it to the generated schema first)."""


class CompactionConflict(Exception):
    """Concurrent merges kept rewriting the files a compaction was rewriting; nothing of the
    compaction landed (run it again later)."""


@dataclass(frozen=True)
class CompactionResult:
    """What a compaction did, or would do (`dry_run`).

    `target_file_size`/`max_file_rows`: the size and row cap of a compacted file.
    `files_before`/`bytes_before`: main's data files when planned; `files_after`/
    `bytes_after`: at the committed snapshot (a dry run: planned, with the rewritten bytes
    counted unchanged). `partitions`: partitions whose files were rewritten; `files_rewritten`
    / `bytes_rewritten`: the small files removed; `files_written`/`bytes_written`: the files
    that replace them (a dry run: the files it would write, and 0 bytes). `snapshot_id`: the
    `replace` snapshot, None when nothing was committed. `attempts`: 1, or more when a
    concurrent merge made it start again.
    """

    target_file_size: int
    max_file_rows: int
    files_before: int
    bytes_before: int
    files_after: int
    bytes_after: int
    partitions: int = 0
    files_rewritten: int = 0
    bytes_rewritten: int = 0
    files_written: int = 0
    bytes_written: int = 0
    snapshot_id: int | None = None
    attempts: int = 0
    dry_run: bool = False


@dataclass(frozen=True)
class _Rewrite:
    """Small files of one partition, rewritten together into `outputs` files."""

    tasks: tuple[FileScanTask, ...]
    outputs: int


@dataclass(frozen=True)
class _Target:
    """What a compacted file holds: about `bytes` bytes, or `rows` rows where that comes
    first."""

    bytes: int
    rows: int

    def small(self, file: DataFile) -> bool:
        return (
            file.file_size_in_bytes < SMALL_FILE_FRACTION * self.bytes
            and file.record_count < SMALL_FILE_FRACTION * self.rows
        )


def target_file_size(table: Table, requested: int | None = None) -> int:
    """The target size of compacted files: `requested`, else the table's
    `write.target-file-size-bytes` property when it is set, else DEFAULT_TARGET_FILE_SIZE."""
    if requested is not None:
        return requested
    configured = table.metadata.properties.get(TableProperties.WRITE_TARGET_FILE_SIZE_BYTES)
    return int(configured) if configured else DEFAULT_TARGET_FILE_SIZE


def compact_table(
    table: Table,
    unique_key: Sequence[str],
    *,
    target_size: int | None = None,
    max_file_rows: int | None = None,
    dry_run: bool = False,
) -> CompactionResult:
    """Rewrite the small files of each partition of main into files of about `target_size`
    bytes, or of `max_file_rows` rows (to under twice that; None: DEFAULT_MAX_FILE_ROWS, which
    says why) where that comes first, sorted on `unique_key`, in one `replace` snapshot (module
    docstring). `table` is refreshed when a concurrent merge makes the compaction start again.
    Raises ValueError for a `max_file_rows` below 1."""
    rows = DEFAULT_MAX_FILE_ROWS if max_file_rows is None else max_file_rows
    if rows < 1:
        raise ValueError(f"max_file_rows must be at least 1, got {rows}")
    target = _Target(target_file_size(table, target_size), rows)
    columns = {field.name for field in table.schema().fields}
    missing = [name for name in unique_key if name not in columns]
    if not unique_key or missing:
        raise CompactionRefused(
            f"{'.'.join(table.name())} has no column {', '.join(missing)} of its unique key; "
            "a load (or `cascade apply`) evolves it to the generated schema first"
            if missing
            else "compaction sorts on the unique key: name its columns"
        )
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with reading_once():
                return _compact_once(table, unique_key, target, dry_run, attempt)
        except (CommitFailedException, ValidationException) as conflict:
            if attempt == MAX_ATTEMPTS:
                raise CompactionConflict(
                    f"{'.'.join(table.name())}: concurrent loads rewrote the files being "
                    f"compacted {MAX_ATTEMPTS} times in a row; nothing was compacted, run it "
                    f"again later ({conflict})"
                ) from conflict
            log.warning(
                "Compaction of %s conflicted with a concurrent commit (%s); redoing it on the "
                "refreshed table (attempt %d of %d)",
                ".".join(table.name()),
                conflict,
                attempt + 1,
                MAX_ATTEMPTS,
            )
            table.refresh()
    raise AssertionError("unreachable")


def _compact_once(
    table: Table, unique_key: Sequence[str], target: _Target, dry_run: bool, attempt: int
) -> CompactionResult:
    base = table.metadata.current_snapshot_id
    sizes = (target.bytes, target.rows)
    if base is None:
        return CompactionResult(*sizes, 0, 0, 0, 0, attempts=attempt, dry_run=dry_run)
    tasks = list(table.scan(snapshot_id=base).plan_files())
    files_before = len(tasks)
    bytes_before = sum(task.file.file_size_in_bytes for task in tasks)
    rewrites = _plan(table, tasks, unique_key, target)
    removed = [task.file for rewrite in rewrites for task in rewrite.tasks]
    bytes_rewritten = sum(file.file_size_in_bytes for file in removed)
    partitions = len({(f.spec_id, f.partition) for f in removed})
    planned = sum(rewrite.outputs for rewrite in rewrites)
    if dry_run or not rewrites:
        return CompactionResult(
            *sizes,
            files_before,
            bytes_before,
            files_before - len(removed) + planned,
            bytes_before,
            partitions=partitions,
            files_rewritten=len(removed),
            bytes_rewritten=bytes_rewritten,
            files_written=planned,
            attempts=attempt,
            dry_run=dry_run,
        )

    # Each rewritten slice becomes one file per partition: pyiceberg must not split it further.
    write = FileWriter(table, target_file_size=2**62)
    try:
        added = [
            file for rewrite in rewrites for file in _rewrite(table, rewrite, unique_key, write)
        ]
    except BaseException:
        write.delete_all()
        raise
    try:
        # `table` is still at `base` (nothing refreshed it): the snapshot is based on it, so
        # pyiceberg validates every commit that landed since.
        assert table.metadata.current_snapshot_id == base
        snapshot_id = commit_files(table, removed, added, branch=MAIN_BRANCH, replace=True)
    except (CommitFailedException, ValidationException):
        # Both guarantee that the commit did not land. After any other error the outcome may
        # be unknown and the files referenced by the table: they stay.
        write.delete_all()
        raise
    summary = table.metadata.snapshot_by_id(snapshot_id)
    totals = summary.summary if summary is not None and summary.summary is not None else {}
    bytes_written = sum(file.file_size_in_bytes for file in added)
    return CompactionResult(
        *sizes,
        files_before,
        bytes_before,
        int(totals.get("total-data-files") or files_before - len(removed) + len(added)),
        int(totals.get("total-files-size") or bytes_before - bytes_rewritten + bytes_written),
        partitions=partitions,
        files_rewritten=len(removed),
        bytes_rewritten=bytes_rewritten,
        files_written=len(added),
        bytes_written=bytes_written,
        snapshot_id=snapshot_id,
        attempts=attempt,
    )


def _plan(
    table: Table, tasks: list[FileScanTask], unique_key: Sequence[str], target: _Target
) -> list[_Rewrite]:
    """The rewrites: per partition, its small files when there are two or more, cut into runs
    of at most GROUP_TARGETS target sizes in the order of their smallest key."""
    groups: dict[tuple[int, object], list[FileScanTask]] = {}
    for task in tasks:
        if task.delete_files or not target.small(task.file):
            continue
        groups.setdefault((task.file.spec_id, task.file.partition), []).append(task)
    first_key = table.schema().find_field(unique_key[0])
    rewrites: list[_Rewrite] = []
    for _, small in sorted(groups.items(), key=lambda item: repr(item[0])):
        if len(small) < 2:
            continue
        small.sort(key=lambda task: _lower_bound(task.file, first_key))
        run: list[FileScanTask] = []
        run_bytes = 0
        for task in small:
            size = task.file.file_size_in_bytes
            if run and run_bytes + size > GROUP_TARGETS * target.bytes:
                rewrites.append(_rewrite_of(run, target))
                run, run_bytes = [], 0
            run.append(task)
            run_bytes += size
        if len(run) >= 2:  # a file left alone at the end of a cut stays as it is
            rewrites.append(_rewrite_of(run, target))
    return rewrites


def _rewrite_of(tasks: list[FileScanTask], target: _Target) -> _Rewrite:
    size = sum(task.file.file_size_in_bytes for task in tasks)
    rows = sum(task.file.record_count for task in tasks)
    # Whole targets: every file written holds at least one target size or one row cap
    # (unless all of it is less), so a second compaction finds nothing small to do.
    return _Rewrite(tuple(tasks), max(1, size // target.bytes, rows // target.rows))


def _lower_bound(file: DataFile, field: NestedField) -> tuple[int, Any]:
    """A sort key for the file's smallest value of the first key column: files without a
    bound first, then by the decoded bound (bytes compare wrongly for little-endian ints)."""
    bound = (file.lower_bounds or {}).get(field.field_id)
    if bound is None or not isinstance(field.field_type, PrimitiveType):
        return (0, b"")
    try:
        return (1, from_bytes(field.field_type, bound))
    except Exception:  # a bound that does not decode: the order is only a locality hint
        return (0, b"")


def _rewrite(
    table: Table, rewrite: _Rewrite, unique_key: Sequence[str], write: FileWriter
) -> list[DataFile]:
    """The rows of the rewrite's files, sorted on the unique key, written as `outputs` files of
    consecutive keys."""
    schema = table.schema()
    arrow_schema = schema.as_arrow()
    parts = parallel(lambda task: read_rows(table, task, schema).cast(arrow_schema), rewrite.tasks)
    rows = pa.concat_tables(parts)
    order = pc.sort_indices(rows, sort_keys=[(name, "ascending") for name in unique_key])
    rows = rows.take(order)
    edges = np.linspace(0, rows.num_rows, rewrite.outputs + 1).astype(int)
    slices = [rows.slice(start, stop - start) for start, stop in itertools.pairwise(edges)]
    return [file for files in parallel(write, slices) for file in files]
