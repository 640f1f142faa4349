"""`cascade show [TABLE]`: what the catalog holds for the project's tables, read through the
same catalog configuration as loads (runtime/catalog.py). Reads only; changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cascade.runtime.contract import METADATA_COLUMN_NAMES

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table
    from pyiceberg.table.snapshots import Snapshot

    from cascade.runtime.contract import TableContract

RECENT_SNAPSHOTS = 5
SAMPLE_ROWS = 5


def table_lines(catalog: Catalog, contracts: list[TableContract]) -> list[str]:
    """One line per table of the project: rows, data files, snapshots, branches, last load."""
    lines = []
    for contract in sorted(contracts, key=lambda c: c.identifier):
        table = _load(catalog, contract.identifier)
        if table is None:
            lines.append(f"{contract.identifier}: not created yet (the first load creates it)")
            continue
        snapshot = table.current_snapshot()
        branches = sorted(name for name in table.metadata.refs if name != "main")
        lines.append(
            f"{contract.identifier}: {_summary(snapshot, 'total-records')} rows, "
            f"{_summary(snapshot, 'total-data-files')} data files, "
            f"{len(table.metadata.snapshots)} snapshots, branches: "
            f"{', '.join(['main', *branches]) if snapshot else 'none'}, last load: "
            f"{_when(snapshot) if snapshot else 'never'}"
        )
    return lines


def detail_lines(catalog: Catalog, identifier: str) -> list[str] | None:
    """One table: its schema with field ids, identifier fields and partitioning, its recent
    snapshots, and a few rows of main. None when the table does not exist."""
    table = _load(catalog, identifier)
    if table is None:
        return None
    schema = table.schema()
    lines = [f"table {identifier}", "schema (id name type):"]
    lines += [
        f"  {f.field_id} {f.name} {f.field_type}{'' if f.required else ' (optional)'}"
        for f in schema.fields
    ]
    key = ", ".join(sorted(schema.identifier_field_names())) or "none"
    lines.append(f"identifier fields: {key}")
    spec = table.spec()
    lines.append("partitioning:")
    lines += [
        f"  {f.name}: {f.transform} of {schema.find_column_name(f.source_id)}" for f in spec.fields
    ] or ["  none"]
    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    lines.append(f"recent snapshots ({len(snapshots)} in all):")
    heads: dict[int, list[str]] = {}  # a snapshot may head several branches (after publish)
    for name, ref in sorted(table.metadata.refs.items()):
        heads.setdefault(ref.snapshot_id, []).append(name)
    for snapshot in reversed(snapshots[-RECENT_SNAPSHOTS:]):
        operation = snapshot.summary.operation.value if snapshot.summary else "?"
        names = heads.get(snapshot.snapshot_id)
        head = f" (head of {', '.join(names)})" if names else ""
        lines.append(
            f"  {snapshot.snapshot_id} {_when(snapshot)} {operation}: "
            f"+{_summary(snapshot, 'added-records')} -{_summary(snapshot, 'deleted-records')} "
            f"rows{head}"
        )
    if table.current_snapshot() is not None:
        columns = [name for name in schema.column_names if name not in METADATA_COLUMN_NAMES]
        rows = table.scan(selected_fields=tuple(columns), limit=SAMPLE_ROWS).to_arrow()
        lines.append(f"first {rows.num_rows} rows of main (data columns):")
        shown = rows.to_pandas().to_string(index=False, max_colwidth=32)
        lines += [f"  {line}" for line in shown.splitlines()]
    return lines


def _load(catalog: Catalog, identifier: str) -> Table | None:
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

    try:
        return catalog.load_table(identifier)
    except (NoSuchTableError, NoSuchNamespaceError):
        return None


def _summary(snapshot: Snapshot | None, key: str) -> str:
    if snapshot is None or snapshot.summary is None:
        return "0"
    return str(snapshot.summary.get(key) or 0)


def _when(snapshot: Snapshot) -> str:
    moment = datetime.fromtimestamp(snapshot.timestamp_ms / 1000, UTC)
    return moment.isoformat(timespec="seconds")
