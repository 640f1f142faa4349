"""Merge a batch into an Iceberg table on its unique key, in one atomic commit.

A merge is a copy-on-write rewrite of only the data files that hold a batch key:
1. plan: the files whose key ranges can hold a batch key (`file_pruning`);
2. probe: read their key columns, keep the files that really hold one;
3. rewrite each of those files: its rows minus the replaced ones, plus the batch rows that
   replace them, so that a file keeps its key range and later merges can still prune; batch
   rows with new keys go to new files. The replaced rows, read anyway, are compared with the
   batch rows replacing them, to count which keys' values changed;
4. commit ONE overwrite snapshot that removes the rewritten files and adds the new ones.

The batch is sorted on the key and read in chunks of disjoint, ascending key ranges: one chunk
for a batch in memory, several for a big batch on disk (`SortedSpill`, chunking.py), so that
a merge holds a chunk at a time. Steps 2 and 3 then run for each chunk: its candidate files
are probed, its new rows written, and each file that holds batch keys is rewritten after the
last chunk that can reach it (`file_pruning.last_chunks`), with the batch rows it needs read
back from the chunks they are in; step 4 comes once, after the last chunk.

So the cost follows the touched files, not the table, but for reading the table's manifests to
plan, which happens once (`manifest_cache`: pyiceberg's commit would read them twice more).
Concurrency: pyiceberg retries a commit that lost a race after validating that no concurrent
snapshot added, deleted or rewrote data in the batch's key range (serializable isolation, the
table default); when validation finds a conflict, the merge is redone against the refreshed
table. A compaction's `replace` snapshot in between (`compaction.py`) adds no rows, but it
removed files: if any were in the batch's key range, the merge is redone on the compacted files.
Reading, writing and committing files are shared with compaction (`data_files.py`).
"""

import dataclasses
import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.refs import MAIN_BRANCH

from cascade.runtime.contract import METADATA_COLUMN_NAMES
from cascade.runtime.data_files import FileWriter, commit_files, parallel, read_rows, worker_pool
from cascade.runtime.errors import BranchError
from cascade.runtime.file_pruning import Candidate, candidates_in, last_chunks, planned_files
from cascade.runtime.keys import key_mask, key_positions, key_range_filter
from cascade.runtime.manifest_cache import reading_once
from cascade.runtime.pyiceberg_compat import check_arrow_schema
from cascade.runtime.row_equality import same_rows
from cascade.runtime.spill import SortedSpill

log = logging.getLogger(__name__)

# Attempts of the whole merge; each commit attempt also gets pyiceberg's own retries.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class MergeOutcome:
    """What a merge did. Each batch row is inserted, updated or unchanged (the three add up to
    the batch's rows), and the table's row count grows by `rows_inserted - rows_deleted`.

    - `rows_inserted`: batch rows with a key the table did not hold;
    - `rows_updated`: batch rows with a key the table held, where some data column differs;
    - `rows_unchanged`: batch rows equal, in every data column, to what the table held under
      their key (`row_equality`); Cascade's and dlt's metadata columns (`_dlt_load_id`,
      `_dlt_id`, `_cascade_ingested_at`) are not compared. Such rows are still rewritten, so
      the metadata columns tell the latest load that delivered them;
    - `rows_deleted`: rows gone from the table: the extra copies of a key the table held more
      than once (a batch row replaces them all). 0 in a table only Cascade writes.
    """

    rows_inserted: int
    rows_updated: int
    rows_unchanged: int
    rows_deleted: int
    snapshot_id: int
    # Files whose key columns were read, files replaced by a rewrite, files written.
    files_scanned: int = 0
    files_rewritten: int = 0
    files_added: int = 0
    # What became of each batch row, in the batch's order (a SortedSpill's: sorted on the key):
    # INSERTED, UPDATED or UNCHANGED.
    row_outcomes: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=np.int8), compare=False, repr=False
    )


# The values of MergeOutcome.row_outcomes.
INSERTED, UPDATED, UNCHANGED = 0, 1, 2


def merge_batch(
    table: Table,
    batch: pa.Table | SortedSpill,
    unique_key: Sequence[str],
    branch: str = MAIN_BRANCH,
) -> MergeOutcome:
    """Replace the rows whose key is in `batch` and insert the rest, on `branch`.

    `batch` must hold each key once, with no null key: a table in memory, or a big batch
    sorted on the key on disk (`SortedSpill`, chunking.py), which is merged a chunk at a time.
    The merge is one snapshot in one commit, so readers see either the table before or after
    the whole merge, and merging the same batch again leaves the same rows. A branch that does
    not exist yet is created from main's current snapshot in the same commit. `table` is
    refreshed when a concurrent commit forces the merge to be redone.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with reading_once():
                if isinstance(batch, SortedSpill):
                    return _merge_once(table, _Spilled(batch, table), unique_key, branch)
                in_memory = _InMemory(batch, table, unique_key)
                outcome = _merge_once(table, in_memory, unique_key, branch)
                # Back in the order the batch came in.
                row_outcomes = np.empty_like(outcome.row_outcomes)
                row_outcomes[in_memory.order.to_numpy()] = outcome.row_outcomes
                return dataclasses.replace(outcome, row_outcomes=row_outcomes)
        except (CommitFailedException, ValidationException) as conflict:
            if attempt == MAX_ATTEMPTS:
                raise
            log.warning(
                "Merge into %s@%s conflicted with a concurrent commit (%s); redoing it on the "
                "refreshed table (attempt %d of %d)",
                ".".join(table.name()),
                branch,
                conflict,
                attempt + 1,
                MAX_ATTEMPTS,
            )
            table.refresh()
    raise AssertionError("unreachable")


class _Sorted(Protocol):
    """A batch sorted on the unique key, with the table's columns, in chunks of disjoint,
    ascending key ranges."""

    schema: pa.Schema
    num_rows: int
    key_bounds: pa.Table  # rows whose smallest and largest value per key column are the batch's
    chunk_lows: pa.Table  # each chunk's smallest key, a row per chunk

    def chunks(self) -> Iterator[tuple[int, pa.Table]]:
        """Each chunk with the position of its first row, one at a time."""
        ...

    def rows(self, positions: np.ndarray, chunk: tuple[int, pa.Table]) -> pa.Table:
        """The rows at `positions` (ascending), taking those in `chunk` (the current one)
        from it."""
        ...


class _InMemory:
    """A batch in memory: one chunk."""

    def __init__(self, batch: pa.Table, table: Table, unique_key: Sequence[str]) -> None:
        batch = _conform(batch, table)
        # Sorted on the key, so that each file's bounds select a slice of it (`file_pruning`).
        self.order = pc.sort_indices(batch, sort_keys=[(n, "ascending") for n in unique_key])
        self.batch = batch.take(self.order)
        self.schema = self.batch.schema
        self.num_rows = self.batch.num_rows
        self.key_bounds = self.batch.select(list(unique_key))
        self.chunk_lows = self.key_bounds.slice(0, 1)

    def chunks(self) -> Iterator[tuple[int, pa.Table]]:
        yield 0, self.batch

    def rows(self, positions: np.ndarray, chunk: tuple[int, pa.Table]) -> pa.Table:
        return self.batch.take(positions)


class _Spilled:
    """A `SortedSpill`, read a chunk at a time and conformed to the table as it is read."""

    def __init__(self, spill: SortedSpill, table: Table) -> None:
        self.spill = spill
        self.table = table
        self.schema = table.schema().as_arrow()
        self.num_rows = spill.num_rows
        self.key_bounds = spill.key_bounds
        self.chunk_lows = spill.key_bounds.take(np.arange(0, spill.key_bounds.num_rows, 2))
        check_arrow_schema(table.schema(), spill.schema, table.format_version)

    def chunks(self) -> Iterator[tuple[int, pa.Table]]:
        offsets = self.spill.chunk_offsets()
        for offset, rows in zip(offsets, self.spill.chunks(), strict=False):
            yield int(offset), _conform(rows, self.table)

    def rows(self, positions: np.ndarray, chunk: tuple[int, pa.Table]) -> pa.Table:
        offset, rows = chunk
        before = positions[positions < offset]
        inside = rows.take(positions[len(before) :] - offset)
        if not len(before):
            return inside
        return pa.concat_tables([_conform(self.spill.take(before), self.table), inside])


@dataclass
class _Touched:
    """A file that holds batch keys: what its rewrite needs, gathered over the chunks."""

    task: FileScanTask
    matched: list[np.ndarray] = field(default_factory=list)  # the batch rows it holds
    owned: list[np.ndarray] = field(default_factory=list)  # of those, the rows it writes


def _merge_once(
    table: Table, batch: _Sorted, unique_key: Sequence[str], branch: str
) -> MergeOutcome:
    refs = table.metadata.refs
    main_snapshot_id = table.metadata.current_snapshot_id
    creates_branch = branch != MAIN_BRANCH and branch not in refs
    if creates_branch and main_snapshot_id is None:
        raise BranchError(
            f"Cannot create branch {branch!r} of {'.'.join(table.name())}: main has no "
            "snapshot yet, and a branch starts from main's current snapshot. Load main first."
        )
    base = refs[branch].snapshot_id if branch in refs else main_snapshot_id

    schema = table.schema()
    names = list(unique_key)
    key_schema = schema.select(*names)
    tasks = []
    if base is not None and batch.num_rows:
        tasks = planned_files(table, base, batch.key_bounds, unique_key)
    # After its last chunk, a file's rewrite has every batch row it needs.
    last_chunk = last_chunks(table, tasks, batch.chunk_lows, unique_key) if tasks else []
    compared = [
        name
        for name in batch.schema.names
        if name not in names and name not in METADATA_COLUMN_NAMES
    ]

    # What became of each batch row, in the batch's (sorted) order.
    outcomes = np.full(batch.num_rows, INSERTED, dtype=np.int8)
    touched: dict[int, _Touched] = {}
    scanned: set[int] = set()
    rows_replaced = 0
    removed: list[DataFile] = []
    added: list[DataFile] = []
    write = FileWriter(table)
    try:
        with worker_pool() as pool:
            for index, chunk in enumerate(batch.chunks()):
                offset, rows = chunk
                keys = rows.select(names)
                candidates = candidates_in(table, tasks, keys, unique_key) if tasks else []
                scanned.update(task for task, _ in candidates)
                probe = functools.partial(
                    _probe, table, key_schema=key_schema, keys=keys, unique_key=unique_key
                )
                probes = parallel(probe, [candidate for _, candidate in candidates], pool)
                # A batch row replaces its key in every file that holds it, but is written once,
                # into the first of those files.
                owned = np.zeros(rows.num_rows, dtype=bool)
                for (task, _), (matched, file_rows) in zip(candidates, probes, strict=True):
                    if file_rows:
                        rows_replaced += file_rows
                        state = touched.setdefault(task, _Touched(tasks[task]))
                        mine = matched[~owned[matched]]
                        owned[mine] = True
                        state.matched.append(offset + matched)
                        state.owned.append(offset + mine)
                outcomes[offset + np.flatnonzero(owned)] = UNCHANGED
                added += write(rows.filter(pa.array(~owned)))
                done = [task for task in touched if last_chunk[task] <= index]
                rewrite = functools.partial(
                    _rewrite,
                    table,
                    batch=batch,
                    chunk=chunk,
                    compared=compared,
                    unique_key=unique_key,
                    write=write,
                )
                rewritten = parallel(rewrite, [touched[task] for task in done], pool)
                for task, (files, changed) in zip(done, rewritten, strict=True):
                    added += files
                    removed.append(tasks[task].file)
                    outcomes[changed] = UPDATED
                    del touched[task]
        assert not touched, "every touched file is rewritten after its last chunk"
    except BaseException:
        write.delete_all()
        raise
    predicate = key_range_filter(batch.key_bounds, unique_key) if batch.num_rows else None
    try:
        snapshot_id = commit_files(
            table,
            removed,
            added,
            branch=branch,
            predicate=predicate,
            create_branch_from=main_snapshot_id if creates_branch else None,
        )
    except (CommitFailedException, ValidationException):
        # Both guarantee that the commit did not land. After any other error the outcome may
        # be unknown and the files referenced by the table: they stay.
        write.delete_all()
        raise

    # A key held twice counts once, as changed if either copy differs from the batch row.
    rows_inserted = int(np.count_nonzero(outcomes == INSERTED))
    rows_updated = int(np.count_nonzero(outcomes == UPDATED))
    rows_existing = batch.num_rows - rows_inserted
    return MergeOutcome(
        rows_inserted=rows_inserted,
        rows_updated=rows_updated,
        rows_unchanged=rows_existing - rows_updated,
        rows_deleted=rows_replaced - rows_existing,
        snapshot_id=snapshot_id,
        files_scanned=len(scanned),
        files_rewritten=len(removed),
        files_added=len(added),
        row_outcomes=outcomes,
    )


def _conform(batch: pa.Table, table: Table) -> pa.Table:
    """The batch with the table's columns, in the table's order and Arrow types.

    pyiceberg's own check refuses what `Table.append` refuses (an unknown column, a type that
    does not fit, a missing required column); a missing optional column becomes nulls.
    """
    check_arrow_schema(table.schema(), batch.schema, table.format_version)
    target = table.schema().as_arrow()
    columns = [
        batch.column(field.name).cast(field.type)
        if field.name in batch.column_names
        else pa.nulls(batch.num_rows, field.type)
        for field in target
    ]
    return pa.Table.from_arrays(columns, schema=target)


def _probe(
    table: Table,
    candidate: Candidate,
    key_schema: Schema,
    keys: pa.Table,
    unique_key: Sequence[str],
) -> tuple[np.ndarray, int]:
    """The batch rows whose key the file holds, and how many of the file's rows hold one."""
    file_keys = read_rows(table, candidate.task, key_schema)
    window = keys.slice(candidate.start, candidate.stop - candidate.start)
    in_batch = key_mask(file_keys, window, unique_key)
    file_rows = int(np.count_nonzero(in_batch))
    if not file_rows:
        return np.empty(0, dtype=np.int64), 0
    in_file = key_mask(window, file_keys.filter(in_batch), unique_key)
    return candidate.start + np.flatnonzero(in_file), file_rows


def _rewrite(
    table: Table,
    touched: _Touched,
    batch: _Sorted,
    chunk: tuple[int, pa.Table],
    compared: Sequence[str],
    unique_key: Sequence[str],
    write: FileWriter,
) -> tuple[list[DataFile], np.ndarray]:
    """Write the file's rows whose key is not in the batch, plus the batch rows it owns
    replacing the others; and the positions of the batch rows whose replaced row here differs
    from them in a `compared` column."""
    rows = read_rows(table, touched.task, table.schema()).cast(batch.schema)
    matched = np.concatenate(touched.matched)
    new = batch.rows(matched, chunk)
    positions = key_positions(rows, new.select(list(unique_key)), unique_key)
    replaced = positions >= 0
    kept = rows.filter(pa.array(~replaced))
    hits = positions[replaced]
    old = rows.filter(pa.array(replaced))
    same = same_rows(old.select(compared), new.take(hits).select(compared))
    owned = new.take(np.searchsorted(matched, np.concatenate(touched.owned)))
    files = write(pa.concat_tables([kept, owned]))
    return files, matched[hits[~same]]
