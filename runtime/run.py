"""One materialization of an ingestion asset: the steps of DESIGN.md section 4, in order.

Everything that can reject the data (staging, the schema cast, deduplication, Pandera) runs
before the catalog is touched, and the merge is one atomic commit, so a failed run leaves the
table as it was.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from pandera.api.dataframe.model import DataFrameModel
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.refs import MAIN_BRANCH

from cascade.runtime.batch import conform, deduplicate
from cascade.runtime.catalog import IcebergResource
from cascade.runtime.config import IngestionConfig
from cascade.runtime.errors import BranchError, ValidationFailed
from cascade.runtime.merge import merge_batch
from cascade.runtime.report import column_schema, no_data
from cascade.runtime.staging import stage
from cascade.runtime.table import prepare_table
from cascade.runtime.validation import validate_batch

# The run tag that selects the Iceberg branch, e.g. `dagster job launch --tags '{"branch": "dev"}'`.
BRANCH_TAG = "branch"


def run_ingestion(
    context: dg.AssetExecutionContext,
    *,
    config: IngestionConfig,
    iceberg: IcebergResource,
    source: Callable[[str], object],
    validation_schema: type[DataFrameModel] | None,
    identifier: str,
    schema: Schema,
    partition_spec: PartitionSpec,
    unique_key: Sequence[str],
    dlt_columns: Mapping[str, Mapping[str, Any]],
    validate: bool,
    max_runtime_seconds: int | None,
    retired_field_ids: Mapping[int, str] | None = None,
    last_column_id: int | None = None,
    last_partition_id: int | None = None,
) -> dg.MaterializeResult:
    """Load one daily partition of `source` into the Iceberg table `identifier`.

    `validation_schema` is a Pandera model for pandas or for polars, or None when the table
    comes from an explicit Iceberg schema; `validate=False` skips validation either way.
    `retired_field_ids`, `last_column_id` and `last_partition_id` are the schema module's
    RETIRED_FIELD_IDS, LAST_COLUMN_ID and LAST_PARTITION_ID: a table created here gets exactly
    the generated ids and reserves those up to the last ones.

    `max_runtime_seconds` is accepted but not enforced here yet; enforcing it (inside the run
    or through Dagster's run monitoring) is a separate change that plugs in at this call.
    """
    started = time.monotonic()
    log = context.log
    branch = context.run.tags.get(BRANCH_TAG) or config.branch_name
    partition_date = context.partition_key
    table_name = identifier.rsplit(".", 1)[-1]
    log.info(f"Loading {identifier} for {partition_date} on branch {branch}")

    result = source(partition_date)
    if result is None:
        log.info(f"The ingestion function returned None for {partition_date}: no data")
        return no_data(branch, partition_date, identifier)
    staged = stage(result, table_name, dlt_columns)
    dlt_elapsed = time.monotonic() - started
    if staged is None:
        log.info(f"dlt staged no rows for {table_name} in {dlt_elapsed:.2f}s: no data")
        return no_data(branch, partition_date, identifier)
    log.info(f"dlt staged {staged.rows.num_rows} rows for {table_name} in {dlt_elapsed:.2f}s")

    conformed = conform(
        staged.rows, schema, ingested_at=datetime.now(UTC), normalize_key=staged.normalize_key
    )
    if conformed.dropped_columns:
        log.warning(
            f"Dropped {len(conformed.dropped_columns)} column(s) or struct key(s) the table schema "
            "does not have: " + ", ".join(conformed.dropped_columns)
        )
    batch, rows_deduplicated = deduplicate(conformed.batch, unique_key)
    if rows_deduplicated:
        log.info(f"Dropped {rows_deduplicated} earlier row(s) with a repeated unique key")

    validate_started = time.monotonic()
    if validate and validation_schema is not None:
        try:
            validate_batch(batch, validation_schema, identifier)
        except ValidationFailed as failure:
            log.error(failure.description)
            raise
        log.info(f"{validation_schema.__name__} accepted {batch.num_rows} rows")
    else:
        log.info("No Pandera validation for this table: " + _why_unvalidated(validate))
    validate_elapsed = time.monotonic() - validate_started

    merge_started = time.monotonic()
    catalog = iceberg.load_catalog()
    if branch != MAIN_BRANCH and not catalog.table_exists(identifier):
        # Refuse before creating anything: a branch starts from main's current snapshot.
        raise BranchError(
            f"Cannot write branch {branch!r}: {identifier} does not exist yet. Load main first."
        )
    prepared = prepare_table(
        catalog,
        identifier,
        schema,
        partition_spec,
        retired_field_ids=retired_field_ids,
        last_column_id=last_column_id,
        last_partition_id=last_partition_id,
    )
    if prepared.created:
        log.info(f"Created table {identifier}")
    if prepared.added_columns:
        log.info(f"Added optional column(s) to {identifier}: {', '.join(prepared.added_columns)}")
    table = prepared.table
    outcome = merge_batch(table, batch, unique_key, branch)
    merge_elapsed = time.monotonic() - merge_started
    log.info(
        f"Merged into {identifier}@{branch} in {merge_elapsed:.2f}s: "
        f"{outcome.rows_inserted} inserted, {outcome.rows_updated} updated, "
        f"snapshot {outcome.snapshot_id}"
    )

    return dg.MaterializeResult(
        metadata={
            "branch": branch,
            "partition_date": partition_date,
            "rows_inserted": outcome.rows_inserted,
            "rows_deleted": outcome.rows_deleted,
            "rows_updated": outcome.rows_updated,
            "rows_deduplicated": rows_deduplicated,
            "rows_dropped_columns": len(conformed.dropped_columns),
            "unique_key": ",".join(unique_key),
            "table_name": identifier,
            # Snapshot ids use all 64 bits, more than the Dagster UI's JavaScript numbers keep.
            "snapshot_id": str(outcome.snapshot_id),
            "metadata_location": table.metadata_location,
            "dlt_elapsed_seconds": round(dlt_elapsed, 3),
            "validate_elapsed_seconds": round(validate_elapsed, 3),
            "merge_elapsed_seconds": round(merge_elapsed, 3),
            "total_elapsed_seconds": round(time.monotonic() - started, 3),
            "dagster/row_count": table.scan(snapshot_id=outcome.snapshot_id).count(),
            "dagster/column_schema": column_schema(schema, unique_key),
        }
    )


def _why_unvalidated(validate: bool) -> str:
    return "validate=False" if not validate else "it has no validation_schema"
