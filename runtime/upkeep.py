"""Snapshot expiry and orphan-file removal: what keeps a table's history and its folder from
growing without end.

Every load commits a snapshot, and every snapshot keeps the data files it saw: a merge's or a
compaction's replaced files stay on disk for time travel. `expire_snapshots` removes the
snapshots older than a retention from the table's metadata; `remove_orphan_files` then deletes
the files under the table's folder that no remaining snapshot references (the data files only
expired snapshots held, their manifests and manifest lists, metadata files past the metadata
log, and what failed or killed writes left behind), provided they are older than a safety
window.

Expiry keeps, whatever their age:

- the head of every branch and every tagged snapshot (as pyiceberg's `ExpireSnapshots` does);
- for every branch, the snapshot that was its head when the retention began (its newest
  ancestor at least as old as the cutoff), so that time travel to any moment within the
  retention finds the table as it was then.

It commits through `pyiceberg_compat.expire_snapshots_guarded`: only while every branch and tag
is still where it was read, else it reads the table again and retries.

Orphan removal lists `<table location>/data/` and `<table location>/metadata/` with the table's
own file system (pyiceberg's `PyArrowFileIO` for the table's scheme: local folders and `file://`
warehouses, S3, GCS, Azure, HDFS, with the catalog's credentials; for any other FileIO,
`pyarrow.fs.FileSystem.from_uri` of the location, with the credentials of the environment).
Files elsewhere (a `write.data.path` outside the location) are never listed, so never deleted.
The files under the location are taken to be this table's: a location another table writes
into, or files another table adopted with `add_files`, would be deleted as orphans.

What is referenced: the current metadata file and those of the metadata log; for each
remaining snapshot its manifest list, manifests, and the data and delete files their entries
hold live; statistics files; the Hadoop catalog's `version-hint.text`. A file not referenced is
deleted only if its modification time is older than the safety window: a load that is writing
(its data files, manifests, manifest list and metadata file exist before its commit makes them
referenced) is always younger than that, as long as the window is longer than the longest load.
If the listing lacks a file the table references, nothing is deleted (the table or the listing
is not what it should be).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyarrow import fs as pafs
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import ManifestFile
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import ancestors_of
from pyiceberg.utils.datetime import datetime_to_millis

from cascade.runtime.data_files import parallel
from cascade.runtime.pyiceberg_compat import expire_snapshots_guarded

log = logging.getLogger(__name__)

# Attempts of an expiry whose commit found a branch or tag moved.
MAX_ATTEMPTS = 5
# The folders of a table's location that orphan removal lists.
LISTED_FOLDERS = ("data", "metadata")


class OrphanListingError(Exception):
    """The listing of the table's folder does not agree with its metadata: nothing deleted."""


@dataclass(frozen=True)
class ExpiryResult:
    """Snapshots expired (or that would be, `dry_run`) as older than `older_than`, and how many
    the table keeps."""

    older_than: datetime
    expired: tuple[int, ...]
    kept: int
    dry_run: bool = False


@dataclass(frozen=True)
class OrphanResult:
    """Files no snapshot references: those older than `older_than` removed (or that would be,
    `dry_run`), with their bytes; `newer`/`newer_bytes` those left for being newer; `failed`
    those whose deletion failed (left, logged)."""

    older_than: datetime
    files: int
    bytes: int
    newer: int = 0
    newer_bytes: int = 0
    failed: int = 0
    dry_run: bool = False
    locations: tuple[str, ...] = field(default=(), repr=False)


def snapshots_to_expire(metadata: TableMetadata, older_than: datetime) -> list[int]:
    """The snapshots older than `older_than` that expiry removes (module docstring)."""
    cutoff = datetime_to_millis(_utc(older_than))
    kept = set()
    for ref in metadata.refs.values():
        kept.add(ref.snapshot_id)  # branch heads and tags
        if ref.snapshot_ref_type != SnapshotRefType.BRANCH:
            continue
        head = metadata.snapshot_by_id(ref.snapshot_id)
        for snapshot in ancestors_of(head, metadata) if head is not None else ():
            if snapshot.timestamp_ms <= cutoff:
                kept.add(snapshot.snapshot_id)  # the branch's head when the retention began
                break
    return [
        snapshot.snapshot_id
        for snapshot in sorted(metadata.snapshots, key=lambda s: s.timestamp_ms)
        if snapshot.timestamp_ms < cutoff and snapshot.snapshot_id not in kept
    ]


def expire_snapshots(table: Table, older_than: datetime, *, dry_run: bool = False) -> ExpiryResult:
    """Remove the snapshots older than `older_than` but those expiry keeps (module docstring)
    in one commit. `table` ends refreshed."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        expired = snapshots_to_expire(table.metadata, older_than)
        kept = len(table.metadata.snapshots) - len(expired)
        if dry_run or not expired:
            return ExpiryResult(older_than, tuple(expired), kept, dry_run)
        try:
            expire_snapshots_guarded(table, expired)
            return ExpiryResult(older_than, tuple(expired), kept)
        except (CommitFailedException, ValueError) as conflict:
            # A branch or tag moved, or a snapshot was expired by someone else meanwhile
            # (pyiceberg raises ValueError for a snapshot that does not exist): nothing landed.
            if attempt == MAX_ATTEMPTS:
                raise
            log.warning(
                "Expiring snapshots of %s conflicted with a concurrent commit (%s); reading "
                "the table again (attempt %d of %d)",
                ".".join(table.name()),
                conflict,
                attempt + 1,
                MAX_ATTEMPTS,
            )
            table.refresh()
    raise AssertionError("unreachable")


def referenced_files(table: Table, without: Collection[int] = ()) -> set[str]:
    """Every file the table's metadata references, leaving out the snapshots `without`, as
    file-system paths (`_path`)."""
    return _references(table, without)[0]


def _references(table: Table, without: Collection[int]) -> tuple[set[str], set[str]]:
    """The paths of every referenced file, and of those that must exist: the current metadata
    file and the files of the remaining snapshots (not older metadata files, statistics files
    or a version hint, which readers of the table do without)."""
    metadata, io = table.metadata, table.io
    required = {table.metadata_location}
    skipped = set(without)
    snapshots = [s for s in metadata.snapshots if s.snapshot_id not in skipped]
    manifests: dict[str, ManifestFile] = {}
    for snapshot in snapshots:
        required.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            manifests[manifest.manifest_path] = manifest
    required.update(manifests)

    def entries(manifest: ManifestFile) -> list[str]:
        # Live entries only: a file a snapshot deleted is held live by its parent, if kept.
        return [e.data_file.file_path for e in manifest.fetch_manifest_entry(io, True)]

    for paths in parallel(entries, manifests.values()):
        required.update(paths)
    optional = {f"{table.location().rstrip('/')}/metadata/version-hint.text"}
    optional.update(entry.metadata_file for entry in metadata.metadata_log)
    optional.update(statistics.statistics_path for statistics in metadata.statistics)
    optional.update(statistics.statistics_path for statistics in metadata.partition_statistics)
    required_paths = {_path(table, location) for location in required}
    return required_paths | {_path(table, location) for location in optional}, required_paths


def remove_orphan_files(
    table: Table,
    older_than: datetime,
    *,
    dry_run: bool = False,
    expiring: Collection[int] = (),
) -> OrphanResult:
    """Delete the files under the table's data and metadata folders that no snapshot references
    and that were last modified before `older_than` (module docstring). `expiring`: snapshots
    to count as expired already (a dry run's). `table` is refreshed first."""
    table.refresh()
    referenced, required = _references(table, expiring)
    filesystem, root = _filesystem(table)
    listed = [
        info
        for folder in LISTED_FOLDERS
        for info in filesystem.get_file_info(
            pafs.FileSelector(f"{root}/{folder}", recursive=True, allow_not_found=True)
        )
        if info.type == pafs.FileType.File
    ]
    present = {info.path for info in listed}
    roots = tuple(f"{root}/{folder}/" for folder in LISTED_FOLDERS)
    missing = sorted(path for path in required if path.startswith(roots) and path not in present)
    if missing:
        raise OrphanListingError(
            f"the listing of {table.location()} lacks {len(missing)} file(s) the table "
            f"references (e.g. {missing[0]}); no file was deleted"
        )
    cutoff_ns = int(_utc(older_than).timestamp() * 1e9)
    orphans = [info for info in listed if info.path not in referenced]
    # A file whose time the file system does not give is taken as new.
    old = [i for i in orphans if i.mtime_ns is not None and i.mtime_ns < cutoff_ns]
    newer = [i for i in orphans if i.mtime_ns is None or i.mtime_ns >= cutoff_ns]
    failed = 0
    if not dry_run:
        for info in old:
            try:
                filesystem.delete_file(info.path)
            except FileNotFoundError:
                pass  # gone already
            except OSError as error:
                failed += 1
                log.warning("Could not delete orphan file %s: %s", info.path, error)
    return OrphanResult(
        older_than,
        len(old) - failed,
        sum(i.size or 0 for i in old),
        newer=len(newer),
        newer_bytes=sum(i.size or 0 for i in newer),
        failed=failed,
        dry_run=dry_run,
        locations=tuple(sorted(i.path for i in old)),
    )


def _filesystem(table: Table) -> tuple[pafs.FileSystem, str]:
    """The file system the table's files are on, and the table location's path in it."""
    io = table.io
    location = table.location().rstrip("/")
    scheme, netloc, path = PyArrowFileIO.parse_location(location, io.properties)
    if isinstance(io, PyArrowFileIO):
        return io.fs_by_scheme(scheme, netloc), path.rstrip("/")
    filesystem, path = pafs.FileSystem.from_uri(location)
    return filesystem, path.rstrip("/")


def _path(table: Table, location: str) -> str:
    """A location as the table's file system names it (what a listing gives)."""
    return PyArrowFileIO.parse_location(location, table.io.properties)[2]


def _utc(moment: datetime) -> datetime:
    """`moment`, a naive one read as UTC (as pyiceberg reads snapshot times)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
