"""Bounded memory for a big batch: its rows go through the load a chunk at a time, so what a
load holds at once follows the chunk size (`IngestionConfig.chunk_rows`), not the batch's.

A run whose partitions deliver at most `chunk_rows` rows is prepared in memory as one table
(run.py). A bigger one is sorted on its unique key outside memory, in files of the load's
temporary folder, before the catalog is touched:

1. splitters: the key columns of the staged rows (dlt's parquet files), every few rows, give
   keys that cut the key space into buckets of about `chunk_rows` rows each;
2. runs: each `chunk_rows` staged rows are conformed (`batch.conform`), numbered by their
   place in what the run delivered (`SEQUENCE`: the partition's offset plus the row's place in
   what its resource yielded), refused for null keys, sorted on (key, number) and written as
   one Arrow IPC file that holds one record batch per bucket;
3. buckets, in key order: bucket j is record batch j of every run, so it holds every copy of
   its keys. Sorted on (key, number), the last row of each key is kept (the rule of
   `batch.last_of_each_key`: the latest partition's, the resource's last), Pandera checks it
   (`validation.ChunkedValidation`: row by row here, whole columns at the end) and it is
   appended to the `SortedSpill`: the deduplicated batch, sorted on the unique key, in
   chunks of disjoint, ascending key ranges, which the merge reads one at a time (merge.py).

Held whole: the sampled keys (about 256 per chunk), and per row of the batch one byte of the
merge's outcome plus, for a backfill of several partitions, four bytes of its partition
(`partition_counts`); columns that Pandera checks for uniqueness across rows, where the
unique key does not guarantee it; and, for a model with frame-wide checks, the batch itself
(see `ChunkedValidation`). A key delivered more than `chunk_rows` times makes its bucket
that big: every copy of a key is in one bucket. The files take about the batch's size in
Arrow's format, twice at most (runs and the sorted batch), in the system's temporary folder
(TMPDIR). Reading a bucket opens every run: (rows / chunk_rows)^2 small reads in all, which a
chunk size far below the batch's size makes many.

Keys are compared by Arrow (sorting) and by Python (`as_py()`, splitting): the key types the
compiler allows (ints, decimals, strings, binary, booleans, dates, times, timestamps) order
the same way in both (strings by code point, which is UTF-8's byte order); a batch with
another key is prepared in memory (`chunkable_key`).
"""

import itertools
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from pyiceberg.schema import Schema

from cascade.runtime.batch import conform
from cascade.runtime.errors import BatchError
from cascade.runtime.spill import SortedSpill, SpillWriter
from cascade.runtime.staging import POSITION, StagedFiles
from cascade.runtime.validation import ChunkedValidation

# Each staged row's number in the run: rows of earlier partitions first, then its place in
# what its resource yielded. A later number wins a repeated key.
SEQUENCE = "_cascade_sequence"
# Sampled keys per bucket: the buckets' sizes vary less with more.
SAMPLES_PER_BUCKET = 256


@dataclass
class ChunkedBatch:
    """What preparing a big batch found (run.py's `Batch` holds it)."""

    spill: SortedSpill
    rows_deduplicated: int
    rows_replaced: np.ndarray  # per partition: its rows a later row with the same key replaced
    partition_of_rows: np.ndarray  # per row of the spill, its partition (empty for one)
    conform_elapsed: float
    validate_elapsed: float


@dataclass
class _Timer:
    seconds: float = 0.0
    started: float = field(default=0.0, repr=False)

    def __enter__(self) -> "_Timer":
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds += time.monotonic() - self.started


def prepare_chunked(
    staged: Sequence[StagedFiles | None],
    schema: Schema,
    unique_key: Sequence[str],
    validation: ChunkedValidation | None,
    chunk_rows: int,
    folder: Path,
    ingested_at: datetime,
) -> ChunkedBatch:
    """Deduplicate and validate the staged rows of the run's partitions (`staged`, one entry
    per partition, None for one without rows) into a `SortedSpill` under `folder`, with the
    columns of the contract's `schema`.

    Raises `BatchError` for a null key, and what `validation` raises."""
    names = list(unique_key)
    schema_arrow = schema.as_arrow()
    for name in names:
        if name not in schema_arrow.names:
            raise BatchError(f"Unique key column {name!r} is not in the table schema.")
    key_schema = pa.schema([schema_arrow.field(name) for name in names])
    offsets = np.cumsum([0, *(part.num_rows if part else 0 for part in staged)])
    total = int(offsets[-1])
    conforming, validating = _Timer(), _Timer()

    with conforming:
        splitters = _splitters(staged, key_schema, chunk_rows, total)
        runs, nulls = _write_runs(
            staged, offsets, schema, names, splitters, chunk_rows, folder, ingested_at
        )
    for name in names:
        if nulls[name]:
            raise BatchError(f"Unique key column {name!r} is null in {nulls[name]} row(s).")

    replaced = np.zeros(len(staged), dtype=np.int64)
    partitions: list[np.ndarray] = []
    writer = SpillWriter(folder / "sorted.arrow", schema_arrow, unique_key)
    try:
        for bucket in range(len(splitters) + 1):
            with conforming:
                rows = _read_bucket(runs, bucket, schema_arrow)
                if not rows.num_rows:
                    continue
                rows, sequence, dropped = _last_of_each_key(rows, names)
                if len(dropped):
                    replaced += np.bincount(_partition(dropped, offsets), minlength=len(staged))
                if len(staged) > 1:
                    partitions.append(_partition(sequence, offsets).astype(np.int32))
            if validation is not None:
                with validating:
                    validation.add(rows, sequence)
            if validation is None or not validation.failed:  # else no batch to merge
                with conforming:
                    writer.write(rows)
        if validation is not None:
            with validating:
                validation.finish()
    finally:
        spill = writer.close()
        for run in runs:
            run.unlink()
    return ChunkedBatch(
        spill,
        total - spill.num_rows,
        replaced,
        np.concatenate(partitions) if partitions else np.zeros(0, dtype=np.int32),
        conforming.seconds,
        validating.seconds,
    )


def _partition(sequence: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return np.searchsorted(offsets, sequence, side="right") - 1


def _splitters(
    staged: Sequence[StagedFiles | None], key_schema: pa.Schema, chunk_rows: int, total: int
) -> list[tuple]:
    """Keys (as Python tuples, ascending, distinct) that cut the staged keys into buckets of
    about `chunk_rows` rows: the quantiles of a sample of every `stride`-th staged key."""
    buckets = -(-total // chunk_rows)
    if buckets <= 1:
        return []
    stride = max(1, total // (buckets * SAMPLES_PER_BUCKET))
    names = key_schema.names
    sampled = []
    for part in staged:
        if part is None:
            continue
        for rows in part.batches(chunk_rows, columns=names):
            picked = rows.take(pa.array(np.arange(0, rows.num_rows, stride)))
            sampled.append(picked.select(names).cast(key_schema))
    sample = pa.concat_tables(sampled)
    valid = np.ones(sample.num_rows, dtype=bool)
    for name in names:
        valid &= sample.column(name).is_valid().to_numpy(zero_copy_only=False)
    sample = sample.filter(pa.array(valid))
    sample = sample.take(pc.sort_indices(sample, sort_keys=[(n, "ascending") for n in names]))
    step = max(1, sample.num_rows // buckets)
    picked = sample.take(pa.array(np.arange(step, sample.num_rows, step)))
    columns = [picked.column(name).to_pylist() for name in names]
    return sorted(set(zip(*columns, strict=True)))


def chunkable_key(schema: pa.Schema, unique_key: Sequence[str]) -> bool:
    """Whether the key's types order alike in Arrow and Python (see the module docstring):
    those the compiler allows for a key. Another key (a hand-written contract's float or
    UUID) is prepared in memory."""
    return all(name in schema.names and _orderable(schema.field(name).type) for name in unique_key)


def _orderable(data_type: pa.DataType) -> bool:
    types = pa.types
    return not isinstance(data_type, pa.BaseExtensionType) and (
        types.is_integer(data_type)
        or types.is_decimal(data_type)
        or types.is_string(data_type)
        or types.is_large_string(data_type)
        or types.is_binary(data_type)
        or types.is_large_binary(data_type)
        or types.is_fixed_size_binary(data_type)
        or types.is_boolean(data_type)
        or types.is_date(data_type)
        or types.is_time(data_type)
        or types.is_timestamp(data_type)
    )


def _rechunk(tables: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The rows of `tables` in tables of exactly `rows` rows (the last one fewer)."""
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        pending.append(table)
        held += table.num_rows
        while held >= rows:
            whole = pa.concat_tables(pending)
            yield whole.slice(0, rows)
            rest = whole.slice(rows)
            pending, held = [rest], rest.num_rows
    if held:
        yield pa.concat_tables(pending)


def _write_runs(
    staged: Sequence[StagedFiles | None],
    offsets: np.ndarray,
    schema: Schema,
    names: list[str],
    splitters: list[tuple],
    chunk_rows: int,
    folder: Path,
    ingested_at: datetime,
) -> tuple[list[Path], dict[str, int]]:
    """Each `chunk_rows` staged rows, conformed, numbered and sorted, as an IPC file with one
    record batch per bucket; and the null keys found per key column (such rows are left out)."""
    runs: list[Path] = []
    nulls = dict.fromkeys(names, 0)
    counter = itertools.count()
    sort_keys = [(name, "ascending") for name in names] + [(SEQUENCE, "ascending")]
    for index, part in enumerate(staged):
        if part is None:
            continue
        for rows in _rechunk(part.batches(chunk_rows), chunk_rows):
            sequence = pc.add(rows.column(POSITION), pa.scalar(int(offsets[index]), pa.int64()))
            rows = conform(rows, schema, ingested_at=ingested_at)
            rows = rows.append_column(SEQUENCE, sequence.cast(pa.int64()))
            valid = np.ones(rows.num_rows, dtype=bool)
            for name in names:
                column = rows.column(name)
                if column.null_count:
                    nulls[name] += column.null_count
                    valid &= column.is_valid().to_numpy(zero_copy_only=False)
            if not valid.all():
                rows = rows.filter(pa.array(valid))
            order = pc.sort_indices(rows, sort_keys=sort_keys)
            rows = rows.take(order)
            bounds = _bucket_bounds(rows, names, splitters)
            path = folder / f"run-{next(counter):05d}.arrow"
            with ipc.new_file(str(path), rows.schema) as writer:
                for start, stop in itertools.pairwise(bounds):
                    writer.write_batch(_one_batch(rows.slice(start, stop - start)))
            runs.append(path)
    return runs, nulls


def _one_batch(rows: pa.Table) -> pa.RecordBatch:
    arrays = [column.combine_chunks() for column in rows.columns]
    return pa.RecordBatch.from_arrays(arrays, schema=rows.schema)


def _bucket_bounds(rows: pa.Table, names: list[str], splitters: list[tuple]) -> list[int]:
    """Where each bucket starts in the sorted `rows`, and their count: bucket j holds the keys
    k with splitters[j - 1] <= k < splitters[j]."""
    columns = [rows.column(name).combine_chunks() for name in names]

    def key(position: int) -> tuple:
        return tuple(column[position].as_py() for column in columns)

    bounds = [0]
    for splitter in splitters:
        low, high = bounds[-1], rows.num_rows
        while low < high:  # bisect_left on the rows from the previous bound
            middle = (low + high) // 2
            if key(middle) < splitter:
                low = middle + 1
            else:
                high = middle
        bounds.append(low)
    bounds.append(rows.num_rows)
    return bounds


def _read_bucket(runs: list[Path], bucket: int, schema: pa.Schema) -> pa.Table:
    parts = []
    for path in runs:
        with pa.OSFile(str(path)) as file:
            batch = ipc.open_file(file).get_batch(bucket)
        if batch.num_rows:
            parts.append(pa.Table.from_batches([batch]))
    if not parts:
        return schema.append(pa.field(SEQUENCE, pa.int64())).empty_table()
    return pa.concat_tables(parts)


def _last_of_each_key(rows: pa.Table, names: list[str]) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The bucket sorted on the key with the last row (highest sequence) of each key, without
    `SEQUENCE`; the kept rows' sequence numbers, and the dropped rows'."""
    sort_keys = [(name, "ascending") for name in names] + [(SEQUENCE, "ascending")]
    rows = rows.take(pc.sort_indices(rows, sort_keys=sort_keys))
    sequence = rows.column(SEQUENCE).to_numpy()
    keep = np.ones(rows.num_rows, dtype=bool)
    if rows.num_rows > 1:
        differs = np.zeros(rows.num_rows - 1, dtype=bool)
        for name in names:
            column = rows.column(name).combine_chunks()
            differs |= pc.not_equal(column[1:], column[:-1]).to_numpy(zero_copy_only=False)
        keep[:-1] = differs
    rows = rows.drop_columns([SEQUENCE])
    if keep.all():
        return rows, sequence, sequence[:0]
    return rows.filter(pa.array(keep)), sequence[keep], sequence[~keep]
