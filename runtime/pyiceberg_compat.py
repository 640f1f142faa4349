"""The only module that uses pyiceberg's private API; the rest of Cascade uses public names.

Each use is one named function or class here, whose docstring says what pyiceberg 0.12 lacks
publicly and why Cascade needs it:

- `write_data_files`: data files written without committing them (`_dataframe_to_data_files`);
- `check_arrow_schema`: `Table.append`'s schema check (`_check_pyarrow_schema_compatible`);
- `stage_branch_move`: a ref update guarded by the caller's expectation (`Transaction._stage`);
- `disable_commit_retries`: a commit that fails on conflict (`Transaction._snapshot_producers`);
- `CachedMetadataTransaction`: table metadata worked out once per change (`Transaction._table`,
  `Transaction._updates`);
- `overwrite_files`: an overwrite whose snapshot lists only manifests with live data files
  (`_OverwriteFiles`, which carries manifests of deleted entries forward for ever);
- `replace_files`: a `replace` snapshot validated as a rewrite of the same rows (`_OverwriteFiles`
  and the validations of `pyiceberg.table.update.validate`);
- `expire_snapshots_guarded`: snapshot expiry that lands only while every branch and tag is
  where the caller saw it (`ExpireSnapshots._requirements`);
- `patch_manifest_entry_reads`: manifest reads routed through a cache while a merge runs
  (replaces `ManifestFile.fetch_manifest_entry`, which pyiceberg's commit calls internally);
- `keeping_null_lists`: a projection that keeps null lists of structs (replaces
  `pyiceberg.io.pyarrow.ArrowProjectionVisitor`, which `_to_requested_schema` looks up).

The two replacements are `SharedPatch`es: installed while some caller is inside one and undone
after the last leaves. Importing this module, or any module that uses it, changes nothing in
pyiceberg.

All of it was read against the pyiceberg versions in `CHECKED_PYICEBERG_VERSIONS`. Under another
version everything still runs and a warning is logged once, and
`tests/runtime/test_pyiceberg_compat.py` fails, naming the version, until this module has been
read against it.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections.abc import Callable
from functools import cache
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc
import pyiceberg
import pyiceberg.io.pyarrow as pyiceberg_arrow
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import _check_pyarrow_schema_compatible, _dataframe_to_data_files
from pyiceberg.manifest import DataFile, ManifestEntry, ManifestFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import Operation, Summary
from pyiceberg.table.update import AssertRefSnapshotId, SetSnapshotRefUpdate
from pyiceberg.table.update.snapshot import _OverwriteFiles
from pyiceberg.table.update.validate import (
    _validate_data_files_exist,
    _validate_no_new_deletes_for_data_files,
)
from pyiceberg.typedef import TableVersion
from pyiceberg.types import ListType, MapType

log = logging.getLogger(__name__)

# pyiceberg versions this module was read against, every private name it uses checked.
CHECKED_PYICEBERG_VERSIONS = frozenset({"0.12.0"})


def pyiceberg_version_checked() -> bool:
    return pyiceberg.__version__ in CHECKED_PYICEBERG_VERSIONS


@cache
def _warn_if_unchecked() -> None:
    if not pyiceberg_version_checked():
        log.warning(
            "pyiceberg %s is not among the versions Cascade's use of its private API was "
            "checked against (%s); going on anyway (see cascade.runtime.pyiceberg_compat)",
            pyiceberg.__version__,
            ", ".join(sorted(CHECKED_PYICEBERG_VERSIONS)),
        )


class SharedPatch:
    """`owner.attribute` replaced by `replacement` while any caller is inside the patch.

    Used as a context manager, from any number of threads and nested: the first caller to enter
    installs the replacement, and the last to leave puts back what was there before, then calls
    `on_removed` (still holding the lock, so no caller enters in between)."""

    def __init__(
        self,
        owner: object,
        attribute: str,
        replacement: object,
        on_removed: Callable[[], None] | None = None,
    ) -> None:
        self.owner, self.attribute, self.replacement = owner, attribute, replacement
        self._on_removed = on_removed
        self._lock = threading.Lock()
        self._inside = 0
        self._original: object = None

    @property
    def installed(self) -> bool:
        return self._inside > 0

    def __enter__(self) -> None:
        _warn_if_unchecked()
        with self._lock:
            if not self._inside:
                self._original = getattr(self.owner, self.attribute)
                setattr(self.owner, self.attribute, self.replacement)
            self._inside += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._lock:
            self._inside -= 1
            if not self._inside:
                setattr(self.owner, self.attribute, self._original)
                self._original = None
                if self._on_removed is not None:
                    self._on_removed()


# --- Writing data files -----------------------------------------------------------------------


def write_data_files(
    table_metadata: TableMetadata,
    rows: pa.Table,
    io: FileIO,
    write_uuid: uuid.UUID,
    counter: itertools.count[int],
) -> list[DataFile]:
    """Parquet data files holding `rows`, written as `Table.append` writes them, not committed.

    pyiceberg 0.12 writes data files only inside `append`/`overwrite`, which commit them as a
    snapshot of their own. A merge commits ONE overwrite that removes the rewritten files and
    adds their replacements, so it writes the files first and adds them to that overwrite
    (`append_data_file`). File names are `<write_uuid>-<next(counter)>`: one uuid and one
    counter per merge attempt keeps them unique across the attempt's threads."""
    _warn_if_unchecked()
    return list(_dataframe_to_data_files(table_metadata, rows, io, write_uuid, counter))


def check_arrow_schema(
    schema: Schema, arrow_schema: pa.Schema, format_version: TableVersion
) -> None:
    """Raise ValueError for what `Table.append` refuses: an unknown column, a type that does
    not fit, a missing required column. pyiceberg 0.12 runs this check only inside its own
    writes and has no public function for it."""
    _warn_if_unchecked()
    _check_pyarrow_schema_compatible(schema, arrow_schema, format_version=format_version)


# --- Transactions ------------------------------------------------------------------------------


def stage_branch_move(
    transaction: Transaction, branch: str, snapshot_id: int, expected_snapshot_id: int | None
) -> None:
    """Stage moving `branch` to `snapshot_id`, committed only if it still points at
    `expected_snapshot_id` (None: only if it does not exist).

    pyiceberg 0.12's `ManageSnapshots.set_current_snapshot` guards the move with where the
    branch is in the transaction's own table, loaded just before; `cascade publish` needs the
    guard to be where its plan saw the branch, so that a writer that moved it since makes the
    commit fail. Staging an update with chosen requirements is only `Transaction._stage`."""
    _warn_if_unchecked()
    # The models take their fields by name (populate_by_name), as pyiceberg itself builds
    # them; mypy sees only the aliases ("ref-name", "snapshot-id").
    move = SetSnapshotRefUpdate(  # type: ignore[call-arg]
        ref_name=branch, type=SnapshotRefType.BRANCH, snapshot_id=snapshot_id
    )
    guard = AssertRefSnapshotId(ref=branch, snapshot_id=expected_snapshot_id)  # type: ignore[call-arg]
    transaction._stage((move,), (guard,))


def disable_commit_retries(transaction: Transaction) -> None:
    """Make the transaction's commit fail with CommitFailedException when it loses a race,
    instead of pyiceberg rebuilding its staged snapshots on the refreshed table and retrying.

    pyiceberg 0.12 retries only the snapshots of the producers in
    `Transaction._snapshot_producers`, and has no switch for it; forgetting them turns the
    retry off. Its retry rebuilds only the snapshot (it drops a staged branch creation) and
    does not check below serializable isolation for concurrently added rows with the same keys.
    Forgotten too: deleting the producers' manifests after a failed commit (orphans, harmless)."""
    _warn_if_unchecked()
    transaction._snapshot_producers.clear()


class CachedMetadataTransaction(Transaction):
    """pyiceberg's transaction, working out its table metadata once per change.

    In pyiceberg 0.12 every read of `Transaction.table_metadata` applies the staged updates to
    the table's metadata and deep-copies the result, and committing one snapshot reads it
    some thirty times. A copy costs more the longer the table's history (snapshots, snapshot
    and metadata logs): ~13 ms at 400 snapshots, so ~0.4 s a merge. Table metadata is frozen,
    so with nothing staged the table's own serves, and the result changes only when the table
    is refreshed (a retried commit) or an update is staged, which both replace the objects
    compared here (`Transaction._table.metadata` and `Transaction._updates`, which pyiceberg
    has no public names for).
    """

    _cached: tuple[TableMetadata, tuple, TableMetadata] | None = None

    def __init__(self, table: Table, autocommit: bool = False) -> None:
        _warn_if_unchecked()
        super().__init__(table, autocommit)

    @property
    def table_metadata(self) -> TableMetadata:
        base, updates = self._table.metadata, self._updates
        if not updates:
            return base
        cached = self._cached
        if cached is None or cached[0] is not base or cached[1] is not updates:
            cached = self._cached = (base, updates, super().table_metadata)
        return cached[2]


# --- Compaction and snapshot expiry ------------------------------------------------------------


def overwrite_files(transaction: Transaction, branch: str) -> _OverwriteFiles:
    """pyiceberg's overwrite producer (`transaction.update_snapshot(branch=...).overwrite()`),
    whose snapshot keeps only the manifests that list live data files or that this commit
    wrote. Used the same way: `delete_data_file`, `append_data_file`, commit the transaction.

    pyiceberg 0.12's `_OverwriteFiles._existing_manifests` reads each manifest of the parent
    snapshot without its deleted entries, and keeps it when none of what is left is deleted
    now, so a manifest holding only the deleted entries of an earlier commit is carried into
    every later snapshot: each merge adds one, and every later merge and reader opens them all
    (the same bug as iceberg-go's issues 1153 and 1393). Iceberg's Java
    `MergingSnapshotProducer` keeps a manifest only if it has added or existing files or was
    written by the commit itself (its deleted entries record what this snapshot removed), and
    so does this producer. Earlier snapshots still list the dropped manifests: time travel and
    expiry see them as before.
    """
    _warn_if_unchecked()
    first = transaction.table_metadata.snapshot_by_name(name=branch) is None
    return _LiveManifestsOverwrite(
        operation=Operation.APPEND if first else Operation.OVERWRITE,
        transaction=transaction,
        io=transaction._table.io,
        branch=branch,
    )


class _LiveManifestsOverwrite(_OverwriteFiles):
    def _process_manifests(self, manifests: list[ManifestFile]) -> list[ManifestFile]:
        return [
            manifest
            for manifest in super()._process_manifests(manifests)
            if manifest.has_added_files()
            or manifest.has_existing_files()
            or manifest.added_snapshot_id == self._snapshot_id
        ]


def replace_files(transaction: Transaction, branch: str) -> _OverwriteFiles:
    """A snapshot producer for a `replace` snapshot on `branch`: data files removed and others
    added that hold exactly the same rows (a compaction). Used like `overwrite()`'s producer:
    `delete_data_file`, `append_data_file`, then commit the transaction.

    pyiceberg 0.12 has an `Operation.REPLACE` but no producer for it: `UpdateSnapshot` offers
    appends, overwrites and deletes only, and its summary totals refuse any other operation.
    This is its overwrite producer as `overwrite_files` makes it, with two differences:

    - the snapshot's operation is `replace`, so readers and validations know no row changed:
      a merge that commits after it is not refused for data it added (pyiceberg validates
      added rows only against appends and overwrites), only for the files it removed;
    - when the commit loses a race, pyiceberg retries it on the refreshed table after
      validating the snapshots in between (`_validate_concurrency`). An overwrite at the
      table's serializable isolation refuses any data added meanwhile; a replace must only
      refuse a concurrent snapshot that removed one of the files it removes (a merge rewrote
      it: committing would drop that merge's rows and bring back the rows it replaced) or
      added deletes for one, as Iceberg's Java `RewriteFiles` validates. A merge that only
      added files, or rewrote others, loses nothing when the replace lands on top of it.
    """
    _warn_if_unchecked()
    return _ReplaceFiles(
        operation=Operation.REPLACE,
        transaction=transaction,
        io=transaction._table.io,
        branch=branch,
    )


class _ReplaceFiles(_LiveManifestsOverwrite):
    def _summary(self, snapshot_properties: dict[str, str] | None = None) -> Summary:
        # pyiceberg's totals (`update_snapshot_summaries`) refuse a replace; they are worked out
        # the same way for an overwrite, which is what this producer does with the files.
        self._operation = Operation.OVERWRITE
        try:
            summary = super()._summary(snapshot_properties or {})
        finally:
            self._operation = Operation.REPLACE
        return Summary(Operation.REPLACE, **summary.additional_properties)

    def _validate_concurrency(self) -> None:
        window = self._commit_window
        if window is None or window.is_empty() or window.head is None:
            return
        table = self._transaction._table
        # pyiceberg's argument names read backwards: the head is the newest snapshot checked,
        # the base (where the compaction started) the oldest one, excluded.
        _validate_data_files_exist(table, window.head, self._deleted_data_files, window.base)
        _validate_no_new_deletes_for_data_files(
            table, window.head, None, self._deleted_data_files, window.base
        )


def expire_snapshots_guarded(table: Table, snapshot_ids: list[int]) -> None:
    """Remove the snapshots `snapshot_ids` from the table in one commit, which fails with
    CommitFailedException unless every branch and tag is still where `table` has it.

    pyiceberg 0.12's `ExpireSnapshots` commits with no requirement: the catalog applies the
    removal to the table as it is at commit time, and removing a snapshot there also removes
    every branch or tag pointing at it. A branch moved onto an old snapshot meanwhile (a
    rollback) would be deleted. Its requirements are `ExpireSnapshots._requirements`, which it
    returns as they are; they are set here to one guard per branch and tag."""
    _warn_if_unchecked()
    expire = table.maintenance.expire_snapshots()
    expire._requirements = tuple(
        AssertRefSnapshotId(ref=name, snapshot_id=ref.snapshot_id)  # type: ignore[call-arg]
        for name, ref in sorted(table.metadata.refs.items())
    )
    expire.by_ids(snapshot_ids).commit()


# --- Reading manifests -------------------------------------------------------------------------

ManifestEntryReader = Callable[[ManifestFile, FileIO, bool], list[ManifestEntry]]


def patch_manifest_entry_reads(
    read: ManifestEntryReader, on_removed: Callable[[], None] | None = None
) -> SharedPatch:
    """A patch that makes `ManifestFile.fetch_manifest_entry(manifest, io, discard_deleted)`
    call `read` instead, while some caller is inside it.

    pyiceberg 0.12 reads a manifest's entries through that method from inside the overwrite
    it commits (`_OverwriteFiles._deleted_entries` and `_existing_manifests`) and has no hook
    or cache there. Create the patch once (at import is fine: creating installs nothing)."""
    return SharedPatch(ManifestFile, "fetch_manifest_entry", read, on_removed)


# --- Keeping null lists of structs -------------------------------------------------------------


def keeping_null_lists() -> SharedPatch:
    """A context inside which pyiceberg's writes and reads keep null lists and maps of structs.

    pyiceberg 0.12 turns a null `list<struct<...>>` into `[]`, and a null `map<_, struct<...>>`
    into `{}`, both when it writes a data file and when it reads one: every Arrow batch goes
    through `pyiceberg.io.pyarrow._to_requested_schema`, whose `ArrowProjectionVisitor` puts
    each column into the table's field ids, names and types. For a list whose elements are
    structs, `ArrowProjectionVisitor.list` (pyiceberg/io/pyarrow.py, line 2078 in 0.12.0)
    rebuilds the list as

        pa.LargeListArray.from_arrays(list_array.offsets, value_array)

    and `ArrowProjectionVisitor.map` (line 2097) a map of structs as
    `pa.MapArray.from_arrays(map_array.offsets, key_result, value_result, arrow_field)`. A
    list's `offsets` carry no validity bitmap and no `mask` is passed, so each null slot comes
    back as a valid slot of length zero. A list of strings is not rebuilt (it is cast, which
    keeps validity), which is why only lists and maps of structs lose their nulls. The loss
    travels upward: a struct holding such a list, a list of those structs, a map whose values
    are such structs. (Upstream: apache/iceberg-python#251, #2246, #3833; the fix proposed in
    #3834 passes a mask.)

    On write the null is gone for good: the Parquet file holds `[]`, and no reader, DuckDB or
    Spark or pyiceberg, can tell it from a real empty list. On read the file is right and only
    pyiceberg's result is wrong; a merge reads the rows it keeps in a rewritten file, so its
    reads lose the null for good too once they are written again.

    The fix: inside the block, `_to_requested_schema` projects with a subclass of the visitor
    whose `list` and `map` give the result the validity of the array they projected
    (`_with_nulls_of`). That is right because a projection maps each slot to the same slot: it
    changes field ids, names and element types, never which slots are null, and pyiceberg's
    own `struct` already passes `mask=struct_array.is_null()` for the same reason. Where
    pyiceberg kept the nulls (its cast path) the counts agree and the array is returned
    untouched. The subclass replaces `pyiceberg.io.pyarrow.ArrowProjectionVisitor` (the name
    `_to_requested_schema` looks up on every call) while some caller is inside; other threads'
    pyiceberg reads meanwhile get it too, which differs from pyiceberg's only in keeping nulls.
    `tests/runtime/test_null_lists.py` fails once pyiceberg keeps the nulls itself: then drop this.
    """
    return _KEEPING_NULL_LISTS


class _NullKeepingProjection(pyiceberg_arrow.ArrowProjectionVisitor):
    def list(
        self, list_type: ListType, list_array: pa.Array | None, value_array: pa.Array | None
    ) -> pa.Array | None:
        return _with_nulls_of(list_array, super().list(list_type, list_array, value_array))

    def map(
        self,
        map_type: MapType,
        map_array: pa.Array | None,
        key_result: pa.Array | None,
        value_result: pa.Array | None,
    ) -> pa.Array | None:
        projected = super().map(map_type, map_array, key_result, value_result)
        return _with_nulls_of(map_array, projected)


def _with_nulls_of(source: pa.Array | None, projected: pa.Array | None) -> pa.Array | None:
    """`projected` (a list or map array) with its slots null exactly where `source`'s are."""
    if not isinstance(projected, (pa.ListArray, pa.LargeListArray)) or source is None:
        return projected
    if projected.null_count == source.null_count:
        return projected
    # `from_arrays` accepts a mask only with offsets that start at 0 (a sliced array's do not).
    offsets = projected.offsets
    start, stop = offsets[0].as_py(), offsets[-1].as_py()
    offsets = pc.subtract(offsets, offsets[0])
    mask = source.is_null()
    if isinstance(projected, pa.MapArray):  # before ListArray: a MapArray is one
        keys = projected.keys.slice(start, stop - start)
        items = projected.items.slice(start, stop - start)
        return pa.MapArray.from_arrays(offsets, keys, items, type=projected.type, mask=mask)
    values = projected.values.slice(start, stop - start)
    return type(projected).from_arrays(offsets, values, type=projected.type, mask=mask)


_KEEPING_NULL_LISTS = SharedPatch(pyiceberg_arrow, "ArrowProjectionVisitor", _NullKeepingProjection)
