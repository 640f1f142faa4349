"""A batch sorted on its unique key, kept on disk while a load merges it (chunking.py writes
it, merge.py reads it a chunk at a time and fetches the rows each rewritten file needs)."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

# The sorted batch is written in record batches of at most this many rows, so that a rewrite
# reads little more than the rows it needs.
READ_ROWS = 8192


@dataclass
class SortedSpill:
    """A deduplicated batch sorted on its unique key, in an Arrow IPC file: chunks of
    disjoint, ascending key ranges, each a run of record batches."""

    path: Path
    schema: pa.Schema
    unique_key: tuple[str, ...]
    # Row offset of each record batch, then the row count.
    batch_offsets: np.ndarray
    # Each chunk's first and last record batch (exclusive).
    chunk_batches: list[tuple[int, int]]
    # Per key column, its smallest and largest value in each chunk (two rows per chunk).
    key_bounds: pa.Table

    @property
    def num_rows(self) -> int:
        return int(self.batch_offsets[-1])

    def chunk_offsets(self) -> np.ndarray:
        """Each chunk's first row, then the row count."""
        starts = [int(self.batch_offsets[first]) for first, _ in self.chunk_batches]
        return np.array([*starts, self.num_rows], dtype=np.int64)

    def chunks(self) -> Iterator[pa.Table]:
        """The chunks in key order, one at a time."""
        with pa.OSFile(str(self.path)) as file:
            reader = ipc.open_file(file)
            for first, stop in self.chunk_batches:
                batches = [reader.get_batch(index) for index in range(first, stop)]
                yield pa.Table.from_batches(batches, schema=self.schema)

    def take(self, positions: np.ndarray) -> pa.Table:
        """The rows at `positions` (ascending), reading only the record batches holding them."""
        if not len(positions):
            return self.schema.empty_table()
        batch_of = np.searchsorted(self.batch_offsets, positions, side="right") - 1
        indexes, starts = np.unique(batch_of, return_index=True)
        stops = [*starts[1:], len(positions)]
        parts = []
        with pa.OSFile(str(self.path)) as file:
            reader = ipc.open_file(file)
            for index, start, stop in zip(indexes, starts, stops, strict=True):
                rows = pa.Table.from_batches([reader.get_batch(int(index))], schema=self.schema)
                local = positions[start:stop] - self.batch_offsets[index]
                parts.append(rows.take(pa.array(local)))
        return pa.concat_tables(parts)


class SpillWriter:
    """Appends chunks to the sorted batch, noting where each starts and its key bounds."""

    def __init__(self, path: Path, schema: pa.Schema, unique_key: Sequence[str]) -> None:
        self.path = path
        self.schema = schema
        self.unique_key = tuple(unique_key)
        self.writer = ipc.new_file(str(path), schema)
        self.sizes: list[int] = []
        self.chunk_batches: list[tuple[int, int]] = []
        self.bounds: dict[str, list[pa.Scalar]] = {name: [] for name in unique_key}

    def write(self, rows: pa.Table) -> None:
        """Append `rows`, sorted on the key, as the next chunk: its keys above the last's."""
        if not rows.num_rows:
            return
        first = len(self.sizes)
        for batch in rows.to_batches(max_chunksize=READ_ROWS):
            if batch.num_rows:
                self.writer.write_batch(batch)
                self.sizes.append(batch.num_rows)
        self.chunk_batches.append((first, len(self.sizes)))
        for name in self.unique_key:
            low, high = pc.min_max(rows.column(name)).values()
            self.bounds[name] += [low, high]

    def close(self) -> SortedSpill:
        self.writer.close()
        bounds = pa.table(
            {
                name: pa.array([v.as_py() for v in values], self.schema.field(name).type)
                for name, values in self.bounds.items()
            }
        )
        return SortedSpill(
            self.path,
            self.schema,
            self.unique_key,
            np.cumsum([0, *self.sizes]).astype(np.int64),
            self.chunk_batches,
            bounds,
        )
