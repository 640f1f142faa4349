"""Every field id of a schema and where it sits, gathered by pyiceberg's own walk (`visit`).

pyiceberg's indexes answer one question each: `index_by_id` the field, `index_name_by_id` the
dotted name (and it refuses a schema with two fields of one dotted name), `_index_parents` the
parent (private). Classifying a change and steering ids want all three at once, and the path as
parts, because a name may hold a dot; so one visitor gathers them.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from pyiceberg.schema import Schema, SchemaVisitor, visit
from pyiceberg.types import IcebergType, ListType, MapType, NestedField, PrimitiveType, StructType

ROOT = -1  # the parent id of a top-level column

Path = tuple[str, ...]


@dataclass(frozen=True)
class Slot:
    """A struct field, or the element, key or value of a list or map (`field` is then
    pyiceberg's `element_field`, `key_field` or `value_field`), under the field `parent_id`."""

    path: Path
    field: NestedField
    parent_id: int
    named: bool  # a struct field, with a name of its own

    @property
    def nested(self) -> NestedField | None:
        """The struct field; None for an element, key or value, which is never added alone."""
        return self.field if self.named else None

    @property
    def name(self) -> str:
        """The dotted path, as pyiceberg's `index_name_by_id` spells it."""
        return ".".join(self.path)


def index_slots(schema: Schema | IcebergType) -> dict[int, Slot]:
    """Every field id with its slot, a field before the fields inside it."""
    gather = _GatherSlots()
    visit(schema, gather)
    return gather.slots


def struct_fields(slots: Mapping[int, Slot]) -> dict[int, list[Slot]]:
    """The fields of every struct that has any, in order, by the id of the field holding the
    struct (ROOT for the schema's own)."""
    structs: dict[int, list[Slot]] = {}
    for slot in slots.values():
        if slot.named:
            structs.setdefault(slot.parent_id, []).append(slot)
    return structs


class _GatherSlots(SchemaVisitor[None]):
    def __init__(self) -> None:
        self.slots: dict[int, Slot] = {}
        self._open: list[Slot] = []  # the fields being visited, outermost first

    def before_field(self, field: NestedField) -> None:
        self._enter(field, named=True)

    def before_list_element(self, element: NestedField) -> None:
        self._enter(element, named=False)

    def before_map_key(self, key: NestedField) -> None:
        self._enter(key, named=False)

    def before_map_value(self, value: NestedField) -> None:
        self._enter(value, named=False)

    def after_field(self, field: NestedField) -> None:
        # pyiceberg's after_list_element, after_map_key and after_map_value call this too.
        self._open.pop()

    def _enter(self, field: NestedField, named: bool) -> None:
        parent = self._open[-1] if self._open else None
        path = (*parent.path, field.name) if parent else (field.name,)
        slot = Slot(path, field, parent.field.field_id if parent else ROOT, named)
        self.slots[field.field_id] = slot
        self._open.append(slot)

    # What the walk returns is not used: the slots are gathered on the way down.
    def schema(self, schema: Schema, struct_result: None) -> None:
        return None

    def struct(self, struct: StructType, field_results: list[None]) -> None:
        return None

    def field(self, field: NestedField, field_result: None) -> None:
        return None

    def list(self, list_type: ListType, element_result: None) -> None:
        return None

    def map(self, map_type: MapType, key_result: None, value_result: None) -> None:
        return None

    def primitive(self, primitive: PrimitiveType) -> None:
        return None
