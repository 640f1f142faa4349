"""Reading data files, writing new ones, and committing them: what a merge (`merge.py`) and a
compaction (`compaction.py`) share.

Both rewrite data files copy-on-write: they read the live rows of some files of the snapshot
they start from (`read_rows`), write new files without committing them (`FileWriter`, which
notes every file it begins so that an attempt that does not commit deletes them all), and then
commit ONE snapshot on a branch that removes the old files and adds the new ones
(`commit_files`). A merge commits an `overwrite` (rows changed); a compaction a `replace` (the
same rows in other files), validated against the commits that landed since it started so that
it never drops a concurrent merge's rows or brings back rows a merge replaced.
"""

import errno
import itertools
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar
from urllib.parse import unquote_plus

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io import FileIO, InputFile, OutputFile
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import FileScanTask, Table, TableProperties
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.table.snapshots import IsolationLevel, Operation
from pyiceberg.table.update.snapshot import ManageSnapshots
from pyiceberg.utils.concurrent import ExecutorFactory

from cascade.runtime.errors import BatchError
from cascade.runtime.pyiceberg_compat import (
    CachedMetadataTransaction,
    disable_commit_retries,
    keeping_null_lists,
    overwrite_files,
    replace_files,
    write_data_files,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def read_rows(table: Table, task: FileScanTask, schema: Schema) -> pa.Table:
    """The live rows of one data file (its delete files applied), projected on `schema`."""
    with keeping_null_lists():
        return ArrowScan(table.metadata, table.io, schema, AlwaysTrue()).to_table([task])


class FileWriter:
    """Writes new data files for one attempt of a merge or a compaction, and deletes them if it
    does not commit: every file it began, also one a write left half-written (a full disk),
    which would otherwise hold the space and make the next load fail too.

    With `target_file_size`, pyiceberg splits the rows of one call into files of about that
    many bytes of Arrow data (its `write.target-file-size-bytes`); without it, at the table's
    own setting."""

    def __init__(self, table: Table, target_file_size: int | None = None) -> None:
        self._table = table
        self._io = RecordingIO(table.io)
        self._uuid = uuid.uuid4()
        self._counter = itertools.count()
        self._target_file_size = target_file_size

    def __call__(self, rows: pa.Table) -> list[DataFile]:
        if not rows.num_rows:
            return []
        metadata = self._table.metadata
        if self._target_file_size is not None:
            properties = {
                **metadata.properties,
                TableProperties.WRITE_TARGET_FILE_SIZE_BYTES: str(self._target_file_size),
            }
            metadata = metadata.model_copy(update={"properties": properties})
        try:
            with keeping_null_lists():
                return write_data_files(metadata, rows, self._io, self._uuid, self._counter)
        except OSError as error:
            if error.errno != errno.ENAMETOOLONG:
                raise  # a full disk, a network: another attempt may succeed
            raise BatchError(_path_refused(self._io.began(), error)) from None

    def began(self) -> list[str]:
        return self._io.began()

    def delete_all(self) -> None:
        for location in self._io.began():
            try:
                self._table.io.delete(location)
            except FileNotFoundError:
                pass  # the write failed before the file was created
            except OSError as error:
                if error.errno != errno.ENAMETOOLONG:  # a name too long was never created
                    log.warning("Could not delete uncommitted data file %s", location)
            except Exception:  # best effort: an orphan file is harmless
                log.warning("Could not delete uncommitted data file %s", location)


def _path_refused(locations: list[str], error: OSError) -> str:
    """Why a file name was too long: pyiceberg names a partition's folder `column=value` (the
    value URL-quoted), so a long value of an identity-partitioned column makes a name the file
    system refuses (255 bytes on most local file systems). No retry changes that."""
    parts = [part for location in locations for part in location.split("/") if "=" in part]
    if not parts:
        return f"A data file's path is too long for the file system ({error}); nothing was written."
    column, _, value = max(parts, key=len).partition("=")
    value = unquote_plus(value)
    shown = repr(value if len(value) <= 60 else value[:57] + "...")
    return (
        f"{column}: a partition value of {len(value)} characters makes a folder name the file "
        f"system refuses ({os.strerror(errno.ENAMETOOLONG)}): {shown}; nothing was written. "
        "Partition by a transform that bounds its length (truncate[N], bucket[N]), or shorten "
        "the values."
    )


class RecordingIO(FileIO):
    """The table's FileIO, noting every file it is asked to write (pyiceberg writes a data
    file through `new_output`), so that a failed attempt can delete what it began."""

    def __init__(self, io: FileIO) -> None:
        super().__init__(io.properties)
        self._io = io
        self._locations: list[str] = []  # list.append holds the GIL: safe from worker threads

    def began(self) -> list[str]:
        return list(self._locations)

    def new_input(self, location: str) -> InputFile:
        return self._io.new_input(location)

    def new_output(self, location: str) -> OutputFile:
        self._locations.append(location)
        return self._io.new_output(location)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        self._io.delete(location)


def commit_files(
    table: Table,
    removed: list[DataFile],
    added: list[DataFile],
    *,
    branch: str = MAIN_BRANCH,
    replace: bool = False,
    predicate: BooleanExpression | None = None,
    create_branch_from: int | None = None,
) -> int:
    """Commit one snapshot on `branch` that removes `removed` and adds `added`; its id.

    The snapshot is based on the branch's head in `table` as it is (not refreshed): the state
    the caller read its files from. When another commit landed on the branch since, pyiceberg
    retries on the refreshed table after validating the commits in between:

    - an `overwrite` (a merge, `replace=False`) with `predicate`, the merge's key range: no
      concurrent snapshot may have added, deleted or rewritten data in it (serializable
      isolation, the table default), nor removed a file it removes;
    - a `replace` (a compaction, `replace=True`): no concurrent snapshot may have removed a
      file it removes, nor added deletes for one (`pyiceberg_compat.replace_files`).

    A conflict raises ValidationException, a lost race pyiceberg does not retry
    CommitFailedException; both guarantee that nothing landed. `create_branch_from` creates
    the branch from that snapshot in the same commit.
    """
    with CachedMetadataTransaction(table) as transaction:
        if create_branch_from is not None:
            ManageSnapshots(transaction).create_branch(create_branch_from, branch).commit()
        if replace:
            producer = replace_files(transaction, branch)
        else:
            producer = overwrite_files(transaction, branch)
        with producer:
            if predicate is not None:
                # The key range is the conflict filter pyiceberg validates concurrent commits
                # against, and it makes the overwrite look for the removed files' manifests.
                producer.delete_by_predicate(predicate)
            for file in removed:
                producer.delete_data_file(file)
            for file in added:
                producer.append_data_file(file)
        if create_branch_from is not None or (not replace and not _serializable(table)):
            # pyiceberg's retry would be wrong here: it rebuilds only the snapshot and drops the
            # staged branch creation (the branch would start empty), and below serializable
            # isolation it does not check for concurrently added rows with the batch's keys.
            # Fail instead, and the merge is redone on the refreshed table.
            disable_commit_retries(transaction)
    return producer.snapshot_id


def _serializable(table: Table) -> bool:
    return table.metadata.isolation_level(Operation.DELETE) == IsolationLevel.SERIALIZABLE


def parallel(
    function: Callable[[T], R], items: Iterable[T], pool: Executor | None = None
) -> list[R]:
    """`function` over `items` in threads: Parquet reads and writes release the GIL.

    Each worker holds one data file in memory. One worker per core keeps that to a few files
    while decoding and encoding (CPU-bound) use every core; on an object store, where reads
    wait on the network, pyiceberg's `max-workers` setting (PYICEBERG_MAX_WORKERS) raises it.
    `pool` (from `worker_pool`) runs them on threads that outlive the call: a caller that
    calls again and again, such as a merge for each chunk, reuses its threads, where new ones
    would each leave Arrow's allocator (mimalloc) some memory it keeps.
    """
    items = list(items)
    if pool is not None and len(items) > 1:
        return list(pool.map(function, items))
    workers = min(len(items), _workers())
    if workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as new_pool:
        return list(new_pool.map(function, items))


@contextmanager
def worker_pool() -> Iterator[Executor | None]:
    """Threads for `parallel` to reuse, one per worker; None for a single worker."""
    workers = _workers()
    if workers <= 1:
        yield None
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield pool


def _workers() -> int:
    return ExecutorFactory.max_workers() or os.cpu_count() or 1
