"""Field ids that are the ids the live table has, and never move.

A new table gets the ids pyiceberg's `create_table` will assign (it renumbers a schema in
pre-order: a struct's fields first, then each field's nested types). Later generations keep
every id the lock holds, give new fields `last_column_id + 1` in the same order, follow
`renamed_from` markers, and retire ids that are no longer used: a retired id is never reused,
because old data files still carry it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cascade.compiler.ir import (
    Column,
    IcebergType,
    ListType,
    MapType,
    PartitionField,
    RetiredField,
    StructField,
    StructType,
)
from cascade.compiler.resolve.lock import Path_, TableLock


@dataclass(frozen=True)
class AssignedIds:
    columns: tuple[Column, ...]
    partition_fields: tuple[PartitionField, ...]
    retired: tuple[RetiredField, ...]
    last_column_id: int
    last_partition_id: int


class IdAssigner:
    def __init__(self, lock: TableLock | None):
        self.lock = lock or TableLock(identifier="")
        self.next_id = self.lock.last_column_id + 1
        self.used: dict[int, Path_] = {}
        self.renames: dict[Path_, Path_] = {}  # new path prefix -> old path prefix

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
        fresh = not self.lock.field_ids
        assigned = self.struct([(c.name, c.type) for c in columns], (), fresh)
        return tuple(
            replace(c, field_id=field_id, type=column_type)
            for c, (field_id, column_type) in zip(columns, assigned, strict=True)
        )

    def struct(
        self, members: list[tuple[str, IcebergType]], path: Path_, fresh: bool
    ) -> list[tuple[int, IcebergType]]:
        """Ids for a struct's fields and everything inside them.

        pyiceberg numbers a schema it creates in pre-order (a struct's fields, then each
        field's nested types), while `update_schema().add_column` numbers each added column and
        then its type before the next column: new fields follow whichever rule will apply.
        """
        if fresh:
            ids = [self.id_for(path + (name,)) for name, _ in members]
            return [
                (field_id, self.nested(value, path + (name,), True))
                for field_id, (name, value) in zip(ids, members, strict=True)
            ]
        result = []
        for name, value in members:
            existed = self.old_path(path + (name,)) in self.lock.field_ids
            field_id = self.id_for(path + (name,))
            result.append((field_id, self.nested(value, path + (name,), not existed)))
        return result

    def nested(self, value: IcebergType, path: Path_, fresh: bool) -> IcebergType:
        if isinstance(value, StructType):
            members = [(f.name, f.type) for f in value.fields]
            assigned = self.struct(members, path, fresh)
            return StructType(
                tuple(
                    StructField(f.name, member_type, f.required, f.doc, field_id)
                    for f, (field_id, member_type) in zip(value.fields, assigned, strict=True)
                )
            )
        if isinstance(value, ListType):
            element_id = self.id_for(path + ("element",))
            element = self.nested(value.element, path + ("element",), fresh)
            return ListType(element, value.element_required, element_id)
        if isinstance(value, MapType):
            key_id = self.id_for(path + ("key",))
            value_id = self.id_for(path + ("value",))
            key = self.nested(value.key, path + ("key",), fresh)
            item = self.nested(value.value, path + ("value",), fresh)
            return MapType(key, item, value.value_required, key_id, value_id)
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
