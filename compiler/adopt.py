"""`cascade adopt <table>`: take a table made elsewhere under Cascade's care, keeping its ids.

The field-id lock is the previous generation's schema module (lock.py). Adopting writes the
live table's ids into that lock, by column name, so that the next compile generates them: the
columns the model shares with the table keep the table's ids, new ones count on from the
table's last column id, and the table's columns the model lacks are retired (a load then asks
for `allow_breaking` before it drops them). The table itself is not changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cascade.compiler.render.python import literal

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from pyiceberg.types import IcebergType


def lock_text(identifier: str, table: Table) -> str:
    """A schema module holding only what lock.py reads, from the live table's metadata."""
    from pyiceberg.schema import index_by_id

    metadata = table.metadata
    schema = table.schema()
    current = set(index_by_id(schema))
    # Ids of columns dropped from the table before: their data may still be in old files.
    retired = {}
    for old in metadata.schemas:
        for field_id, nested in index_by_id(old).items():
            if field_id not in current:
                retired[field_id] = old.find_column_name(field_id) or nested.name
    spec_lines = [
        f"    PartitionField(source_id={f.source_id}, field_id={f.field_id}, "
        f"transform={_transform(str(f.transform))}, name={literal(f.name)}),"
        for f in table.spec().fields
    ]
    return "\n".join(
        [
            f"IDENTIFIER = {literal(identifier)}",
            "SCHEMA = Schema(",
            *(
                f"    {_field(f.field_id, f.name, f.field_type, f.required)},"
                for f in schema.fields
            ),
            ")",
            "PARTITION_SPEC = PartitionSpec(",
            *spec_lines,
            ")",
            f"RETIRED_FIELD_IDS = {literal(dict(sorted(retired.items())))}",
            f"LAST_COLUMN_ID = {metadata.last_column_id}",
            f"LAST_PARTITION_ID = {metadata.last_partition_id or 999}",
        ]
    )


def _field(field_id: int, name: str, field_type: IcebergType, required: bool = False) -> str:
    return f"NestedField({field_id}, {literal(name)}, {_type(field_type)}, required={required})"


def _type(field_type: IcebergType) -> str:
    """Only nested ids matter to the lock: primitives are written as a placeholder."""
    from pyiceberg.types import ListType, MapType, StructType

    if isinstance(field_type, StructType):
        inner = ", ".join(_field(f.field_id, f.name, f.field_type) for f in field_type.fields)
        return f"StructType({inner})"
    if isinstance(field_type, ListType):
        return (
            f"ListType(element_id={field_type.element_id}, "
            f"element={_type(field_type.element_type)})"
        )
    if isinstance(field_type, MapType):
        return (
            f"MapType(key_id={field_type.key_id}, key_type={_type(field_type.key_type)}, "
            f"value_id={field_type.value_id}, value_type={_type(field_type.value_type)})"
        )
    return "Primitive()"


def _transform(transform: str) -> str:
    """`bucket[8]` -> `BucketTransform(num_buckets=8)`, as lock.py reads transforms back."""
    kind, _, argument = transform.partition("[")
    if not argument:
        return f"{kind.capitalize()}Transform()"
    return f"{kind.capitalize()}Transform(n={argument.rstrip(']')})"
