"""Merge a batch into an Iceberg table on its unique key, in one atomic commit.

A merge is a copy-on-write rewrite of only the data files that hold a batch key:
1. plan: the files whose key ranges can hold a batch key (`file_pruning`);
2. probe: read their key columns, keep the files that really hold one;
3. rewrite each of those files: its rows minus the replaced ones, plus the batch rows that
   replace them, so that a file keeps its key range and later merges can still prune; batch
   rows with new keys go to new files. The replaced rows, read anyway, are compared with the
   batch rows replacing them, to count which keys' values changed;
4. commit ONE overwrite snapshot that removes the rewritten files and adds the new ones.

So the cost follows the touched files, not the table, but for reading the table's manifests to
plan, which happens once (`manifest_cache`: pyiceberg's commit would read them twice more).
Concurrency: pyiceberg retries a commit that lost a race after validating that no concurrent
snapshot added, deleted or rewrote data in the batch's key range (serializable isolation, the
table default); when validation finds a conflict, the merge is redone against the refreshed
table. A compaction's `replace` snapshot in between (`compaction.py`) adds no rows, but it
removed files: if any were in the batch's key range, the merge is redone on the compacted files.
Reading, writing and committing files are shared with compaction (`data_files.py`).
"""

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.refs import MAIN_BRANCH

from cascade.runtime.contract import METADATA_COLUMN_NAMES
from cascade.runtime.data_files import FileWriter, commit_files, parallel, read_rows
from cascade.runtime.errors import BranchError
from cascade.runtime.file_pruning import Candidate, candidate_files
from cascade.runtime.keys import key_mask, key_positions, key_range_filter
from cascade.runtime.manifest_cache import reading_once
from cascade.runtime.pyiceberg_compat import check_arrow_schema
from cascade.runtime.row_equality import same_rows

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
    # What became of each batch row, in the batch's order: INSERTED, UPDATED or UNCHANGED.
    row_outcomes: np.ndarray = field(
        default_factory=lambda: np.zeros(0, dtype=np.int8), compare=False, repr=False
    )


# The values of MergeOutcome.row_outcomes.
INSERTED, UPDATED, UNCHANGED = 0, 1, 2


def merge_batch(
    table: Table, batch: pa.Table, unique_key: Sequence[str], branch: str = MAIN_BRANCH
) -> MergeOutcome:
    """Replace the rows whose key is in `batch` and insert the rest, on `branch`.

    `batch` must hold each key once, with no null key. The merge is one snapshot in one
    commit, so readers see either the table before or after the whole merge, and merging the
    same batch again leaves the same rows. A branch that does not exist yet is created from
    main's current snapshot in the same commit. `table` is refreshed when a concurrent commit
    forces the merge to be redone.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with reading_once():
                return _merge_once(table, batch, unique_key, branch)
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


def _merge_once(
    table: Table, batch: pa.Table, unique_key: Sequence[str], branch: str
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
    # Sorted on the key, so that each file's bounds select a slice of it (`file_pruning`).
    batch = _conform(batch, table)
    order = pc.sort_indices(batch, sort_keys=[(name, "ascending") for name in names])
    batch = batch.take(order)
    keys = batch.select(names)

    candidates = []
    if base is not None and batch.num_rows:
        candidates = candidate_files(table, base, keys, unique_key)
    key_schema = schema.select(*names)
    probes = parallel(lambda c: _probe(table, c, key_schema, keys, unique_key), candidates)

    # A batch row replaces its key in every file that holds it, but is written once, into the
    # first of those files.
    owner = np.full(batch.num_rows, -1)
    rewrites: list[tuple[Candidate, np.ndarray]] = []
    rows_replaced = 0
    for candidate, (matched, file_rows) in zip(candidates, probes, strict=True):
        if file_rows:
            rows_replaced += file_rows
            matched = matched[owner[matched] == -1]
            owner[matched] = len(rewrites)
            rewrites.append((candidate, matched))
    rows_existing = int(np.count_nonzero(owner >= 0))
    compared = [
        name
        for name in batch.column_names
        if name not in names and name not in METADATA_COLUMN_NAMES
    ]

    write = FileWriter(table)
    try:
        rewritten = parallel(
            lambda r: _rewrite(table, r[0], r[1], batch, compared, unique_key, write), rewrites
        )
        added = [
            *itertools.chain.from_iterable(files for files, _ in rewritten),
            *write(batch.take(np.flatnonzero(owner < 0))),
        ]
    except BaseException:
        write.delete_all()
        raise
    removed = [candidate.task.file for candidate, _ in rewrites]
    predicate = key_range_filter(keys, unique_key) if batch.num_rows else None
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
    changed = np.zeros(batch.num_rows, dtype=bool)
    for _, differing in rewritten:
        changed[differing] = True
    rows_updated = int(np.count_nonzero(changed))
    outcomes = np.where(owner < 0, INSERTED, np.where(changed, UPDATED, UNCHANGED))
    row_outcomes = np.empty(batch.num_rows, dtype=np.int8)
    row_outcomes[order.to_numpy()] = outcomes  # back in the order the batch came in
    return MergeOutcome(
        rows_inserted=batch.num_rows - rows_existing,
        rows_updated=rows_updated,
        rows_unchanged=rows_existing - rows_updated,
        rows_deleted=rows_replaced - rows_existing,
        snapshot_id=snapshot_id,
        files_scanned=len(candidates),
        files_rewritten=len(removed),
        files_added=len(added),
        row_outcomes=row_outcomes,
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
    candidate: Candidate,
    owned: np.ndarray,
    batch: pa.Table,
    compared: Sequence[str],
    unique_key: Sequence[str],
    write: FileWriter,
) -> tuple[list[DataFile], np.ndarray]:
    """Write the file's rows whose key is not in the batch, plus the batch rows `owned` (their
    positions in `batch`) replacing the others; and the positions of the batch rows whose
    replaced row here differs from them in a `compared` column."""
    rows = read_rows(table, candidate.task, table.schema()).cast(batch.schema)
    window = batch.slice(candidate.start, candidate.stop - candidate.start)
    positions = key_positions(rows, window.select(list(unique_key)), unique_key)
    replaced = positions >= 0
    kept = rows.filter(pa.array(~replaced))
    matched = positions[replaced]
    old, new = rows.filter(pa.array(replaced)), window.take(matched)
    same = same_rows(old.select(compared), new.select(compared))
    files = write(pa.concat_tables([kept, batch.take(owned)]))
    return files, candidate.start + matched[~same]
