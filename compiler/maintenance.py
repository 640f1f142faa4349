"""The options of table upkeep and their ranges, shared by `cascade gen` (the decorator's
`maintenance={...}`, resolve/parameters.py) and `cascade maintain`'s flags (cli.py), so a value
one refuses the other refuses too. A leaf module: the CLI imports it on every command."""

from __future__ import annotations

# (lowest, whether the lowest is excluded, highest, what it means). The highest keep times
# within what Python's datetime can subtract from now.
MAINTENANCE_OPTIONS: dict[str, tuple[float, bool, float, str]] = {
    "retention_days": (
        0, False, 36500, "snapshots older than this many days are expired; 7 by default"
    ),
    "orphan_age_hours": (
        1, False, 876000,
        "the safety window: unreferenced files older than this many hours are deleted, so it "
        "must be longer than any load runs; 24 by default",
    ),
    "target_file_size_mb": (
        0, True, 1048576,
        "the size of compacted files, in MB of 2^20 bytes; None (the default): the table's "
        "write.target-file-size-bytes, else 128",
    ),
    "max_file_rows": (
        1, False, 1_000_000_000,
        "the cap on the rows of a compacted file, where the target size is not reached "
        "first: a file holds fewer than twice this; None (the default): 500000",
    ),
}  # fmt: skip
# The options of MAINTENANCE_OPTIONS that take an integer only.
INTEGER_MAINTENANCE_OPTIONS = ("max_file_rows",)
