"""Read each manifest once per merge, however often pyiceberg asks for its entries.

A merge reads the manifests of its base snapshot to plan (`file_pruning`), then pyiceberg's
overwrite reads them twice more while it commits (`_OverwriteFiles._deleted_entries` and
`_existing_manifests`). Where manifests cannot be told apart by their partition summaries (an
unpartitioned table, or a batch that spans every partition) that is every manifest of the
table, three times: the part of a merge that grows with the table's file count.

A manifest file is never changed once written and its path is never reused, so its entries
(sequence numbers inherited from its manifest-list entry, which is also fixed) can be kept by
path. pyiceberg 0.12 caches `ManifestFile` objects but not their entries and has no hook for
it, so `ManifestFile.fetch_manifest_entry` is wrapped while a merge is inside `reading_once()`
(`pyiceberg_compat.patch_manifest_entry_reads`): what it reads is kept until the last merge
running in the process leaves the block, and then pyiceberg's own method is back. Callers
get their own list; the entries are shared, and pyiceberg does not change an entry once read.
"""

import threading

from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestEntry, ManifestFile

from cascade.runtime.pyiceberg_compat import SharedPatch, patch_manifest_entry_reads

_read = ManifestFile.fetch_manifest_entry  # pyiceberg's own read (tests count the reads here)
_lock = threading.Lock()
_entries: dict[tuple[str, bool], list[ManifestEntry]] = {}


def reading_once() -> SharedPatch:
    """A context that keeps the manifest entries read inside it, for as long as a merge is in
    one: the first merge to enter routes pyiceberg's reads through the cache, and the last to
    leave puts pyiceberg's own method back and empties the cache."""
    return _READING_ONCE


def _fetch_manifest_entry(
    manifest: ManifestFile, io: FileIO, discard_deleted: bool = True
) -> list[ManifestEntry]:
    key = (manifest.manifest_path, discard_deleted)
    with _lock:
        entries = _entries.get(key)
    if entries is None:
        # Read outside the lock: pyiceberg reads manifests from several threads at once. Two
        # threads may read the same manifest; both get the same entries.
        entries = _read(manifest, io, discard_deleted)
        with _lock:
            # Not once the last merge has left (it emptied the cache, or is about to).
            if _READING_ONCE.installed:
                _entries[key] = entries
    return list(entries)


def _forget_entries() -> None:
    with _lock:
        _entries.clear()


_READING_ONCE = patch_manifest_entry_reads(_fetch_manifest_entry, on_removed=_forget_entries)
