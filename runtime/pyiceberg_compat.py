"""Keep a null list (or map) of structs null when pyiceberg writes or reads it.

pyiceberg 0.12 turns a null `list<struct<...>>` into `[]`, and a null `map<_, struct<...>>`
into `{}`, both when it writes a data file and when it reads one: every Arrow batch goes
through `pyiceberg.io.pyarrow._to_requested_schema`, whose `ArrowProjectionVisitor` puts
each column into the table's field ids, names and types. For a list whose elements are
structs, `ArrowProjectionVisitor.list` (pyiceberg/io/pyarrow.py, line 2078 in 0.12.0) rebuilds
the list as

    pa.LargeListArray.from_arrays(list_array.offsets, value_array)

and `ArrowProjectionVisitor.map` (line 2097) a map of structs as
`pa.MapArray.from_arrays(map_array.offsets, key_result, value_result, arrow_field)`. A list's
`offsets` carry no validity bitmap and no `mask` is passed, so each null slot comes back as a
valid slot of length zero. A list of strings is not rebuilt (it is cast, which keeps validity),
which is why only lists and maps of structs lose their nulls. The loss travels upward: a
struct holding such a list, a list of those structs, a map whose values are such structs.
(Upstream: apache/iceberg-python#251, #2246, #3833; the fix proposed in #3834 passes a mask.)

On write the null is gone for good: the Parquet file holds `[]`, and no reader, DuckDB or
Spark or pyiceberg, can tell it from a real empty list. On read the file is right and only
pyiceberg's result is wrong; a merge reads the rows it keeps in a rewritten file, so its reads
lose the null for good too once they are written again.

The fix: inside `keeping_null_lists()`, `_to_requested_schema` projects with a subclass of
the visitor whose `list` and `map` give the result the validity of the array they projected
(`_with_nulls_of`). That is right because a projection maps each slot to the same slot: it
changes field ids, names and element types, never which slots are null, and pyiceberg's own
`struct` already passes `mask=struct_array.is_null()` for the same reason. Where pyiceberg
kept the nulls (its cast path) the counts agree and the array is returned untouched.

The subclass is put in place of `pyiceberg.io.pyarrow.ArrowProjectionVisitor` (the name
`_to_requested_schema` looks up on every call) only while some caller is inside the block,
and the original is back once the last one leaves it. Nothing is changed at import time.
While a merge runs, other threads' pyiceberg reads get the fixed projection too: it differs
from pyiceberg's only in keeping nulls.

Checked against the pyiceberg versions in `CHECKED_PYICEBERG_VERSIONS`; under another version
the block still applies the fix and logs a warning, and `tests/test_null_lists.py` fails until
the version has been checked (and the workaround dropped once pyiceberg keeps the nulls).
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc
import pyiceberg
import pyiceberg.io.pyarrow as pyiceberg_arrow

log = logging.getLogger(__name__)

# pyiceberg versions whose projection was read and found to lose the nulls as described above.
CHECKED_PYICEBERG_VERSIONS = frozenset({"0.12.0"})

_ArrowProjectionVisitor = pyiceberg_arrow.ArrowProjectionVisitor
_lock = threading.Lock()
_active = 0  # callers inside `keeping_null_lists()`


def pyiceberg_version_checked() -> bool:
    return pyiceberg.__version__ in CHECKED_PYICEBERG_VERSIONS


@contextmanager
def keeping_null_lists() -> Iterator[None]:
    """pyiceberg's writes and reads inside the block keep null lists and maps of structs."""
    global _active
    if not pyiceberg_version_checked():
        _warn_unchecked_version()
    with _lock:
        _active += 1
        pyiceberg_arrow.ArrowProjectionVisitor = _NullKeepingProjection
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if not _active:
                pyiceberg_arrow.ArrowProjectionVisitor = _ArrowProjectionVisitor


class _NullKeepingProjection(_ArrowProjectionVisitor):
    def list(self, list_type, list_array, value_array):  # type: ignore[no-untyped-def]
        return _with_nulls_of(list_array, super().list(list_type, list_array, value_array))

    def map(self, map_type, map_array, key_result, value_result):  # type: ignore[no-untyped-def]
        projected = super().map(map_type, map_array, key_result, value_result)
        return _with_nulls_of(map_array, projected)


def _with_nulls_of(source: pa.Array | None, projected: pa.Array | None) -> pa.Array | None:
    """`projected` (a list or map array) with its slots null exactly where `source`'s are."""
    if not isinstance(projected, (pa.ListArray, pa.LargeListArray)) or source is None:
        return projected
    if projected.null_count == source.null_count:
        return projected
    # `from_arrays` accepts a mask only with offsets that start at 0 (a sliced array's do not).
    offsets = projected.offsets
    start, stop = offsets[0].as_py(), offsets[-1].as_py()
    offsets = pc.subtract(offsets, offsets[0])
    mask = source.is_null()
    if isinstance(projected, pa.MapArray):  # before ListArray: a MapArray is one
        keys = projected.keys.slice(start, stop - start)
        items = projected.items.slice(start, stop - start)
        return pa.MapArray.from_arrays(offsets, keys, items, type=projected.type, mask=mask)
    values = projected.values.slice(start, stop - start)
    return type(projected).from_arrays(offsets, values, type=projected.type, mask=mask)


@cache
def _warn_unchecked_version() -> None:
    log.warning(
        "pyiceberg %s is not among the versions Cascade's null-list workaround was checked "
        "against (%s); applying it anyway (see cascade.runtime.pyiceberg_compat)",
        pyiceberg.__version__,
        ", ".join(sorted(CHECKED_PYICEBERG_VERSIONS)),
    )
