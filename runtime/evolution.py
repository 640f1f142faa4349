"""Classify how a table changes between two versions, by Iceberg's schema evolution rules.

One classifier serves review and load alike: `cascade diff` compares the committed generated
schema with the new one, and the runtime compares the live table with the generated schema
before it evolves the table. Fields are matched by id, never by name: a field that keeps its id
and changes its name is a rename, and one that loses its id is dropped, whatever its name.

Every change has a stable rule code (change_rules.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.types import (
    DecimalType,
    DoubleType,
    FloatType,
    IcebergType,
    IntegerType,
    LongType,
    PrimitiveType,
)

from cascade.runtime.change_rules import Change
from cascade.runtime.contract import TableContract
from cascade.runtime.schema_slots import Slot, index_slots, struct_fields


@dataclass(frozen=True)
class TableShape:
    """What the comparison looks at: the schema, partitioning and unique key of a table."""

    schema: Schema
    spec: PartitionSpec
    unique_key: tuple[str, ...] = ()
    retired_field_ids: Mapping[int, str] = field(default_factory=dict)
    format_version: int = 2
    has_rows: bool = True  # a table without rows can take required columns

    @classmethod
    def of(cls, contract: TableContract) -> TableShape:
        return cls(
            contract.schema,
            contract.partition_spec,
            contract.unique_key,
            contract.retired_field_ids,
        )


def classify(old: TableShape, new: TableShape) -> list[Change]:
    """Every change from `old` to `new`, in a stable order (by field id, then partitioning and
    unique key). The unique key is compared only where both sides record one."""
    before, after = index_slots(old.schema), index_slots(new.schema)
    changes: list[Change] = []
    for field_id in sorted(set(before) | set(after)):
        was, now = before.get(field_id), after.get(field_id)
        if was is None and now is not None:
            if now.parent_id in after and now.parent_id not in before:
                continue  # inside a field that is added whole
            changes.append(_added(now, old))
        elif now is None and was is not None:
            if was.parent_id in before and was.parent_id not in after:
                continue  # inside a field that is dropped whole
            changes.append(
                Change("CAS201", was.name, f"{was.name} (id {field_id}) is dropped", field_id)
            )
        elif was is not None and now is not None:
            changes.extend(_changed(was, now))
    changes.extend(_moves(before, after))
    changes.extend(_partitioning(old, new, after))
    if old.unique_key and _key(old) != _key(new):
        changes.append(
            Change(
                "CAS206",
                "unique_key",
                f"unique key {', '.join(old.unique_key)} -> {', '.join(new.unique_key)}: rows "
                "loaded before would be matched by another key",
            )
        )
    return changes


def _key(shape: TableShape) -> frozenset[int | str]:
    """The unique key as the fields it matches rows on. By field id, like every other
    comparison here: a key column renamed through `renamed_from` (same id) is the same key, and
    so is the same columns in another order (merges match on all of them at once). Comparing
    the names reported a rename of the key column as CAS206. A name that is no column stays a
    name, so that it differs from any id."""
    ids: set[int | str] = set()
    for name in shape.unique_key:
        try:
            ids.add(shape.schema.find_field(name).field_id)
        except ValueError:
            ids.add(name)
    return frozenset(ids)


def _added(now: Slot, old: TableShape) -> Change:
    path, field_id = now.name, now.field.field_id
    if field_id in old.retired_field_ids:
        retired = old.retired_field_ids[field_id]
        return Change(
            "CAS205",
            path,
            f"{path} takes id {field_id}, retired from {retired}: files written "
            "before would be read as this field",
            field_id,
        )
    if now.field.required and old.has_rows:
        return Change(
            "CAS204",
            path,
            f"{path} is added as required to a format v{old.format_version} table whose "
            "rows have no value for it",
            field_id,
        )
    return Change("CAS101", path, f"{path} {_type(now.field.field_type)} is added", field_id)


def _changed(was: Slot, now: Slot) -> Iterator[Change]:
    path, field_id = now.name, now.field.field_id
    if was.named and now.named and was.field.name != now.field.name:
        yield Change(
            "CAS105",
            path,
            f"{was.name} is renamed {path} (id {field_id})",
            field_id,
        )
    old_type, new_type = was.field.field_type, now.field.field_type
    if _kind(old_type) != _kind(new_type):
        yield Change(
            "CAS202",
            path,
            f"{path}: {_type(old_type)} -> {_type(new_type)} cannot be read from old files",
            field_id,
        )
    elif isinstance(old_type, PrimitiveType) and old_type != new_type:
        code = "CAS102" if promotable(old_type, new_type) else "CAS202"
        yield Change(code, path, f"{path}: {_type(old_type)} -> {_type(new_type)}", field_id)
    if was.field.required and not now.field.required:
        yield Change("CAS103", path, f"{path} becomes optional", field_id)
    elif now.field.required and not was.field.required:
        yield Change(
            "CAS203",
            path,
            f"{path} becomes required, but rows written before may hold nulls",
            field_id,
        )
    if was.named and (was.field.doc or None) != (now.field.doc or None):
        yield Change("CAS104", path, f"{path}: description changed", field_id)


def promotable(old: PrimitiveType, new: IcebergType) -> bool:
    """Iceberg's type promotions (v1/v2): readers read old files as the wider type."""
    if isinstance(old, IntegerType) and isinstance(new, LongType):
        return True
    if isinstance(old, FloatType) and isinstance(new, DoubleType):
        return True
    return (
        isinstance(old, DecimalType)
        and isinstance(new, DecimalType)
        and old.scale == new.scale
        and new.precision > old.precision
    )


def _moves(before: dict[int, Slot], after: dict[int, Slot]) -> Iterator[Change]:
    """One change per struct whose kept fields are listed in another order."""
    old_orders = _struct_orders(before)
    for parent_id, new_order in _struct_orders(after).items():
        old_order = old_orders.get(parent_id, [])
        kept = [i for i in new_order if i in old_order]
        if kept != [i for i in old_order if i in new_order]:
            where = before[parent_id].name if parent_id in before else "the table"
            yield Change("CAS107", where, f"fields of {where} are reordered", None)


def _partitioning(old: TableShape, new: TableShape, after: dict[int, Slot]) -> Iterator[Change]:
    old_fields = [(f.source_id, str(f.transform), f.name) for f in old.spec.fields]
    new_fields = [(f.source_id, str(f.transform), f.name) for f in new.spec.fields]
    for source_id, transform, name in old_fields:
        if source_id not in after:
            yield Change(
                "CAS207",
                "partitioning",
                f"partition field {name} ({transform}) loses its source column (id {source_id})",
            )
    if old_fields != new_fields and all(s in after for s, _, _ in old_fields):
        yield Change(
            "CAS106",
            "partitioning",
            f"partitioning {_spec(old_fields)} -> {_spec(new_fields)}; files written before keep "
            "their partitioning and stay readable",
        )


def _spec(fields: list[tuple[int, str, str]]) -> str:
    return ", ".join(f"{name}={transform}" for _, transform, name in fields) or "none"


def _struct_orders(slots: dict[int, Slot]) -> dict[int, list[int]]:
    """The field ids of every struct, in order, keyed by the id of what holds the struct."""
    return {
        parent_id: [f.field.field_id for f in fields]
        for parent_id, fields in struct_fields(slots).items()
    }


def _kind(field_type: IcebergType) -> type:
    return PrimitiveType if isinstance(field_type, PrimitiveType) else type(field_type)


def _type(field_type: IcebergType) -> str:
    return str(field_type) if isinstance(field_type, PrimitiveType) else type(field_type).__name__
