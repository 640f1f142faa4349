"""Give a table exactly the generated field ids, with pyiceberg's public table APIs only.

pyiceberg numbers fields itself: `create_table` renumbers the schema from 1 in pre-order (a
struct's fields, then each field's nested types), and `update_schema().add_column` gives a
column `last_column_id + 1` and its nested fields the ids right after it. A schema a few
generations old is neither: retired ids leave gaps, a reordered model keeps its ids, and a
column added later has an id above every nested id of the first generation.

So the ids are steered rather than set. The fields are laid out in the order pyiceberg numbers
them: first the longest run of the schema that `create_table` numbers as generated, then the
rest with `add_column` in id order. Each gap is taken by a placeholder column, and a last
update deletes the placeholders and moves the fields into the generated order. Everything
happens in one transaction, which the caller checks before committing. A layout that pyiceberg
cannot number as generated raises `Unplaceable`.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema, index_by_id
from pyiceberg.table import Transaction
from pyiceberg.transforms import VoidTransform
from pyiceberg.types import (
    BooleanType,
    IcebergType,
    ListType,
    MapType,
    NestedField,
    StructType,
)

from cascade.runtime.schema_slots import ROOT, Path, index_slots, struct_fields

PLACEHOLDER = "__cascade_placeholder_"
PARTITION_PLACEHOLDER = "__cascade_partition_placeholder_"
# pyiceberg numbers partition fields from 1000.
FIRST_PARTITION_ID = 1000


class Unplaceable(Exception):
    """pyiceberg would give a field another id than the generated one, whatever the order."""


@dataclass(frozen=True)
class _Addition:
    path: Path
    field_type: IcebergType
    required: bool
    doc: str | None


@dataclass
class Layout:
    """Replays pyiceberg's numbering from `next_id`, choosing what to lay out when."""

    next_id: int
    wanted: set[int]
    last_id: int
    placed: set[int] = field(default_factory=set)
    placeholders: list[Path] = field(default_factory=list)

    def struct(self, fields: tuple[NestedField, ...], path: Path) -> StructType:
        """The fields that pyiceberg numbers as generated when it numbers a struct here.

        pyiceberg gives a struct's fields consecutive ids, then numbers their types. A field
        whose id is not next waits for `add_column`; a gap gets a placeholder, itself a struct
        so that its own (empty) block can take gaps when nested ids are numbered.
        """
        waiting = sorted((f for f in fields if f.field_id not in self.placed), key=_id)
        block = []
        while True:
            if waiting and waiting[0].field_id == self.next_id:
                block.append(waiting.pop(0))
            elif self._at_gap():
                block.append(self._placeholder(path, StructType()))
            else:
                break
            self.placed.add(self.next_id)
            self.next_id += 1
        laid_out = [_with_type(f, self.type(f.field_type, path + (f.name,))) for f in block]
        return StructType(*laid_out)

    def type(self, field_type: IcebergType, path: Path) -> IcebergType:
        if isinstance(field_type, StructType):
            return self.struct(field_type.fields, path)
        if isinstance(field_type, ListType):
            self._expect(field_type.element_id, path + ("element",))
            element = self.type(field_type.element_type, path + ("element",))
            # Keywords: pyiceberg takes a positional empty struct (falsy) for a missing one.
            return ListType(
                element_id=field_type.element_id,
                element_type=element,
                element_required=field_type.element_required,
            )
        if isinstance(field_type, MapType):
            self._expect(field_type.key_id, path + ("key",))
            self._expect(field_type.value_id, path + ("value",))
            key = self.type(field_type.key_type, path + ("key",))
            value = self.type(field_type.value_type, path + ("value",))
            return MapType(
                key_id=field_type.key_id,
                key_type=key,
                value_id=field_type.value_id,
                value_type=value,
                value_required=field_type.value_required,
            )
        return field_type

    def additions(self, schema: Schema) -> list[list[_Addition]]:
        """`add_column` calls, in rounds, that give the ids not laid out yet up to `last_id`.

        A field added to a struct that is itself added needs a later round: `add_column`
        finds the parent in the schema as it was when the update started.
        """
        by_id = index_slots(schema)
        rounds: list[list[_Addition]] = [[]]
        added_now: set[int] = set()
        while self.next_id <= self.last_id:
            if self._at_gap():
                placeholder = self._placeholder((), BooleanType())
                rounds[-1].append(_Addition((placeholder.name,), BooleanType(), False, None))
                self.next_id += 1
                continue
            if self.next_id in self.placed:
                raise Unplaceable(
                    f"id {self.next_id}: generated for a field the table has under another id"
                )
            slot = by_id[self.next_id]
            orphan = slot.parent_id != ROOT and slot.parent_id not in self.placed
            if slot.nested is None or orphan:
                raise Unplaceable(
                    f"{'.'.join(slot.path)}: generated with id {self.next_id}, which pyiceberg "
                    "gives only together with the field it belongs to"
                )
            if slot.parent_id in added_now:
                rounds.append([])
                added_now = set()
            self.placed.add(self.next_id)
            self.next_id += 1
            pruned = self.type(slot.nested.field_type, slot.path)
            rounds[-1].append(_Addition(slot.path, pruned, slot.nested.required, slot.nested.doc))
            added_now |= {slot.nested.field_id, *index_by_id(pruned)}
        return [additions for additions in rounds if additions]

    def _at_gap(self) -> bool:
        return self.next_id <= self.last_id and self.next_id not in self.wanted

    def _expect(self, field_id: int, path: Path) -> None:
        if field_id != self.next_id:
            raise Unplaceable(
                f"{'.'.join(path)}: generated with id {field_id}, but pyiceberg numbers it "
                f"{self.next_id} (right after the fields before it)"
            )
        self.placed.add(field_id)
        self.next_id += 1

    def _placeholder(self, path: Path, field_type: IcebergType) -> NestedField:
        name = f"{PLACEHOLDER}{self.next_id}"
        # A placeholder inside a placeholder goes when the outer one is deleted.
        if not any(part.startswith(PLACEHOLDER) for part in path):
            self.placeholders.append(path + (name,))
        return NestedField(self.next_id, name, field_type, required=False)


def initial_schema(schema: Schema, last_column_id: int) -> tuple[Schema, Layout]:
    """The schema to create the table from, and the layout to continue with `steer`.

    `create_table` gives it exactly the ids it carries, which are the generated ones.
    """
    wanted = set(index_by_id(schema))
    layout = Layout(next_id=1, wanted=wanted, last_id=max([last_column_id, *wanted]))
    return Schema(*layout.struct(schema.fields, ()).fields), layout


def steer(transaction: Transaction, schema: Schema, layout: Layout, creating: bool) -> bool:
    """Add what `layout` has not laid out, delete the placeholders, restore the order; return
    whether anything changed.

    Only a new table may gain required columns: it has no rows that lack them. Structs whose
    fields differ from the generated ones are left as they are, for the caller's check.
    """
    rounds = layout.additions(schema)
    for additions in rounds:
        with transaction.update_schema(allow_incompatible_changes=creating) as update:
            for addition in additions:
                update.add_column(
                    addition.path,
                    addition.field_type,
                    doc=addition.doc,
                    required=addition.required,
                )
    current = transaction.table_metadata.schema()
    moves = list(_moves(current, schema))
    if not layout.placeholders and not moves:
        return bool(rounds)
    with transaction.update_schema() as update:
        for path in layout.placeholders:
            update.delete_column(path)
        for path, after in moves:
            if after is None:
                update.move_first(path)
            else:
                update.move_after(path, after)
    return True


def initial_spec(
    spec: PartitionSpec, last_partition_id: int, created: Schema
) -> tuple[PartitionSpec, list[str]] | None:
    """The spec to create the table with, and the names of its placeholder fields.

    `create_table` numbers partition fields 1000, 1001, ... in spec order, so the generated
    ids must ascend in that order; gaps and ids up to `last_partition_id` get void fields, to
    be removed after. None when a source column is not in the created schema yet.
    """
    ids = [f.field_id for f in spec.fields]
    missing = any(created.find_column_name(f.source_id) is None for f in spec.fields)
    if missing or ids != sorted(ids):
        return None
    by_id = {f.field_id: f for f in spec.fields}
    source = next((f.source_id for f in spec.fields), _any_column(created))
    fields, placeholders = [], []
    for field_id in range(FIRST_PARTITION_ID, max([last_partition_id, *ids], default=0) + 1):
        if field_id in by_id:
            fields.append(by_id[field_id])
        elif source is not None:
            name = f"{PARTITION_PLACEHOLDER}{field_id}"
            fields.append(PartitionField(source, field_id, VoidTransform(), name))
            placeholders.append(name)
    return PartitionSpec(*fields), placeholders


def add_spec(transaction: Transaction, spec: PartitionSpec) -> None:
    """Partition a table created unpartitioned; `add_field` numbers fields 1000, 1001, ..."""
    if not spec.fields:
        return
    names = index_by_id(transaction.table_metadata.schema())
    with transaction.update_spec() as update:
        for partition in spec.fields:
            update.add_field(names[partition.source_id].name, partition.transform, partition.name)


def remove_spec_placeholders(transaction: Transaction, placeholders: list[str]) -> None:
    if placeholders:
        with transaction.update_spec() as update:
            for name in placeholders:
                update.remove_field(name)


def _moves(current: Schema, generated: Schema) -> Iterator[tuple[Path, Path | None]]:
    """`move_first`/`move_after` calls that order every struct like the generated one."""
    for fields in struct_fields(index_slots(generated)).values():
        order = [(f.field.field_id, f.field.name) for f in fields]
        struct_path = fields[0].path[:-1]
        try:
            struct = _struct_at(current, struct_path)
        except ValueError:
            continue
        have = [(f.field_id, f.name) for f in struct.fields if not f.name.startswith(PLACEHOLDER)]
        if have == order or sorted(have) != sorted(order):
            continue
        previous: Path | None = None
        for f in fields:
            yield f.path, previous
            previous = f.path


def _struct_at(schema: Schema, path: Path) -> StructType:
    if not path:
        return schema.as_struct()
    struct = schema.find_field(".".join(path)).field_type
    if not isinstance(struct, StructType):
        raise ValueError(f"{'.'.join(path)} is no struct")
    return struct


def _any_column(schema: Schema) -> int | None:
    """A column to base void partition fields on: a void transform takes any type, and a
    column that stays keeps the placeholder spec valid while placeholder columns go."""
    return next((f.field_id for f in schema.fields if not f.name.startswith(PLACEHOLDER)), None)


def _with_type(f: NestedField, field_type: IcebergType) -> NestedField:
    return NestedField(f.field_id, f.name, field_type, required=f.required, doc=f.doc)


def _id(f: NestedField) -> int:
    return f.field_id
