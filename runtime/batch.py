"""Turn staged rows into a batch shaped exactly like the generated Iceberg schema."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.types import NestedField

from cascade.runtime.errors import BatchError
from cascade.runtime.nested import convert, needs_conversion

INGESTED_AT = "_cascade_ingested_at"

# How many offending values an error message shows.
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Conformed:
    batch: pa.Table
    dropped_columns: tuple[str, ...]


def conform(
    staged: pa.Table,
    schema: Schema,
    ingested_at: datetime,
    normalize_key: Callable[[str], str] | None = None,
) -> Conformed:
    """Stamp the load time, then project and cast the staged rows to `schema`.

    The result has the schema's columns in its order and types (and its field ids, which
    pyiceberg reads when it writes). Columns the schema does not know are dropped and
    reported, and so are keys of struct values that the struct does not have (`origin.extra`);
    absent optional columns become nulls. `normalize_key` is dlt's naming convention, which
    struct keys may need to match field names (see `nested.convert`).
    """
    target = schema.as_arrow()
    if INGESTED_AT in target.names:
        stamp = pa.repeat(pa.scalar(ingested_at, pa.timestamp("us", tz="UTC")), staged.num_rows)
        staged = _set_column(staged, INGESTED_AT, stamp)
    fitted = [
        _fit(staged, arrow_field, field, normalize_key)
        for arrow_field, field in zip(target, schema.fields, strict=True)
    ]
    if problems := [fit.problem for fit in fitted if fit.problem]:
        raise BatchError(
            "The staged rows do not fit the table schema:\n  "
            + "\n  ".join(problems)
            + f"\nStaged columns: {', '.join(staged.column_names)}"
        )
    dropped = tuple(name for name in staged.column_names if name not in target.names)
    dropped += tuple(key for fit in fitted for key in fit.dropped_keys)
    batch = pa.Table.from_arrays([fit.column for fit in fitted], schema=target)
    return Conformed(batch, dropped)


class _Fit(NamedTuple):
    column: pa.ChunkedArray | None
    problem: str | None = None
    dropped_keys: tuple[str, ...] = ()


def _fit(
    staged: pa.Table,
    field: pa.Field,
    iceberg_field: NestedField,
    normalize_key: Callable[[str], str] | None,
) -> _Fit:
    """The staged column cast to the field's type, or what prevents it."""
    if set_aside := _variants(staged, field.name):
        details = "; ".join(set_aside)
        return _Fit(None, f"{field.name}: dlt could not coerce some values to its type: {details}")
    if field.name not in staged.column_names:
        if field.nullable:
            return _Fit(pa.chunked_array([pa.nulls(staged.num_rows, field.type)]))
        return _Fit(None, f"{field.name}: required, but missing from the staged rows")
    column = staged.column(field.name)
    dropped_keys: tuple[str, ...] = ()
    if needs_conversion(column.type, iceberg_field.field_type):
        converted = convert(column, field.name, iceberg_field.field_type, field.type, normalize_key)
        if converted.values is None:
            return _Fit(None, converted.problem)
        column, dropped_keys = converted.values, converted.dropped_keys
    try:
        column = column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        samples = ", ".join(repr(value) for value in _uncastable(column, field.type))
        problem = f"{field.name}: cannot cast {column.type} to {field.type} ({error}): {samples}"
        return _Fit(None, problem)
    if field.nullable or not column.null_count:
        return _Fit(column, None, dropped_keys)
    if column.null_count == staged.num_rows:
        # dlt writes a hinted column even when no record has the field.
        return _Fit(None, f"{field.name}: required, but no staged row has a value")
    return _Fit(None, f"{field.name}: required, but null in {column.null_count} row(s)")


def _variants(staged: pa.Table, name: str) -> list[str]:
    """Values dlt set aside in variant columns (`<name>__v_<type>`) instead of `name`.

    dlt leaves the column null for a value it cannot coerce to the hinted type and keeps the
    value in a variant column, which is not part of the table: loading would lose it silently.
    """
    found = []
    for variant in staged.column_names:
        if not variant.startswith(f"{name}__v_"):
            continue
        values = staged.column(variant).drop_null()
        if len(values):
            samples = ", ".join(repr(value) for value in values[:SAMPLE_SIZE].to_pylist())
            found.append(f"{len(values)} in {variant}: {samples}")
    return found


def deduplicate(batch: pa.Table, unique_key: Sequence[str]) -> tuple[pa.Table, int]:
    """Keep the last row of each unique key; return the batch and how many rows were dropped.

    A source may return the same record twice (pagination overlap, an update within the day);
    the last one is the newest the source gave us.
    """
    for name in unique_key:
        if name not in batch.column_names:
            raise BatchError(f"Unique key column {name!r} is not in the table schema.")
        if nulls := batch.column(name).null_count:
            raise BatchError(f"Unique key column {name!r} is null in {nulls} row(s).")
    positions = batch.select(list(unique_key)).append_column(
        "__position", pa.array(range(batch.num_rows), pa.int64())
    )
    last = positions.group_by(list(unique_key), use_threads=False).aggregate(
        [("__position", "max")]
    )
    if last.num_rows == batch.num_rows:
        return batch, 0
    keep = last["__position_max"].combine_chunks().sort()
    return batch.take(keep), batch.num_rows - last.num_rows


def _set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)


def _uncastable(column: pa.ChunkedArray, target: pa.DataType) -> list[object]:
    """The first values of `column` that do not cast to `target`.

    Casting slices first and single values only inside failing slices keeps this fast on
    large batches with a few bad values.
    """
    found: list[object] = []
    for start in range(0, len(column), 1024):
        piece = column.slice(start, 1024)
        if _casts(piece, target):
            continue
        for offset in range(len(piece)):
            value = piece.slice(offset, 1)
            if not _casts(value, target):
                found.append(value[0].as_py())
                if len(found) == SAMPLE_SIZE:
                    return found
    return found


def _casts(values: pa.ChunkedArray, target: pa.DataType) -> bool:
    try:
        values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
