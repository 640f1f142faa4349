"""The field-id lock: the ids a previous generation gave each table, indexed by name path for
the id assignment (field_ids.py). The previous output is the lock (no separate lock file): its
schema modules are read into table contracts (driver/contract_reader.py), and `lock_of` indexes
one, or the contract `cascade adopt` builds from a live table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.schema import Schema, SchemaVisitor
    from pyiceberg.types import ListType, MapType, NestedField, PrimitiveType, StructType

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
    pyiceberg names them: element, key, value), by name path."""
    from pyiceberg.schema import index_by_id, visit

    schema = contract.schema
    fields = index_by_id(schema)
    field_ids = visit(schema, _index_by_path())
    partition_ids = {
        (fields[f.source_id].name, str(f.transform)): f.field_id
        for f in contract.partition_spec.fields
        if f.source_id in fields
    }
    return TableLock(
        identifier=contract.identifier,
        field_ids=field_ids,
        retired={int(k): str(v) for k, v in contract.retired_field_ids.items()},
        last_column_id=contract.last_column_id or max(fields, default=0),
        partition_ids=partition_ids,
        last_partition_id=contract.last_partition_id or max(partition_ids.values(), default=999),
        required={(f.name,): f.required for f in schema.fields},
    )


def _index_by_path() -> SchemaVisitor[dict[Path_, int]]:
    """pyiceberg's post-order schema visitor, keeping the name path of the field it is in
    (pyiceberg's own `index_by_name` joins names with dots, which a name may hold)."""
    from pyiceberg.schema import SchemaVisitor

    class IndexByPath(SchemaVisitor[dict[Path_, int]]):
        def __init__(self) -> None:
            self.path: list[str] = []
            self.ids: dict[Path_, int] = {}

        def before_field(self, field: NestedField) -> None:
            self.path.append(field.name)
            self.ids[tuple(self.path)] = field.field_id

        def after_field(self, field: NestedField) -> None:
            self.path.pop()

        def schema(self, schema: Schema, struct_result: object) -> dict[Path_, int]:
            return self.ids

        def struct(self, struct: StructType, field_results: object) -> dict[Path_, int]:
            return self.ids

        def field(self, field: NestedField, field_result: object) -> dict[Path_, int]:
            return self.ids

        def list(self, list_type: ListType, element_result: object) -> dict[Path_, int]:
            return self.ids

        def map(
            self, map_type: MapType, key_result: object, value_result: object
        ) -> dict[Path_, int]:
            return self.ids

        def primitive(self, primitive: PrimitiveType) -> dict[Path_, int]:
            return self.ids

    return IndexByPath()
