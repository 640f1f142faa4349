"""Field ids that are the ids the live table has, and never move.

A new table gets the ids pyiceberg's `create_table` will assign (it renumbers a schema in
pre-order: a struct's fields first, then each field's nested types). Later generations keep
every id the lock holds, give new fields `last_column_id + 1` in the same order, follow
`renamed_from` markers, and retire ids that are no longer used: a retired id is never reused,
because old data files still carry it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from cascade.compiler.ir import (
    Column,
    DecimalType,
    IcebergType,
    ListType,
    MapType,
    PartitionField,
    PrimitiveType,
    RetiredField,
    StructField,
    StructType,
    TypeVisitor,
    visit,
)
from cascade.compiler.resolve.lock import Path_, TableLock


@dataclass(frozen=True)
class AssignedIds:
    columns: tuple[Column, ...]
    partition_fields: tuple[PartitionField, ...]
    retired: tuple[RetiredField, ...]
    last_column_id: int
    last_partition_id: int


class IdAssigner(TypeVisitor[IcebergType]):
    """Gives a table's fields their ids: `assign` visits the columns as one struct, and each
    struct, list and map takes the ids of its fields as `visit` reaches it."""

    def __init__(self, lock: TableLock | None):
        self.lock = lock or TableLock(identifier="")
        self.next_id = self.lock.last_column_id + 1
        self.used: dict[int, Path_] = {}
        self.renames: dict[Path_, Path_] = {}  # new path prefix -> old path prefix
        # Whether the type being numbered is numbered like create_table does (see `struct`).
        self.fresh = False

    def id_for(self, path: Path_) -> int:
        previous = self.lock.field_ids.get(self.old_path(path))
        if previous is None or previous in self.used:
            previous = self.next_id
            self.next_id += 1
        self.used[previous] = path
        return previous

    def old_path(self, path: Path_) -> Path_:
        for new, old in self.renames.items():
            if path[: len(new)] == new:
                return old + path[len(new) :]
        return path

    def assign(self, columns: tuple[Column, ...]) -> tuple[Column, ...]:
        for column in columns:
            if column.renamed_from and (column.renamed_from,) in self.lock.field_ids:
                self.renames[(column.name,)] = (column.renamed_from,)
        # A new table is numbered like create_table does; an existing one like update_schema.
        self.fresh = not self.lock.field_ids
        table = StructType(tuple(StructField(c.name, c.type, c.required) for c in columns))
        assigned = visit(table, self)
        assert isinstance(assigned, StructType)  # what struct() returns for a struct
        return tuple(
            replace(c, field_id=f.field_id, type=f.type)
            for c, f in zip(columns, assigned.fields, strict=True)
        )

    def struct(
        self, value: StructType, path: Path_, fields: list[Callable[[], IcebergType]]
    ) -> StructType:
        """Ids for a struct's fields and everything inside them.

        pyiceberg numbers a schema it creates in pre-order (a struct's fields, then each
        field's nested types), while `update_schema().add_column` numbers each added column and
        then its type before the next column: new fields follow whichever rule will apply.
        """
        fresh = self.fresh
        ids = [self.id_for((*path, f.name)) for f in value.fields] if fresh else []
        assigned = []
        for index, (f, member_type) in enumerate(zip(value.fields, fields, strict=True)):
            if not fresh:
                # add_column adds a new field whole, numbering its type like create_table.
                self.fresh = self.old_path((*path, f.name)) not in self.lock.field_ids
                ids.append(self.id_for((*path, f.name)))
            assigned.append(StructField(f.name, member_type(), f.required, f.doc, ids[index]))
        self.fresh = fresh
        return StructType(tuple(assigned))

    def list(self, value: ListType, path: Path_, element: Callable[[], IcebergType]) -> ListType:
        element_id = self.id_for((*path, "element"))
        return ListType(element(), value.element_required, element_id)

    def map(
        self,
        value: MapType,
        path: Path_,
        key: Callable[[], IcebergType],
        item: Callable[[], IcebergType],
    ) -> MapType:
        key_id, value_id = self.id_for((*path, "key")), self.id_for((*path, "value"))
        return MapType(key(), item(), value.value_required, key_id, value_id)

    def primitive(self, value: PrimitiveType | DecimalType, path: Path_) -> IcebergType:
        return value

    def retired(self) -> tuple[RetiredField, ...]:
        retired = dict(self.lock.retired)
        for path, field_id in self.lock.field_ids.items():
            if field_id not in self.used:
                retired[field_id] = ".".join(path)
        return tuple(RetiredField(i, retired[i]) for i in sorted(retired))

    def partition_fields(
        self, fields: tuple[PartitionField, ...]
    ) -> tuple[tuple[PartitionField, ...], int]:
        last = self.lock.last_partition_id
        assigned = []
        for field in fields:
            source = self.old_path((field.source,))[0]
            field_id = self.lock.partition_ids.get((source, field.transform))
            if field_id is None:
                last += 1
                field_id = last
            assigned.append(replace(field, field_id=field_id))
        return tuple(assigned), max([last, *(f.field_id for f in assigned)])


def assign_ids(
    columns: tuple[Column, ...],
    partition_fields: tuple[PartitionField, ...],
    lock: TableLock | None,
) -> AssignedIds:
    assigner = IdAssigner(lock)
    assigned = assigner.assign(columns)
    partitions, last_partition_id = assigner.partition_fields(partition_fields)
    retired = assigner.retired()
    last_column_id = max(
        [assigner.lock.last_column_id, *assigner.used, *(r.field_id for r in retired)]
    )
    return AssignedIds(assigned, partitions, retired, last_column_id, last_partition_id)
