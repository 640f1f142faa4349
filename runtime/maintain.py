"""`cascade maintain [TABLE]`: the three upkeep steps on each table of the project, in order,
read through the same catalog configuration as loads (runtime/catalog.py):

1. compaction of main's small files (`compaction.compact_table`), sorted on the contract's
   unique key;
2. expiry of the snapshots older than the retention (`upkeep.expire_snapshots`);
3. removal of the files no remaining snapshot references, older than the safety window
   (`upkeep.remove_orphan_files`).

Compaction's replaced files are still referenced by the snapshots before it, so they leave the
disk only once those have expired: a retention after the compaction. A dry run changes
nothing: it plans the compaction, names the snapshots expiry would remove, and counts the
files that would be orphans once they are gone.

Each table's generated upkeep job runs `maintain_table` too, with the options of the
ingestion's `maintenance=` (runtime/upkeep_job.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from cascade.runtime.compaction import CompactionResult
    from cascade.runtime.contract import TableContract
    from cascade.runtime.upkeep import ExpiryResult, OrphanResult

DEFAULT_RETENTION = timedelta(days=7)
DEFAULT_ORPHAN_AGE = timedelta(days=1)


@dataclass(frozen=True)
class UpkeepOptions:
    retention: timedelta = DEFAULT_RETENTION
    orphan_age: timedelta = DEFAULT_ORPHAN_AGE
    target_file_size: int | None = None  # None: the table's setting, else 128 MB
    max_file_rows: int | None = None  # None: compaction.py's DEFAULT_MAX_FILE_ROWS
    dry_run: bool = False

    @classmethod
    def of(
        cls,
        retention_days: float,
        orphan_age_hours: float,
        target_file_size_mb: float | None,
        max_file_rows: int | None,
        dry_run: bool = False,
    ) -> UpkeepOptions:
        """The options from the figures `maintenance=` and `cascade maintain`'s flags give:
        days, hours, MB of 2^20 bytes (at least one byte), rows."""
        return cls(
            retention=timedelta(days=retention_days),
            orphan_age=timedelta(hours=orphan_age_hours),
            target_file_size=None
            if target_file_size_mb is None
            else max(1, int(target_file_size_mb * 1024 * 1024)),
            max_file_rows=max_file_rows,
            dry_run=dry_run,
        )


@dataclass
class TableUpkeep:
    """What `cascade maintain` did to one table (None: the step did not run)."""

    identifier: str
    exists: bool = True
    compaction: CompactionResult | None = None
    expiry: ExpiryResult | None = None
    orphans: OrphanResult | None = None
    failures: list[str] = field(default_factory=list)  # "step: why", one per failed step
    # What the failed step raised, for a caller that tells a retry from a refusal (the
    # generated upkeep job, runtime/upkeep_job.py).
    error: Exception | None = field(default=None, repr=False, compare=False)


def maintain_tables(
    catalog: Catalog, contracts: list[TableContract], options: UpkeepOptions
) -> list[TableUpkeep]:
    """Each contract's table maintained, in identifier order. A step that fails is recorded in
    `failures` and the next steps of that table are skipped (orphans are only counted after a
    completed expiry); the other tables go on."""
    return [
        maintain_table(catalog, contract, options)
        for contract in sorted(contracts, key=lambda c: c.identifier)
    ]


def maintain_table(
    catalog: Catalog, contract: TableContract, options: UpkeepOptions
) -> TableUpkeep:
    """The three steps on one table. The retention and the safety window count back from the
    moment each step starts: the compaction's own snapshot is never older than the retention."""
    from cascade.runtime.compaction import compact_table
    from cascade.runtime.upkeep import expire_snapshots, remove_orphan_files

    report = TableUpkeep(contract.identifier)
    step = "loading the table"
    try:
        table = _load(catalog, contract.identifier)
        if table is None:
            report.exists = False
            return report
        dry_run = options.dry_run
        step = "compaction"
        report.compaction = compact_table(
            table,
            contract.unique_key,
            target_size=options.target_file_size,
            max_file_rows=options.max_file_rows,
            dry_run=dry_run,
        )
        step = "snapshot expiry"
        report.expiry = expire_snapshots(
            table, datetime.now(UTC) - options.retention, dry_run=dry_run
        )
        step = "orphan removal"
        report.orphans = remove_orphan_files(
            table,
            datetime.now(UTC) - options.orphan_age,
            dry_run=dry_run,
            expiring=report.expiry.expired,
        )
    except Exception as error:  # reported per table; the other tables go on
        report.failures.append(f"{step} failed: {_reason(error)}")
        report.error = error
    return report


def upkeep_lines(reports: list[TableUpkeep], options: UpkeepOptions) -> list[str]:
    """What `cascade maintain` prints: a heading line per table, a line per step."""
    lines = []
    would = options.dry_run
    for report in reports:
        if not report.exists:
            lines.append(f"{report.identifier}: not created yet; nothing to do")
            continue
        lines.append(f"{report.identifier}:")
        if (compaction := report.compaction) is not None:
            lines.append(f"  compaction: {_compaction(compaction)}")
        if (expiry := report.expiry) is not None:
            verb = "would expire" if would else "expired"
            lines.append(
                f"  snapshots: {len(expiry.expired)} {verb} (older than "
                f"{_duration(options.retention)}), {expiry.kept} kept"
            )
        if (orphans := report.orphans) is not None:
            verb = "would be removed" if would else "removed"
            failed = f", {orphans.failed} could not be deleted" if orphans.failed else ""
            lines.append(
                f"  orphan files: {orphans.files} {verb} ({_size(orphans.bytes)}, older than "
                f"{_duration(options.orphan_age)}), {orphans.newer} newer kept{failed}"
            )
        lines += [f"  {failure}" for failure in report.failures]
    return lines


def _compaction(result: CompactionResult) -> str:
    from cascade.runtime.compaction import SMALL_FILE_FRACTION

    if not result.files_rewritten:
        small = _size(int(SMALL_FILE_FRACTION * result.target_file_size))
        rows = SMALL_FILE_FRACTION * result.max_file_rows  # 0.75 of a cap of 1 row
        shown = f"{rows:,.0f}" if rows.is_integer() else f"{rows:,}"
        return (
            f"nothing to do ({result.files_before} data files, {_size(result.bytes_before)}; "
            f"no partition has two under {small} and {shown} rows)"
        )
    partitions = f"{result.partitions} partition{'s' if result.partitions != 1 else ''}"
    rewritten = (
        f"{result.files_rewritten} small files of {partitions} ({_size(result.bytes_rewritten)})"
    )
    if result.dry_run:
        return (
            f"would rewrite {rewritten} as {result.files_written}; data files "
            f"{result.files_before} -> {result.files_after}"
        )
    return (
        f"rewrote {rewritten} as {result.files_written} ({_size(result.bytes_written)}); data "
        f"files {result.files_before} -> {result.files_after}, {_size(result.bytes_before)} -> "
        f"{_size(result.bytes_after)}"
    )


def _size(count: int) -> str:
    """Bytes for people: B, then KB, MB, GB of 1024."""
    value, unit = float(count), "B"
    for bigger in ("KB", "MB", "GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"


def _duration(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day{'s' if days != 1 else ''}"
    text = f"{hours:g}"
    return f"{text} hour{'s' if text != '1' else ''}"


def _reason(error: Exception) -> str:
    from cascade.runtime.compaction import CompactionConflict
    from cascade.runtime.upkeep import OrphanListingError

    if isinstance(error, CompactionConflict | OrphanListingError | ValueError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _load(catalog: Catalog, identifier: str) -> Table | None:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return catalog.load_table(identifier)
    except (NoSuchTableError, NoSuchNamespaceError):
        return None
