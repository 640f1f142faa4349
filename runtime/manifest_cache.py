"""Read each manifest once per merge, however often pyiceberg asks for its entries.

A merge reads the manifests of its base snapshot to plan (`file_pruning`), then pyiceberg's
overwrite reads them twice more while it commits (`_OverwriteFiles._deleted_entries` and
`_existing_manifests`). Where manifests cannot be told apart by their partition summaries (an
unpartitioned table, or a batch that spans every partition) that is every manifest of the
table, three times: the part of a merge that grows with the table's file count.

A manifest file is never changed once written and its path is never reused, so its entries
(sequence numbers inherited from its manifest-list entry, which is also fixed) can be kept by
path. pyiceberg 0.12 caches `ManifestFile` objects but not their entries and has no hook for
it, so `ManifestFile.fetch_manifest_entry` is wrapped while a merge is inside `reading_once()`:
what it reads is kept until the last merge running in the process leaves the block, and then
pyiceberg's own method is back. Callers get their own list; the entries are shared, and
pyiceberg does not change an entry once read.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestEntry, ManifestFile

_PYICEBERG_FETCH = ManifestFile.fetch_manifest_entry
_read = _PYICEBERG_FETCH  # what the wrapper calls to read (tests count the reads here)
_lock = threading.Lock()
_entries: dict[tuple[str, bool], list[ManifestEntry]] = {}
_active = 0  # merges inside `reading_once()`


@contextmanager
def reading_once() -> Iterator[None]:
    """Keep the manifest entries read inside the block, for as long as a merge is in one.

    The wrapper is installed when the first merge enters and pyiceberg's own method put back
    when the last one leaves: importing this module changes nothing."""
    global _active
    with _lock:
        _active += 1
        ManifestFile.fetch_manifest_entry = _fetch_manifest_entry  # type: ignore[method-assign]
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if not _active:
                _entries.clear()
                ManifestFile.fetch_manifest_entry = _PYICEBERG_FETCH  # type: ignore[method-assign]


def _fetch_manifest_entry(
    manifest: ManifestFile, io: FileIO, discard_deleted: bool = True
) -> list[ManifestEntry]:
    key = (manifest.manifest_path, discard_deleted)
    with _lock:
        active, entries = _active, _entries.get(key)
    if entries is None:
        # Read outside the lock: pyiceberg reads manifests from several threads at once. Two
        # threads may read the same manifest; both get the same entries.
        entries = _read(manifest, io, discard_deleted)
        if active:
            with _lock:
                if _active:
                    _entries[key] = entries
    return list(entries)
