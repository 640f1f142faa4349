"""Turn staged rows into a batch shaped exactly like the generated Iceberg schema, one row per
unique key."""

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa
from pyiceberg.schema import Schema

from cascade.runtime.contract import INGESTED_AT
from cascade.runtime.errors import BatchError


def conform(staged: pa.Table, schema: Schema, ingested_at: datetime) -> pa.Table:
    """Stamp the load time, then cast the staged rows to `schema`.

    The staged rows already hold the schema's data columns with their values decided
    (records.py) and dlt's `_dlt_load_id` and `_dlt_id`; what the cast changes is only how
    they were staged: UUIDs from their 16 bytes, times without zone back from the UTC zone
    dlt's parquet gives them, dlt's dictionary-encoded load id. The result has the schema's
    columns in its order, types and nullability (and its field ids, which pyiceberg reads when
    it writes).
    """
    target = schema.as_arrow()
    if INGESTED_AT in target.names:
        stamp = pa.repeat(pa.scalar(ingested_at, pa.timestamp("us", tz="UTC")), staged.num_rows)
        staged = _set_column(staged, INGESTED_AT, stamp)
    missing = [f.name for f in target if f.name not in staged.column_names]
    if missing:
        raise BatchError(
            f"The staged rows lack the column(s) {', '.join(missing)}; staged: "
            + ", ".join(staged.column_names)
        )
    return staged.select(target.names).cast(target)


def last_of_each_key(batch: pa.Table, unique_key: Sequence[str]) -> pa.Array | None:
    """The positions of the last row of each unique key, ascending; None when no key repeats.

    A source may return the same record twice (pagination overlap, an update within the day),
    and a backfill the same key in two partitions; the last row is the newest the source gave
    us. Raises BatchError for a key column the batch lacks or a null key."""
    for name in unique_key:
        if name not in batch.column_names:
            raise BatchError(f"Unique key column {name!r} is not in the table schema.")
        if nulls := batch.column(name).null_count:
            raise BatchError(f"Unique key column {name!r} is null in {nulls} row(s).")
    keys = batch.select(list(unique_key))
    # Arrow groups no extension type (a UUID key): group its 16 bytes.
    keys = keys.cast(pa.schema([f.with_type(_storage(f.type)) for f in keys.schema]))
    positions = keys.append_column("__position", pa.array(range(batch.num_rows), pa.int64()))
    last = positions.group_by(list(unique_key), use_threads=False).aggregate(
        [("__position", "max")]
    )
    if last.num_rows == batch.num_rows:
        return None
    return last["__position_max"].combine_chunks().sort()


def _storage(data_type: pa.DataType) -> pa.DataType:
    return data_type.storage_type if isinstance(data_type, pa.BaseExtensionType) else data_type


def _set_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.column_names.index(name), name, values)
    return table.append_column(name, values)
