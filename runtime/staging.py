"""Stage what a dlt source yields as parquet in a throwaway folder; read the rows back whole
(`stage`), or leave the files for the load to read a chunk at a time (`stage_files`).

dlt does the extraction (sources, pagination, incremental cursors) and stages parquet with its
`_dlt_load_id` and `_dlt_id`; the values are Cascade's: a `RecordConverter` at the end of the
root resource's pipe turns every item into Arrow data of the generated schema (records.py), so
dlt's normalizer sees typed Arrow data and writes it as it is. Every run gets its own working
folder for the pipeline, so runs never share state and nothing lands in ~/.dlt or /var/dlt.
"""

import os
import tempfile
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
from dlt.common.schema import Schema as DltSchema
from dlt.extract.items_transform import ItemTransform
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource
from pyiceberg.schema import Schema

from cascade.runtime.errors import BatchError, SourceError
from cascade.runtime.records import RecordConverter

# Each staged row's place in what the resource yielded: dlt may split a load into several
# files, listed in no particular order, and "the last row of a repeated key wins" needs it.
POSITION = "_cascade_position"


@dataclass(frozen=True)
class Staged:
    rows: pa.Table
    # Source keys the table has no column for (dotted paths), with the records holding them;
    # not the keys the contract declares ignored.
    dropped_keys: dict[str, int]


@dataclass(frozen=True)
class StagedFiles:
    """What one call of the ingestion function staged, left on disk: dlt's parquet files of
    the root table, each row with its place in what the resource yielded (`POSITION`)."""

    files: tuple[str, ...]
    num_rows: int
    dropped_keys: dict[str, int]

    def read(self) -> pa.Table:
        """All the rows, in the order the resource yielded them, without `POSITION`."""
        rows = pa.concat_tables([pq.read_table(path) for path in self.files])
        # The package lists its files in no such order.
        return rows.sort_by(POSITION).drop_columns([POSITION])

    def batches(self, rows: int, columns: list[str] | None = None) -> Iterator[pa.Table]:
        """The rows, at most `rows` at a time, with `POSITION` (in no particular order)."""
        for path in self.files:
            # Without pre-buffering: pyarrow would read every row group's columns ahead.
            with pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20) as file:
                for batch in file.iter_batches(batch_size=rows, columns=columns):
                    yield pa.Table.from_batches([batch])


def stage(
    result: object,
    identifier: str,
    schema: Schema,
    renamed_columns: Mapping[str, str] | None = None,
    ignored_keys: Collection[str] = (),
) -> Staged | None:
    """Run `result` (what the ingestion function returned) and return its root table's rows,
    with the generated `schema`'s data columns and dlt's `_dlt_load_id` and `_dlt_id`. A key
    named in `renamed_columns` (old name -> column, the contract's) fills the renamed column;
    a key named in `ignored_keys` (dotted paths, the contract's) is dropped and not reported.

    Returns None when the source yielded no rows. Raises `BatchError` naming each column whose
    values break the value rules (records.py), `SourceError` when `result` is not a dlt
    source or resource; an error of the source itself propagates as dlt raises it.
    """
    with tempfile.TemporaryDirectory(prefix="cascade-dlt-") as workdir:
        staged = stage_files(
            result, identifier, schema, Path(workdir), renamed_columns, ignored_keys
        )
        # Read everything before the folder is removed.
        return None if staged is None else Staged(staged.read(), staged.dropped_keys)


def stage_files(
    result: object,
    identifier: str,
    schema: Schema,
    folder: Path,
    renamed_columns: Mapping[str, str] | None = None,
    ignored_keys: Collection[str] = (),
) -> StagedFiles | None:
    """`stage`, leaving the rows in dlt's parquet files under `folder` (an empty folder that
    the caller removes when it no longer needs them), so that a big load can read them a
    chunk at a time (runtime/chunking.py)."""
    table_name = identifier.rsplit(".", 1)[-1]
    _keep_timezones()
    data, root = _select_root(result, table_name)
    pipeline = dlt.pipeline(
        pipeline_name=f"cascade_{table_name}",
        pipelines_dir=str(folder / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=str(folder / "bucket")),
        dataset_name="staging",
    )
    naming = data.schema.naming if isinstance(data, DltSource) else DltSchema(table_name).naming
    converter = RecordConverter(schema, naming, table_name, renamed_columns, ignored_keys)
    # The staging folder is empty on every run, so "replace" or "merge" dispositions of the
    # user's resource would mean nothing here (deduplication happens in the Iceberg merge);
    # the resource's column hints are dropped, because the converter decides the types, and
    # so are its keys (dlt would mark them non-null and warn that the Arrow data differs;
    # the unique key is Cascade's, checked against the contract).
    root.apply_hints(
        table_name=table_name,
        write_disposition="append",
        columns={},
        primary_key=[],
        merge_key=[],
    )
    root.add_step(converter)
    root.add_step(_Numbering())
    with _arrow_lineage(pipeline.pipeline_name):
        pipeline.extract(data, loader_file_format="parquet")
        if converter.problems:
            raise _refusal(converter, identifier)
        if not converter.rows:
            return None
        load_id = pipeline.normalize().loads_ids[0]
    files = _root_files(pipeline, load_id, naming.normalize_table_identifier(table_name))
    rows = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    return StagedFiles(tuple(files), rows, dict(converter.problems.dropped))


def configuration_refusal(error: BaseException, identifier: str) -> SourceError | None:
    """The refusal for an error of dlt's configuration (a secret or config value missing or of
    the wrong type), raised when the ingestion function is called or, wrapped in dlt's
    `PipelineStepFailed`, while its resource runs: no retry finds the value. None for anything
    else, such as a network error, which propagates and is retried by the asset's policy."""
    from dlt.common.configuration.exceptions import ConfigurationException

    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ConfigurationException):
            return SourceError(
                f"The dlt source for {identifier} is missing configuration; nothing was "
                f"written.\n{type(cause).__name__}: {cause}"
            )
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _keep_timezones() -> None:
    """Make pyarrow convert aware datetimes by their instant again.

    Pandera sets PYARROW_IGNORE_TIMEZONE=1 when it is imported, for pyspark, unless it is set
    already; pyarrow reads it at every conversion of Python datetimes, and with it takes a
    zoned datetime's wall time as UTC: a resource building its own Arrow table from
    `datetime(10, tzinfo=Berlin)` would land at 10:00Z instead of 09:00Z. An empty value is
    unset for pyarrow and set for Pandera.
    """
    os.environ["PYARROW_IGNORE_TIMEZONE"] = ""


class _Numbering(ItemTransform[Any]):
    """A pipe step right after the converter: numbers the rows of each table it passes on."""

    placement_affinity: ClassVar[float] = RecordConverter.placement_affinity + 0.1

    def __init__(self) -> None:
        super().__init__(lambda item: item)
        self.rows = 0

    def __call__(self, item: pa.Table, meta: Any = None) -> pa.Table:
        position = pa.array(range(self.rows, self.rows + item.num_rows), pa.int64())
        self.rows += item.num_rows
        return item.append_column(POSITION, position)


def _refusal(converter: RecordConverter, identifier: str) -> BatchError:
    lines = converter.problems.lines()
    return BatchError(
        f"The records for {identifier} do not fit its schema; nothing was written.\n  "
        + "\n  ".join(lines),
        metadata={"refused_columns": len(lines)},
    )


@contextmanager
def _arrow_lineage(pipeline_name: str) -> Iterator[None]:
    """dlt adds `_dlt_load_id` and `_dlt_id` to Arrow data only when its parquet normalizer is
    told to; the generated schema requires both. Set for this pipeline only (dlt reads config
    under the pipeline's name first), and only while it runs."""
    prefix = f"{pipeline_name.upper()}__NORMALIZE__PARQUET_NORMALIZER__"
    names = [f"{prefix}ADD_DLT_LOAD_ID", f"{prefix}ADD_DLT_ID"]
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, "true"))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _select_root(result: object, table_name: str) -> tuple[DltSource | DltResource, DltResource]:
    """What to run, and the resource whose rows become the table.

    A source keeps only its root resource selected: the only selected one, or the one named
    like the table. Running the source rather than the bare resource keeps its configuration
    section and its schema settings (among them its naming convention).
    """
    if isinstance(result, DltResource):
        # A copy: the hints and the conversion step must not stay on a resource that the
        # user's module may hand out again.
        copy = result.with_name(result.name)
        return copy, copy
    if not isinstance(result, DltSource):
        raise SourceError(
            f"The ingestion function for {table_name!r} returned {type(result).__name__}; "
            "it must return a dlt source or resource (or None when there is no data)."
        )
    selected = result.selected_resources
    if len(selected) == 1:
        [name] = selected
    elif table_name in selected:
        name = table_name
    else:
        raise SourceError(
            f"The dlt source for {table_name!r} has {len(selected)} selected resources "
            f"({', '.join(sorted(selected)) or 'none'}); select exactly one or name one "
            f"{table_name!r}."
        )
    # with_resources returns a clone: hints must go on the clone's resource.
    source = result.with_resources(name)
    return source, source.resources[name]


def _root_files(pipeline: dlt.Pipeline, load_id: str, root_table: str) -> list[str]:
    """The parquet files dlt's normalizer wrote for the root table, in its load package.

    They are read from the package rather than loaded to a destination first: the merge into
    Iceberg is the load. Other files in the package belong to dlt's own bookkeeping.
    """
    package = pipeline.get_load_package_info(load_id)
    return [
        job.file_path
        for jobs in package.jobs.values()
        for job in jobs
        if job.job_file_info.table_name == root_table
    ]
