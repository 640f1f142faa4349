"""Which data files of a snapshot can hold one of a batch's unique keys.

pyiceberg prunes manifests and files with a row filter, but for an `In` of more than 200 values
it stops using file bounds, so it would read every file for a daily batch. Here pyiceberg plans
with the batch's key range (manifest partition summaries, partition values, file bounds), and
then each remaining file's bounds are checked against the batch's sorted keys: a file is kept
only if some batch key lies inside its bounds on every key column. That costs a binary search
per file, so a file's key range, not the batch size, decides whether it is read.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.conversions import from_bytes
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table
from pyiceberg.types import (
    DateType,
    IcebergType,
    IntegerType,
    LongType,
    PrimitiveType,
    StringType,
    TimestampType,
    TimestamptzType,
    TimeType,
)

from cascade.runtime.keys import key_range_filter

# Types whose bounds decode to values that compare like the batch column converted by
# `_comparable`: strings (Iceberg orders them by UTF-8 bytes, Python by code point: the same
# order) and integers or temporal values as their integer counts (days, microseconds).
_TEXT = (StringType,)
_INTEGER = (IntegerType, LongType, DateType, TimeType, TimestampType, TimestamptzType)


@dataclass(frozen=True)
class Candidate:
    """A data file that may hold batch keys, and the rows of the sorted batch that may be in it."""

    task: FileScanTask
    start: int
    stop: int


@dataclass(frozen=True)
class _KeyColumn:
    field_id: int
    type: IcebergType
    values: np.ndarray | None  # in the batch's (sorted) order; None when bounds cannot help


def planned_files(
    table: Table, snapshot_id: int, keys: pa.Table, unique_key: Sequence[str]
) -> list[FileScanTask]:
    """The files of the snapshot that pyiceberg's plan keeps for the range of `keys` (any
    rows whose smallest and largest value per key column are the batch's)."""
    scan = table.scan(
        row_filter=key_range_filter(keys, unique_key),
        snapshot_id=snapshot_id,
        selected_fields=tuple(unique_key),
    )
    return list(scan.plan_files())


def candidates_in(
    table: Table, tasks: Sequence[FileScanTask], keys: pa.Table, unique_key: Sequence[str]
) -> list[tuple[int, Candidate]]:
    """Of `tasks`, those whose bounds can hold one of `keys` (sorted, first key column
    first), each with its index in `tasks`."""
    columns = _key_columns(table, keys, unique_key)
    candidates = []
    for index, task in enumerate(tasks):
        rows = _rows_in_bounds(task.file, columns, keys.num_rows)
        if rows is not None:
            candidates.append((index, Candidate(task, *rows)))
    return candidates


def last_chunks(
    table: Table, tasks: Sequence[FileScanTask], chunk_lows: pa.Table, unique_key: Sequence[str]
) -> list[int]:
    """For each task, the last chunk of a sorted batch whose keys its file can hold.

    A batch in chunks of disjoint, ascending key ranges (`chunk_lows`: each chunk's smallest
    key, one row per chunk) meets a file only in chunks whose first key column starts at or
    below the file's upper bound on it. Without a usable bound, the last chunk."""
    last = len(chunk_lows) - 1
    [first] = _key_columns(table, chunk_lows, unique_key[:1])
    if first.values is None:
        return [last] * len(tasks)
    ends = []
    for task in tasks:
        _, high = _bounds(task.file, first)
        ends.append(last if high is None else int(np.searchsorted(first.values, high, "right")) - 1)
    return ends


def _key_columns(table: Table, keys: pa.Table, unique_key: Sequence[str]) -> list[_KeyColumn]:
    schema = table.schema()
    return [
        _KeyColumn(
            field.field_id, field.field_type, _comparable(keys.column(name), field.field_type)
        )
        for name in unique_key
        for field in [schema.find_field(name)]
    ]


def _rows_in_bounds(
    file: DataFile, columns: list[_KeyColumn], row_count: int
) -> tuple[int, int] | None:
    """The slice of sorted batch rows whose keys may be in `file`, or None if none can be.

    The batch is sorted on the first key column, so a binary search on its bounds gives the
    slice; the other columns are then checked row by row inside that slice only.
    """
    first, *others = columns
    start, stop = 0, row_count
    low, high = _bounds(file, first)
    if first.values is not None:
        if low is not None:
            start = int(np.searchsorted(first.values, low, side="left"))
        if high is not None:
            stop = int(np.searchsorted(first.values, high, side="right"))
    if start >= stop:
        return None
    inside = np.ones(stop - start, dtype=bool)
    for column in others:
        low, high = _bounds(file, column)
        if column.values is None:
            continue
        values = column.values[start:stop]
        if low is not None:
            inside &= values >= low
        if high is not None:
            inside &= values <= high
    return (start, stop) if inside.any() else None


def _bounds(file: DataFile, column: _KeyColumn) -> tuple[str | int | None, str | int | None]:
    """The file's lower and upper bound of a key column (decoded: a string or an integer
    count, as `_comparable` converts the batch); None where the file records none."""
    if column.values is None:
        return None, None
    assert isinstance(column.type, PrimitiveType)  # `_comparable` gave values: a primitive type
    lower = (file.lower_bounds or {}).get(column.field_id)
    upper = (file.upper_bounds or {}).get(column.field_id)
    return (
        None if lower is None else from_bytes(column.type, lower),
        None if upper is None else from_bytes(column.type, upper),
    )


def _comparable(column: pa.ChunkedArray, field_type: IcebergType) -> np.ndarray | None:
    """The column as numpy values that compare with decoded bounds, or None (no pruning)."""
    if isinstance(field_type, _TEXT):
        return np.asarray(column.to_pylist(), dtype=object)
    if isinstance(field_type, _INTEGER):
        physical = pa.int32() if pa.types.is_date32(column.type) else pa.int64()
        return pc.cast(column, physical).to_numpy().astype(np.int64)
    return None
