"""The field-id lock: the ids a previous generation gave each table, indexed by name path for
the id assignment (field_ids.py). The previous output is the lock (no separate lock file): its
schema modules are read into table contracts (driver/contract_reader.py), and `lock_of` indexes
one, or the contract `cascade adopt` builds from a live table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cascade.runtime.contract import TableContract

Path_ = tuple[str, ...]  # a field's name path: ("payload", "commits", "element", "sha")


@dataclass(frozen=True)
class TableLock:
    identifier: str
    field_ids: dict[Path_, int] = field(default_factory=dict)
    retired: dict[int, str] = field(default_factory=dict)
    last_column_id: int = 0
    partition_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    last_partition_id: int = 999
    required: dict[Path_, bool] = field(default_factory=dict)  # the top-level columns' flags


def lock_of(contract: TableContract) -> TableLock:
    """The ids of every field of `contract` (list elements, map keys and values included, as
    pyiceberg names them: element, key, value), by name path (runtime/schema_slots.py, the
    runtime's own walk of a schema)."""
    from cascade.runtime.schema_slots import index_slots

    schema = contract.schema
    slots = index_slots(schema)
    fields = {field_id: slot.field for field_id, slot in slots.items()}
    field_ids = {slot.path: field_id for field_id, slot in slots.items()}
    partition_ids = {
        (fields[f.source_id].name, str(f.transform)): f.field_id
        for f in contract.partition_spec.fields
        if f.source_id in fields
    }
    retired = {int(k): str(v) for k, v in contract.retired_field_ids.items()}
    return TableLock(
        identifier=contract.identifier,
        field_ids=field_ids,
        retired=retired,
        # A module without last_column_id: no id it names, retired ones included, is reused.
        last_column_id=contract.last_column_id or max([*fields, *retired], default=0),
        partition_ids=partition_ids,
        last_partition_id=contract.last_partition_id or max(partition_ids.values(), default=999),
        required={(f.name,): f.required for f in schema.fields},
    )
