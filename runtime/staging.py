"""Stage a dlt source to parquet in a throwaway folder and read the root table's rows back.

dlt does the extraction, name normalisation (camelCase -> snake_case) and typing from the
generated column hints; Iceberg is written by the merge, not by dlt. Every run gets its own
working folder for the pipeline and the filesystem bucket, so runs never share state and
nothing lands in ~/.dlt or /var/dlt.
"""

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
from dlt.common.pipeline import LoadInfo
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource

from cascade.runtime.errors import SourceError


@dataclass(frozen=True)
class Staged:
    rows: pa.Table
    # dlt's naming convention for the source: how it turned the source's keys into columns.
    normalize_key: Callable[[str], str]


def stage(
    result: object, table_name: str, dlt_columns: Mapping[str, Mapping[str, Any]]
) -> Staged | None:
    """Run `result` (what the ingestion function returned) and return its root table's rows.

    Returns None when the source produced no rows for the root table.
    """
    data, root = _select_root(result, table_name)
    # The staging folder is empty on every run, so "replace" or "merge" dispositions of the
    # user's resource would mean nothing here; deduplication happens in the Iceberg merge.
    # An empty `columns` would erase the resource's own column hints rather than add none.
    columns = {name: {"name": name, **hint} for name, hint in dlt_columns.items()} or None
    root.apply_hints(table_name=table_name, write_disposition="append", columns=columns)
    with tempfile.TemporaryDirectory(prefix="cascade-dlt-") as workdir:
        pipeline = dlt.pipeline(
            pipeline_name=f"cascade_{table_name}",
            pipelines_dir=str(Path(workdir) / "pipelines"),
            destination=dlt.destinations.filesystem(bucket_url=str(Path(workdir) / "bucket")),
            dataset_name="staging",
        )
        with _arrow_lineage(pipeline.pipeline_name):
            load_info = pipeline.run(data, loader_file_format="parquet")
        load_info.raise_on_failed_jobs()
        naming = pipeline.default_schema.naming
        root_table = naming.normalize_table_identifier(table_name)
        # Read everything before the folder is removed.
        parts = [pq.read_table(url) for url in _root_files(load_info, root_table)]
    if not parts:
        return None
    rows = pa.concat_tables(parts, promote_options="permissive")
    return Staged(rows, naming.normalize_identifier) if rows.num_rows else None


@contextmanager
def _arrow_lineage(pipeline_name: str) -> Iterator[None]:
    """dlt adds `_dlt_load_id` and `_dlt_id` to rows given as dicts, but not to Arrow tables or
    data frames unless its parquet normalizer is told to; the generated schema requires both.
    Set for this pipeline only (dlt reads config under the pipeline's name first), and only
    while it runs."""
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
    section and its schema settings.
    """
    if isinstance(result, DltResource):
        return result, result
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


def _root_files(load_info: LoadInfo, root_table: str) -> list[str]:
    """Where dlt wrote the root table's parquet files.

    The load metrics hold the files' final locations; other files in the load belong to child
    tables (`<table>__<field>`, one per nested list) and to dlt's own bookkeeping.
    """
    return [
        job.remote_url
        for metrics in load_info.metrics.values()
        for step in metrics
        for job in step["job_metrics"].values()
        if job.table_name == root_table and job.remote_url
    ]
