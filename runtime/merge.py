"""Merge a batch into an Iceberg table on its unique key, in one atomic commit."""

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.expressions import BooleanExpression
from pyiceberg.table import Table
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.table.update.snapshot import ManageSnapshots

from cascade.runtime.errors import BranchError
from cascade.runtime.keys import key_filter


@dataclass(frozen=True)
class MergeOutcome:
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    snapshot_id: int


def merge_batch(
    table: Table, batch: pa.Table, unique_key: Sequence[str], branch: str = MAIN_BRANCH
) -> MergeOutcome:
    """Replace the rows whose key is in `batch` and insert the rest, on `branch`.

    `batch` must hold each key once. Deleting the matching rows and appending the batch happen
    in one transaction, so readers see either the table before or after the whole merge, and
    merging the same batch again leaves the same rows. A branch that does not exist yet is
    created from main's current snapshot in the same commit.
    """
    refs = table.metadata.refs
    main_snapshot_id = table.metadata.current_snapshot_id
    creates_branch = branch != MAIN_BRANCH and branch not in refs
    if creates_branch and main_snapshot_id is None:
        raise BranchError(
            f"Cannot create branch {branch!r} of {'.'.join(table.name())}: main has no "
            "snapshot yet, and a branch starts from main's current snapshot. Load main first."
        )
    base = refs[branch].snapshot_id if branch in refs else main_snapshot_id
    keys = key_filter(batch, unique_key)
    rows_updated, rows_deleted = _matches(table, keys, unique_key, base)

    with table.transaction() as transaction:
        if creates_branch:
            ManageSnapshots(transaction).create_branch(main_snapshot_id, branch).commit()
        if rows_deleted:
            transaction.delete(keys, branch=branch)
        transaction.append(batch, branch=branch)

    return MergeOutcome(
        rows_inserted=batch.num_rows - rows_updated,
        rows_updated=rows_updated,
        rows_deleted=rows_deleted,
        snapshot_id=table.metadata.refs[branch].snapshot_id,
    )


def _matches(
    table: Table, keys: BooleanExpression, unique_key: Sequence[str], snapshot_id: int | None
) -> tuple[int, int]:
    """How many of the batch's keys, and how many rows, the snapshot already has.

    Counted before the transaction by reading the key columns only.
    """
    if snapshot_id is None:
        return 0, 0
    scan = table.scan(row_filter=keys, selected_fields=tuple(unique_key), snapshot_id=snapshot_id)
    rows = scan.to_arrow()
    return rows.group_by(list(unique_key)).aggregate([]).num_rows, rows.num_rows
