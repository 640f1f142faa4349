"""Unique keys of a batch: Iceberg row filters that select them, and matching them against rows."""

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    LessThanOrEqual,
)

# A column name no user column can take: dlt normalizes names to snake case without a leading "__".
_ROW = "__cascade_row"
_KEY = "__cascade_key"


def key_range_filter(batch: pa.Table, unique_key: Sequence[str]) -> BooleanExpression:
    """A filter on the smallest box holding the batch's keys: `min <= column <= max` per column.

    It matches more rows than the batch's keys (`key_mask` matches them exactly), but it is cheap
    to bind and to evaluate against
    manifest and file statistics whatever the batch size, whereas pyiceberg gives up on
    pruning with an `In` of more than 200 values. The batch must not be empty.
    """
    bounds = []
    for name in unique_key:
        column = batch.column(name)
        if pa.types.is_floating(column.type):
            # NaN has no place in an order, so the range holds the other keys (all-NaN: no
            # range on this column). Generated keys are never float; callers' may be.
            column = pc.filter(column, pc.invert(pc.is_nan(column)))
            if not len(column):
                continue
        low, high = pc.min_max(column).values()
        # pyiceberg's predicates take (term, literal) positionally through their own __init__;
        # mypy sees only the keyword-only __init__ of the pydantic fields (term=, value=).
        bounds += [
            GreaterThanOrEqual(name, low.as_py()),  # type: ignore[call-arg, arg-type]
            LessThanOrEqual(name, high.as_py()),  # type: ignore[call-arg, arg-type]
        ]
    return And(*bounds) if len(bounds) > 1 else (bounds[0] if bounds else AlwaysTrue())


def key_mask(rows: pa.Table, keys: pa.Table, unique_key: Sequence[str]) -> np.ndarray:
    """For each row of `rows`, whether its unique key is one of those in `keys`.

    Only the key columns are compared (a hash join on them for a composite key), so the other
    columns may have any type, including the nested ones Arrow's join cannot carry.
    """
    names = list(unique_key)
    if len(names) == 1:
        column = rows.column(names[0])
        values = keys.column(names[0]).cast(column.type).combine_chunks()
        return pc.is_in(column, value_set=values).fill_null(False).to_numpy()
    numbered = rows.select(names).append_column(_ROW, pa.array(np.arange(rows.num_rows)))
    probe = keys.select(names).cast(numbered.select(names).schema)
    hits = numbered.join(probe, keys=names, join_type="left semi").column(_ROW)
    mask = np.zeros(rows.num_rows, dtype=bool)
    mask[hits.to_numpy()] = True
    return mask


def key_positions(rows: pa.Table, keys: pa.Table, unique_key: Sequence[str]) -> np.ndarray:
    """For each row of `rows`, the position in `keys` (which holds each key once) of its unique
    key, or -1: `key_mask` that also says which key matched."""
    names = list(unique_key)
    if len(names) == 1:
        column = rows.column(names[0])
        values = keys.column(names[0]).cast(column.type).combine_chunks()
        found = pc.index_in(column, value_set=values).fill_null(-1)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)
    numbered = rows.select(names).append_column(_ROW, pa.array(np.arange(rows.num_rows)))
    probe = keys.select(names).cast(numbered.select(names).schema)
    probe = probe.append_column(_KEY, pa.array(np.arange(keys.num_rows)))
    pairs = numbered.join(probe, keys=names, join_type="inner")
    positions = np.full(rows.num_rows, -1, dtype=np.int64)
    positions[pairs.column(_ROW).to_numpy()] = pairs.column(_KEY).to_numpy()
    return positions
