"""One materialization of an ingestion asset: the load steps of ARCHITECTURE.md, in order.

Everything that can reject the data (staging, the schema cast, deduplication, Pandera) runs
before the catalog is touched, and the merge is one atomic commit, so a failed run leaves the
table as it was.
"""

import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
from pandera.api.dataframe.model import DataFrameModel
from pyiceberg.table.refs import MAIN_BRANCH

from cascade.runtime.batch import conform, last_of_each_key
from cascade.runtime.branch import check_branch_name
from cascade.runtime.catalog import IcebergResource
from cascade.runtime.chunking import chunkable_key, prepare_chunked
from cascade.runtime.config import DEFAULT_CHUNK_ROWS, IngestionConfig
from cascade.runtime.contract import TableContract
from cascade.runtime.errors import (
    BranchError,
    CascadeError,
    ModelError,
    PartitionError,
    RunConfigError,
    ValidationFailed,
)
from cascade.runtime.limits import Deadline
from cascade.runtime.merge import INSERTED, UNCHANGED, UPDATED, MergeOutcome, merge_batch
from cascade.runtime.report import column_schema, no_data
from cascade.runtime.spill import SortedSpill
from cascade.runtime.staging import StagedFiles, configuration_refusal, stage_files
from cascade.runtime.table import prepare_table
from cascade.runtime.validation import ChunkedValidation, model_schema, validate_batch

# The run tag that selects the Iceberg branch, e.g. `dagster job launch --tags '{"branch": "dev"}'`.
BRANCH_TAG = "branch"
# The asset check a generated asset declares when it validates with Pandera.
PANDERA_CHECK = "pandera_validation"


@dataclass(frozen=True)
class Batch:
    """Rows ready to merge, and what preparing them found."""

    # In memory, or, for a batch of more than `chunk_rows` rows, sorted on the key on disk.
    rows: pa.Table | SortedSpill
    rows_deduplicated: int
    dropped_keys: tuple[str, ...]  # source keys the table has no column for
    dlt_elapsed: float
    conform_elapsed: float  # the cast to the generated schema and the deduplication
    validate_elapsed: float
    # For each row, the index of the run's partition that delivered it (a load in chunks of
    # one partition: empty); and per partition, the rows its call of the function delivered
    # and those a later row replaced.
    partition_of_rows: np.ndarray
    rows_delivered: tuple[int, ...]
    rows_replaced_later: tuple[int, ...]

    @property
    def num_rows(self) -> int:
        return self.rows.num_rows


@dataclass(frozen=True)
class PartitionArgument:
    """What the ingestion function receives for the run's partition (README, "Partitions and
    automation"): a day, `YYYY-MM-DD` (the day of a daily partition, the first day of a weekly
    or monthly one), or the start of an hourly partition, `YYYY-MM-DDTHH:00:00+00:00`."""

    value: str
    is_date: bool

    @property
    def metadata(self) -> dict[str, str]:
        """How a load reports the partition (README, "What a load reports")."""
        return (
            {"partition_date": self.value, "partition": self.value}
            if self.is_date
            else {"partition": self.value}
        )


def partition_arguments(context: dg.AssetExecutionContext) -> list[PartitionArgument] | None:
    """The run's partitions, in order, as the ingestion function receives them: one, or the
    range of a single-run backfill; None for an unpartitioned asset (`partitions=None`), whose
    function is called without an argument.

    Derived from the asset's own partitions definition, so the generated asset passes nothing
    for it: an hourly partition's Dagster key (`2024-01-01-05:00`) becomes its start in ISO
    8601, UTC, and a daily, weekly or monthly one its first day."""
    partitions_def = context.assets_def.partitions_def
    if partitions_def is None:
        return None
    return [_argument(partitions_def, key) for key in context.partition_keys]


def _argument(partitions_def: dg.PartitionsDefinition, key: str) -> PartitionArgument:
    if not isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return PartitionArgument(key, is_date=False)
    start = partitions_def.time_window_for_partition_key(key).start.astimezone(UTC)
    if isinstance(partitions_def, dg.HourlyPartitionsDefinition):
        return PartitionArgument(start.isoformat(), is_date=False)
    return PartitionArgument(start.date().isoformat(), is_date=True)


def _run_metadata(partitions: list[PartitionArgument] | None) -> dict[str, str | int]:
    """How a load reports its partitions (README, "What a load reports"): one partition's own
    keys, or the first and last of a range and how many."""
    if partitions is None:
        return {}
    if len(partitions) == 1:
        return dict(partitions[0].metadata)
    return {
        "partition_range": f"{partitions[0].value}...{partitions[-1].value}",
        "partitions": len(partitions),
    }


def run_ingestion(
    context: dg.AssetExecutionContext,
    *,
    config: IngestionConfig,
    iceberg: IcebergResource,
    source: Callable[..., object],
    validation_schema: type[DataFrameModel] | None,
    table: TableContract,
    validate: bool,
    max_runtime_seconds: int | None,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Load one partition of `source` (or, for an unpartitioned asset, what it returns for the
    whole table) into the Iceberg table `table` declares.

    A generator, so that a failed Pandera check is reported (with its failure sample) before
    the load fails: generated assets `yield from` it, passing the schema module's `TABLE`.

    `validation_schema` is a Pandera model for pandas or for polars, or None when the table
    comes from an explicit Iceberg schema; `validate=False` skips validation either way. A
    table created here gets exactly the contract's field ids; an existing one is evolved to the
    contract where that is safe (runtime/table.py). A load that runs past `max_runtime_seconds`
    is stopped before it commits (runtime/limits.py). The run tag `branch` (or the config's
    `branch_name`) selects the Iceberg branch written. A run whose partitions deliver more
    than the config's `chunk_rows` rows is prepared and merged a chunk at a time
    (runtime/chunking.py), in files of a temporary folder removed when the load ends.

    Raises, each a `dagster.Failure` that is not retried: `SourceError` (the function returned
    no usable dlt source or resource, or a dlt secret or config value is missing),
    `BatchError` (values that do not fit the schema, with the column, the reason and sample
    values), `ValidationFailed` (Pandera rejected rows), `ModelError` (Pandera cannot build or
    run the model), `TableMismatchError` (the table cannot be made to match the contract),
    `BranchError` (an invalid branch name, checked before the source runs),
    `RunConfigError` (a `chunk_rows` below 1, checked then too), `CatalogConfigError`;
    `LoadTimeout` past the deadline. Whatever is raised, nothing was committed. Errors of the
    source itself, the network and the catalog propagate and are retried by the asset's policy.
    """
    started = time.monotonic()
    log = context.log
    # A tag that is set wins even when empty: `branch=""` is refused, not read as main.
    tag = context.run.tags.get(BRANCH_TAG)
    branch = config.branch_name if tag is None else tag
    partitions = partition_arguments(context)
    if partitions == []:
        tags = context.run.tags
        named = "...".join(
            tags.get(f"dagster/asset_partition_range_{end}", "?") for end in ("start", "end")
        )
        asset = context.asset_key.to_user_string()
        raise PartitionError(
            f"The run's partition range {named} holds no partition of {asset}: its first "
            "partition must not come after its last. Nothing was loaded."
        )
    check_branch_name(branch)  # before the source runs and the catalog is touched
    if config.chunk_rows < 1:
        raise RunConfigError(
            f"chunk_rows must be at least 1, not {config.chunk_rows}; nothing was loaded."
        )
    log.info(f"Loading {table.identifier} for {_described(partitions)} on branch {branch}")

    # A single-run backfill has the time of a load for each of its partitions.
    deadline = Deadline(max_runtime_seconds, partitions=len(partitions or [None]))
    with tempfile.TemporaryDirectory(prefix="cascade-load-") as folder:
        yield from _load(
            context, config, iceberg, source, validation_schema, table, validate, branch,
            partitions, deadline, started, Path(folder)
        )  # fmt: skip


def _load(
    context: dg.AssetExecutionContext,
    config: IngestionConfig,
    iceberg: IcebergResource,
    source: Callable[..., object],
    validation_schema: type[DataFrameModel] | None,
    table: TableContract,
    validate: bool,
    branch: str,
    partitions: list[PartitionArgument] | None,
    deadline: Deadline,
    started: float,
    folder: Path,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """The load's steps after the branch check, with `folder` for its files (dlt's staging,
    the chunks of a big batch), removed when the load ends."""
    log = context.log
    partition_metadata = _run_metadata(partitions)
    identifier, unique_key = table.identifier, table.unique_key
    try:
        with deadline.interrupting():
            deadline.check("the ingestion function and dlt staging")
            batch = prepare_batch(
                context,
                source,
                partitions,
                table,
                validation_schema if validate else None,
                chunk_rows=config.chunk_rows,
                folder=folder,
            )
    except (ValidationFailed, ModelError) as failure:
        if _declares_pandera_check(context):
            # Yielded before the failure, so the check's failure sample shows in Dagster.
            yield dg.AssetCheckResult(
                check_name=PANDERA_CHECK,
                passed=False,
                metadata={"failures": dg.MetadataValue.md(failure.description or "")},
            )
        raise
    if batch is None:
        # The declared asset check gets its result too: a step that declares a check and
        # yields none fails with DagsterStepOutputNotFoundError.
        yield no_data(
            branch,
            partition_metadata,
            identifier,
            _pandera_passed(context, validation_schema, 0),
        )
        return
    if not validate or validation_schema is None:
        log.info("No Pandera validation for this table: " + _why_unvalidated(validate))

    merge_started = time.monotonic()
    catalog = iceberg.load_catalog()
    if branch != MAIN_BRANCH and not catalog.table_exists(identifier):
        # Refuse before creating anything: a branch starts from main's current snapshot.
        raise BranchError(
            f"Cannot write branch {branch!r}: {identifier} does not exist yet. Load main first."
        )
    with deadline.interrupting():
        deadline.check("creating or checking the table")
        prepared = prepare_table(catalog, table)
    if prepared.created:
        log.info(f"Created table {identifier}")
    for change in prepared.changes:
        log.info(f"Evolved {identifier}: {change.code} {change.rule.name}: {change.reason}")
    deadline.check("the merge")  # the commit itself is never interrupted
    iceberg_table = prepared.table
    outcome = merge_batch(iceberg_table, batch.rows, unique_key, branch)
    merge_elapsed = time.monotonic() - merge_started
    log.info(
        f"Merged into {identifier}@{branch} in {merge_elapsed:.2f}s: "
        f"{outcome.rows_inserted} inserted, {outcome.rows_updated} updated, "
        f"{outcome.rows_unchanged} unchanged, {outcome.rows_deleted} deleted, "
        f"snapshot {outcome.snapshot_id}"
    )

    check_results = _pandera_passed(context, validation_schema, batch.num_rows)
    yield dg.MaterializeResult(
        metadata={
            # Every key is defined in README.md, "What a load reports".
            "branch": branch,
            **partition_metadata,
            "rows_inserted": outcome.rows_inserted,
            "rows_updated": outcome.rows_updated,
            "rows_unchanged": outcome.rows_unchanged,
            "rows_deleted": outcome.rows_deleted,
            "rows_deduplicated": batch.rows_deduplicated,
            "rows_dropped_columns": len(batch.dropped_keys),
            "unique_key": ",".join(unique_key),
            "table_name": identifier,
            # Snapshot ids use all 64 bits, more than the Dagster UI's JavaScript numbers keep.
            "snapshot_id": str(outcome.snapshot_id),
            "metadata_location": iceberg_table.metadata_location,
            # How much of the table the merge touched: it reads and rewrites only data files
            # that can hold a batch key.
            "files_scanned": outcome.files_scanned,
            "files_rewritten": outcome.files_rewritten,
            "files_added": outcome.files_added,
            "dlt_elapsed_seconds": round(batch.dlt_elapsed, 3),
            "conform_elapsed_seconds": round(batch.conform_elapsed, 3),
            "validate_elapsed_seconds": round(batch.validate_elapsed, 3),
            "merge_elapsed_seconds": round(merge_elapsed, 3),
            "total_elapsed_seconds": round(time.monotonic() - started, 3),
            "dagster/row_count": iceberg_table.scan(snapshot_id=outcome.snapshot_id).count(),
            "dagster/column_schema": column_schema(table.schema, unique_key),
            **(
                {"partition_counts": partition_counts(partitions, batch, outcome)}
                if partitions and len(partitions) > 1
                else {}
            ),
        },
        check_results=check_results,
    )


def partition_counts(
    partitions: list[PartitionArgument], batch: Batch, outcome: MergeOutcome
) -> dg.TableMetadataValue:
    """Per partition of a single-run backfill: the rows its function call delivered, those a
    row of a later partition (or of itself) replaced in the batch, and what the merge did with
    the rest. Each row of the batch is counted once, with the partition that delivered it."""
    counts = [np.bincount(batch.partition_of_rows[outcome.row_outcomes == kind],
                          minlength=len(partitions))
              for kind in (INSERTED, UPDATED, UNCHANGED)]  # fmt: skip
    records = [
        dg.TableRecord(
            {
                "partition": partition.value,
                "rows_delivered": batch.rows_delivered[index],
                "rows_deduplicated": batch.rows_replaced_later[index],
                "rows_inserted": int(counts[0][index]),
                "rows_updated": int(counts[1][index]),
                "rows_unchanged": int(counts[2][index]),
            }
        )
        for index, partition in enumerate(partitions)
    ]
    columns = [dg.TableColumn("partition", "string")] + [
        dg.TableColumn(name, "int")
        for name in (
            "rows_delivered",
            "rows_deduplicated",
            "rows_inserted",
            "rows_updated",
            "rows_unchanged",
        )
    ]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns))


def prepare_batch(
    context: dg.AssetExecutionContext,
    source: Callable[..., object],
    partitions: list[PartitionArgument] | None,
    table: TableContract,
    validation_schema: type[DataFrameModel] | None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    folder: Path,
) -> Batch | None:
    """Run the source through dlt for each of the run's partitions, in order, then conform,
    deduplicate (a later partition's row wins) and validate them as one batch: no catalog
    access. None when no partition had rows.

    dlt stages under `folder`, which must outlive the batch: a batch of more than
    `chunk_rows` delivered rows is prepared a chunk at a time into files there
    (runtime/chunking.py) and merged from them."""
    identifier, schema = table.identifier, table.schema
    log = context.log
    started = time.monotonic()
    staged: list[StagedFiles | None] = []
    dropped_keys: Counter[str] = Counter()
    for index, partition in enumerate(partitions or [None]):
        part = _stage_partition(
            context, source, partition, table, folder / f"partition-{index}",
            in_range=partitions is not None and len(partitions) > 1,
        )  # fmt: skip
        staged.append(part)
        if part is not None:
            dropped_keys.update(part.dropped_keys)
    rows_delivered = [part.num_rows if part else 0 for part in staged]
    dlt_elapsed = time.monotonic() - started
    if not any(rows_delivered):
        return None
    if dropped_keys:
        _refuse_or_warn_dropped(dropped_keys, validation_schema, log)

    ingested_at = datetime.now(UTC)
    if sum(rows_delivered) > chunk_rows:
        if chunkable_key(schema.as_arrow(), table.unique_key):
            return _prepare_in_chunks(
                context, staged, table, validation_schema, chunk_rows, folder, ingested_at,
                dlt_elapsed, tuple(dropped_keys)
            )  # fmt: skip
        log.info(
            f"The unique key of {identifier} has a type that is not sorted in chunks: "
            f"its {sum(rows_delivered)} rows are prepared in memory"
        )

    conform_started = time.monotonic()
    staged_parts = [(index, part.read()) for index, part in enumerate(staged) if part]
    conformed = pa.concat_tables(
        [conform(rows, schema, ingested_at=ingested_at) for _, rows in staged_parts]
    )
    partition_of_rows = np.concatenate(
        [np.full(rows.num_rows, index, dtype=np.int64) for index, rows in staged_parts]
    )
    kept = last_of_each_key(conformed, table.unique_key)
    rows = conformed if kept is None else conformed.take(kept)
    rows_deduplicated = conformed.num_rows - rows.num_rows
    replaced = np.bincount(partition_of_rows, minlength=len(rows_delivered))
    if kept is not None:
        partition_of_rows = partition_of_rows[kept.to_numpy()]
    replaced = replaced - np.bincount(partition_of_rows, minlength=len(rows_delivered))
    if rows_deduplicated:
        log.info(f"Dropped {rows_deduplicated} earlier row(s) with a repeated unique key")

    validate_started = time.monotonic()
    conform_elapsed = validate_started - conform_started
    if validation_schema is not None:
        try:
            validate_batch(rows, validation_schema, identifier)
        except (ValidationFailed, ModelError) as failure:
            if isinstance(failure, ValidationFailed) and partitions and len(staged_parts) > 1:
                failure = _naming_partitions(
                    failure, rows, partition_of_rows, partitions, validation_schema, identifier
                )
            log.error(failure.description)
            raise failure from None
        log.info(f"{validation_schema.__name__} accepted {rows.num_rows} rows")
    return Batch(
        rows,
        rows_deduplicated,
        tuple(dropped_keys),
        dlt_elapsed,
        conform_elapsed,
        time.monotonic() - validate_started,
        partition_of_rows,
        tuple(rows_delivered),
        tuple(int(n) for n in replaced),
    )


def _prepare_in_chunks(
    context: dg.AssetExecutionContext,
    staged: list[StagedFiles | None],
    table: TableContract,
    validation_schema: type[DataFrameModel] | None,
    chunk_rows: int,
    folder: Path,
    ingested_at: datetime,
    dlt_elapsed: float,
    dropped_keys: tuple[str, ...],
) -> Batch:
    """`prepare_batch` for more than `chunk_rows` rows: sorted, deduplicated and validated a
    chunk at a time into a `SortedSpill` (runtime/chunking.py)."""
    log, identifier = context.log, table.identifier
    rows_delivered = [part.num_rows if part else 0 for part in staged]
    log.info(
        f"Preparing {sum(rows_delivered)} rows for {identifier} in chunks of at most about "
        f"{chunk_rows} rows"
    )
    validation = None
    if validation_schema is not None:
        validation = ChunkedValidation(validation_schema, identifier, table.unique_key)
        if validation.whole_batch:
            log.info(
                f"{validation_schema.__name__} has frame-wide checks or parsers: it is "
                "validated on the whole batch, gathered from the chunks"
            )
    try:
        prepared = prepare_chunked(
            staged,
            table.schema,
            table.unique_key,
            validation,
            chunk_rows,
            folder,
            ingested_at,
        )
    except (ValidationFailed, ModelError) as failure:
        log.error(failure.description)
        raise
    spill = prepared.spill
    if prepared.rows_deduplicated:
        log.info(f"Dropped {prepared.rows_deduplicated} earlier row(s) with a repeated unique key")
    if validation_schema is not None:
        log.info(f"{validation_schema.__name__} accepted {spill.num_rows} rows")
    return Batch(
        spill,
        prepared.rows_deduplicated,
        dropped_keys,
        dlt_elapsed,
        prepared.conform_elapsed,
        prepared.validate_elapsed,
        prepared.partition_of_rows,
        tuple(rows_delivered),
        tuple(int(n) for n in prepared.rows_replaced),
    )


def _naming_partitions(
    failure: ValidationFailed,
    rows: pa.Table,
    partition_of_rows: np.ndarray,
    partitions: list[PartitionArgument],
    validation_schema: type[DataFrameModel],
    identifier: str,
) -> ValidationFailed:
    """The refusal of a backfill's batch, with the partitions whose rows fail: each
    partition's rows validated alone (only after a refusal, so a load that passes pays
    nothing). A check that no partition fails alone spans partitions (`unique=True`)."""
    failing = []
    for index in np.unique(partition_of_rows):
        own = rows.filter(pa.array(partition_of_rows == index))
        try:
            validate_batch(own, validation_schema, identifier)
        except ValidationFailed:
            failing.append(partitions[int(index)].value)
    where = (
        f"The rows that fail are in the partition(s) {', '.join(failing)}."
        if failing
        else "No partition fails alone: the check spans partitions (such as unique=True)."
    )
    return ValidationFailed(
        f"{failure.description}\n{where}",
        metadata={**failure.metadata, "partitions": ", ".join(failing)},
    )


def _stage_partition(
    context: dg.AssetExecutionContext,
    source: Callable[..., object],
    partition: PartitionArgument | None,
    table: TableContract,
    folder: Path,
    in_range: bool,
) -> StagedFiles | None:
    """One call of the ingestion function, for `partition`, through dlt's staging in
    `folder`; None when it had no rows. `in_range`: the partition is one of a backfill's,
    which a refusal then names."""
    identifier, log = table.identifier, context.log
    started = time.monotonic()
    try:
        result = source() if partition is None else source(partition.value)
        if result is None:
            log.info(f"The ingestion function returned None for {_described(partition)}: no data")
            return None
        staged = stage_files(
            result,
            identifier,
            table.schema,
            folder,
            table.renamed_columns,
            table.ignored_keys,
        )
    except CascadeError as cascade_refusal:
        if partition is None or not in_range:
            raise
        # In a backfill, which of its partitions holds what was refused.
        raise type(cascade_refusal)(
            f"Partition {partition.value}: {cascade_refusal.description}",
            cascade_refusal.metadata,
        ) from None
    except Exception as error:
        if (refusal := configuration_refusal(error, identifier)) is not None:
            raise refusal from error
        if partition is not None:
            log.error(f"The ingestion function failed for {partition.value}: {error!r}")
        raise  # the source's own errors, the network's: the retry policy's business
    elapsed = time.monotonic() - started
    if staged is None:
        log.info(
            f"The source yielded no rows for {identifier} ({_described(partition)}) in "
            f"{elapsed:.2f}s: no data"
        )
        return None
    log.info(
        f"Staged {staged.num_rows} rows for {identifier} ({_described(partition)}) "
        f"in {elapsed:.2f}s"
    )
    return staged


def _refuse_or_warn_dropped(
    dropped_keys: Mapping[str, int],
    validation_schema: type[DataFrameModel] | None,
    log: logging.Logger | dg.DagsterLogManager,
) -> None:
    """Source keys the table has no column for: refused by a strict model (`Config.strict =
    True`: columns the model does not have are an error to Pandera), else a warning."""
    dropped = ", ".join(f"{key} ({n} record(s))" for key, n in sorted(dropped_keys.items()))
    if validation_schema is not None and model_schema(validation_schema).strict is True:
        message = (
            f"{validation_schema.__name__} is strict and the records hold key(s) it does not "
            f"have; nothing was written.\n(records): unknown keys: {dropped}"
        )
        log.error(message)
        raise ValidationFailed(message, metadata={"model": validation_schema.__name__})
    log.warning(
        f"Dropped {len(dropped_keys)} key(s) the table schema does not have: "
        f"{dropped}. {_how_to_silence(dropped_keys)}"
    )


def _described(partitions: PartitionArgument | list[PartitionArgument] | None) -> str:
    if partitions is None:
        return "the whole table"
    if isinstance(partitions, PartitionArgument):
        return partitions.value
    if len(partitions) == 1:
        return partitions[0].value
    return f"{partitions[0].value}...{partitions[-1].value} ({len(partitions)} partitions)"


def _how_to_silence(keys: Iterable[str]) -> str:
    """How to stop the warning about dropped `keys`: keep them, or declare them ignored."""
    return (
        "To keep them, declare them in the model; to drop them without this warning, "
        f"add ignored_keys={tuple(sorted(keys))!r} to the ingestion's decorator."
    )


def _pandera_passed(
    context: dg.AssetExecutionContext,
    validation_schema: type[DataFrameModel] | None,
    rows: int,
) -> list[dg.AssetCheckResult]:
    """The declared Pandera check's result for a batch the model accepted (`rows` rows)."""
    if not _declares_pandera_check(context) or validation_schema is None:
        return []
    metadata: dict[str, dg.RawMetadataValue] = {"model": validation_schema.__name__, "rows": rows}
    return [dg.AssetCheckResult(check_name=PANDERA_CHECK, passed=True, metadata=metadata)]


def _declares_pandera_check(context: dg.AssetExecutionContext) -> bool:
    key = dg.AssetCheckKey(context.asset_key, PANDERA_CHECK)
    return key in context.selected_asset_check_keys


def _why_unvalidated(validate: bool) -> str:
    return "validate=False" if not validate else "it has no validation_schema"
