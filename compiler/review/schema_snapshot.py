"""Snapshots of table schemas with syrupy: one plain text file per table.

`__snapshots__/<test module>/<namespace>.<table>.txt`, UTF-8, one line per field, so that the
pull request that changes a schema shows exactly the field lines it changes, under the table's
name. The `cascade_snapshot` fixture (cascade.compiler.review.pytest_plugin) is a SchemaSnapshots.
Kept apart from the plugin because syrupy is a test dependency: the plugin loads in every
pytest run of an environment that has Cascade, with or without syrupy.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from syrupy.assertion import AssertionResult, SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.location import PyTestLocation
from syrupy.types import SnapshotIndex

from cascade.compiler.review.schema_text import schema_text_diff


class SchemaSnapshotExtension(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        # A snapshot named "raw.glucose_entries" is stored as raw.glucose_entries.txt (syrupy's
        # default would be `test_schemas[raw.glucose_entries]`): a schema keeps its file when
        # the test that checks it is renamed. Without a name, syrupy's default.
        if isinstance(index, str):
            return cls._sanitize_filename(index)[: cls._max_stem_length()]
        return super().get_snapshot_name(test_location=test_location, index=index)


class SchemaSnapshots:
    """Compares `{table: schema text}` with the snapshot files, one per table, all of them.

    `assert cascade_schemas == cascade_snapshot` checks every table before it fails, so that a
    failure shows every changed table at once; a loop of one assertion per table would stop at
    the first, and syrupy would then report the tables it never reached as unused.
    """

    def __init__(self, snapshot: SnapshotAssertion):
        self.snapshot = snapshot.use_extension(SchemaSnapshotExtension)
        self.failures: list[AssertionResult] = []
        self.tables = 0

    # Compared by content, like the dict it stands for; defining __eq__ makes it unhashable.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        self.failures = []
        self.tables = len(other)
        for table, text in other.items():
            with warnings.catch_warnings():
                # Written files are named after their table on purpose (see get_snapshot_name);
                # syrupy would warn on every update that the name does not contain the test's.
                warnings.filterwarnings("ignore", r"\s*Can not relate snapshot name", UserWarning)
                matches = self.snapshot(name=table) == text
            if not matches:
                self.failures.append(self.snapshot.executions[self.snapshot.num_executions - 1])
        return not self.failures

    def __repr__(self) -> str:
        return f"<cascade schema snapshots: {self.tables} tables, {len(self.failures)} differ>"

    def explain(self) -> list[str]:
        """The failed comparison for pytest's assertion message: the changed lines per table."""
        lines = [
            f"[+ schemas] == [- snapshots]: {len(self.failures)} of {self.tables} tables differ; "
            "if intended, run pytest --snapshot-update"
        ]
        for result in self.failures:
            table = result.snapshot_name
            if result.exception is not None:
                lines.append(f"{table}: {type(result.exception).__name__}: {result.exception}")
                continue
            if result.recalled_data is None:
                lines.append(f"{table}: a new table, with no snapshot yet")
            lines += schema_text_diff(
                table, str(result.recalled_data or ""), str(result.asserted_data or "")
            )
        return lines
