"""What a generated upkeep job runs: `cascade maintain`'s three steps on one table
(runtime/maintain.py: compaction, snapshot expiry, orphan-file removal) with the options of the
ingestion's `maintenance=`, reported to Dagster.

The job's one op calls `run_upkeep`, which

- logs what `cascade maintain` prints for the table, line by line;
- reports every figure as an `AssetObservation` of the ingestion's asset, so the table's
  upkeep history shows on the asset's page next to its loads (an observation is no
  materialization: freshness and automation do not see it);
- succeeds with `status: no_table` when the table is not created yet: nothing to do;
- fails the op when a step did not complete (the step changed nothing; the steps after it
  did not run). A refusal that no retry can fix (the table lacks a column of its unique key,
  a misconfigured catalog) is a `dagster.Failure` that bypasses the op's retry policy; anything
  else (a compaction that concurrent loads kept conflicting with, `CompactionConflict`; a
  catalog or file system that did not answer) is raised for the policy to retry, later.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import dagster as dg

from cascade.runtime.catalog import IcebergResource
from cascade.runtime.config import UpkeepConfig
from cascade.runtime.contract import TableContract
from cascade.runtime.errors import CascadeError, UpkeepRefused
from cascade.runtime.maintain import TableUpkeep, UpkeepOptions, maintain_table, upkeep_lines


class UpkeepFailed(Exception):
    """A step of a table's upkeep did not complete and changed nothing; another attempt may
    succeed (the op's retry policy makes it)."""


def run_upkeep(
    context: dg.OpExecutionContext,
    *,
    config: UpkeepConfig,
    iceberg: IcebergResource,
    table: TableContract,
    asset_key: dg.AssetKey,
    retention_days: float = 7,
    orphan_age_hours: float = 24,
    target_file_size_mb: float | None = None,
    max_file_rows: int | None = None,
) -> Iterator[dg.AssetObservation]:
    """Maintain `table` (module docstring): compact main's small files into files of
    `target_file_size_mb` (None: the table's `write.target-file-size-bytes`, else 128 MB), or
    of `max_file_rows` rows where that comes first (None: compaction.py's
    DEFAULT_MAX_FILE_ROWS, 500,000), expire the snapshots older than `retention_days`,
    delete the unreferenced files older than `orphan_age_hours`; with `config.dry_run`, only
    report what would be done. Yields one observation of `asset_key` with every figure
    (README, "Upkeep jobs in Dagster"), then raises if a step did not complete."""
    options = UpkeepOptions.of(
        retention_days, orphan_age_hours, target_file_size_mb, max_file_rows, config.dry_run
    )
    started = time.monotonic()
    catalog = iceberg.load_catalog()  # CatalogConfigError: a Failure, not retried
    report = maintain_table(catalog, table, options)
    lines = upkeep_lines([report], options)
    for line in lines:
        context.log.info(line)
    metadata = upkeep_metadata(report, options)
    metadata["summary"] = dg.MetadataValue.text("\n".join(lines))
    metadata["elapsed_seconds"] = round(time.monotonic() - started, 3)
    yield dg.AssetObservation(asset_key=asset_key, metadata=metadata)
    if not report.failures:
        return
    message = (
        f"Upkeep of {table.identifier} did not complete: {'; '.join(report.failures)}. The "
        "step that failed changed nothing; the steps after it did not run."
    )
    from cascade.runtime.compaction import CompactionRefused

    if isinstance(report.error, CascadeError):
        raise report.error
    if isinstance(report.error, CompactionRefused):
        raise UpkeepRefused(message + " A load (or `cascade apply`) evolves the table first.")
    raise UpkeepFailed(message + " Another attempt may succeed.") from report.error


def upkeep_metadata(report: TableUpkeep, options: UpkeepOptions) -> dict[str, Any]:
    """The figures of one table's upkeep, as a generated upkeep job reports them."""
    status = (
        "no_table"
        if not report.exists
        else "failed"
        if report.failures
        else "dry_run"
        if options.dry_run
        else "maintained"
    )
    metadata: dict[str, Any] = {
        "table_name": report.identifier,
        "status": status,
        "retention_days": _number(options.retention / timedelta(days=1)),
        "orphan_age_hours": _number(options.orphan_age / timedelta(hours=1)),
    }
    if (compaction := report.compaction) is not None:
        metadata.update(
            target_file_size=compaction.target_file_size,
            max_file_rows=compaction.max_file_rows,
            data_files_before=compaction.files_before,
            data_bytes_before=compaction.bytes_before,
            data_files_after=compaction.files_after,
            data_bytes_after=compaction.bytes_after,
            partitions_compacted=compaction.partitions,
            files_rewritten=compaction.files_rewritten,
            bytes_rewritten=compaction.bytes_rewritten,
            files_written=compaction.files_written,
            bytes_written=compaction.bytes_written,
            compaction_attempts=compaction.attempts,
        )
        if compaction.snapshot_id is not None:
            # As text: a snapshot id uses all 64 bits, past what JSON numbers keep exactly.
            metadata["compaction_snapshot_id"] = str(compaction.snapshot_id)
    if (expiry := report.expiry) is not None:
        metadata.update(snapshots_expired=len(expiry.expired), snapshots_kept=expiry.kept)
    if (orphans := report.orphans) is not None:
        metadata.update(
            orphan_files_removed=orphans.files,
            orphan_bytes_removed=orphans.bytes,
            orphan_files_newer=orphans.newer,
            orphan_bytes_newer=orphans.newer_bytes,
            orphan_files_not_deleted=orphans.failed,
        )
    if report.failures:
        metadata["failure"] = "; ".join(report.failures)
    return metadata


def _number(value: float) -> int | float:
    """7.0 as 7: how the decorator wrote it, most of the time."""
    return int(value) if value.is_integer() else value
