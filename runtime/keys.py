"""Iceberg row filters that match exactly the unique keys of a batch."""

from collections import defaultdict
from collections.abc import Sequence

import pyarrow as pa
from pyiceberg.expressions import And, BooleanExpression, EqualTo, In, Or


def key_filter(batch: pa.Table, unique_key: Sequence[str]) -> BooleanExpression:
    """A filter matching the rows whose unique key is one of the batch's keys.

    One column gives `In(column, values)`. Several columns give a prefix tree: an `Or` over
    the distinct values of the first column, each `And(EqualTo(first, v), <filter of the
    rest>)`, ending in an `In` on the last column. That is exact (unlike one `In` per column,
    which would match every combination) and stays small when the leading columns repeat,
    e.g. (device, date). pyiceberg builds `Or` of many operands as a balanced tree, so deep
    recursion is no concern.
    """
    distinct = batch.select(list(unique_key)).group_by(list(unique_key)).aggregate([])
    columns = [distinct.column(name).to_pylist() for name in unique_key]
    return _prefix_tree(list(unique_key), list(zip(*columns, strict=True)))


def _prefix_tree(names: list[str], keys: list[tuple]) -> BooleanExpression:
    if len(names) == 1:
        return In(names[0], {key[0] for key in keys})
    rests: dict[object, list[tuple]] = defaultdict(list)
    for key in keys:
        rests[key[0]].append(key[1:])
    branches = [
        And(EqualTo(names[0], value), _prefix_tree(names[1:], rest))
        for value, rest in rests.items()
    ]
    return branches[0] if len(branches) == 1 else Or(*branches)
