"""Whether two rows hold the same values, as a reader of the table would see them.

The merge counts a batch row whose key the table holds as unchanged when it equals the stored
row in every compared column (`merge._rewrite`). Equality is value-level, column by column:

- null equals null, and nothing else;
- floats compare by value, except that NaN equals NaN (any payload) and -0.0 differs from 0.0:
  the table keeps the sign of a zero (README, value rules), so a reader sees the difference;
- everything else compares by value (text, bytes, decimals, timestamps, UUIDs, ...);
- structs, lists and maps compare whole: the same nulls, lengths and elements (map entries in
  their stored order), by these same rules.

Vectorized with Arrow compute, no Python per value; both sides must have the same Arrow type.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def same_rows(old: pa.Table, new: pa.Table) -> np.ndarray:
    """For each row, whether `old` and `new` hold the same values in all of `new`'s columns."""
    same = np.ones(new.num_rows, dtype=bool)
    for name in new.column_names:
        same &= same_values(old.column(name).combine_chunks(), new.column(name).combine_chunks())
    return same


def same_values(old: pa.Array, new: pa.Array) -> np.ndarray:
    """For each position, whether `old` and `new` hold the same value (by the rules above)."""
    if isinstance(old, pa.ExtensionArray):
        old, new = old.storage, new.storage
    both_null = _numpy(pc.and_(old.is_null(), new.is_null()))
    both_valid = _numpy(pc.and_(old.is_valid(), new.is_valid()))
    if not both_valid.any():
        return both_null
    return both_null | (both_valid & _same_valid(old, new, both_valid))


def _same_valid(old: pa.Array, new: pa.Array, valid: np.ndarray) -> np.ndarray:
    """Equality where both sides are valid (`valid`); other positions are don't-care."""
    kind = old.type
    if pa.types.is_floating(kind):
        bits = pa.int64() if kind.bit_width == 64 else pa.int32()
        identical = pc.equal(old.view(bits), new.view(bits))  # tells -0.0 from 0.0
        both_nan = pc.and_(pc.is_nan(old), pc.is_nan(new))
        return _numpy(pc.or_(identical, both_nan))
    if pa.types.is_struct(kind):
        same = np.ones(len(old), dtype=bool)
        for index in range(kind.num_fields):
            same &= same_values(old.field(index), new.field(index))
        return same
    if pa.types.is_map(kind):
        entries = pa.struct([kind.key_field, kind.item_field])
        as_list = pa.list_(pa.field("entries", entries, nullable=False))
        return _same_valid(old.view(as_list), new.view(as_list), valid)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _same_lists(old, new, valid)
    if pa.types.is_dictionary(kind):
        return _same_valid(old.dictionary_decode(), new.dictionary_decode(), valid)
    if pa.types.is_null(kind):
        return np.zeros(len(old), dtype=bool)  # never valid
    return _numpy(pc.equal(old, new))


def _same_lists(old: pa.Array, new: pa.Array, valid: np.ndarray) -> np.ndarray:
    """Lists are the same when their lengths are and each pair of elements is."""
    lengths = _numpy(pc.equal(pc.list_value_length(old), pc.list_value_length(new)))
    rows = np.flatnonzero(valid & lengths)
    same = np.zeros(len(old), dtype=bool)
    if not rows.size:
        return same
    # Rows of equal length flatten to aligned elements.
    old_rows, new_rows = old.take(pa.array(rows)), new.take(pa.array(rows))
    elements = same_values(pc.list_flatten(old_rows), pc.list_flatten(new_rows))
    parents = pc.list_parent_indices(old_rows).to_numpy()
    differing = np.bincount(parents[~elements], minlength=rows.size)
    same[rows] = differing == 0
    return same


def _numpy(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(mask.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
