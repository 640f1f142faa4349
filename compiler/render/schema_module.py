"""Renders `<out>/schemas/<group>/<table>.py`: the table's contract (runtime/contract.py): its
Iceberg schema with one field per line, partition spec, unique key and field-id bookkeeping."""

from __future__ import annotations

from cascade.compiler.ir import (
    PRIMITIVE_CLASSES,
    DecimalType,
    IcebergType,
    Ingestion,
    ListType,
    MapType,
    PrimitiveType,
    StructType,
)
from cascade.compiler.render.python import docstring, header, literal

TRANSFORM_CLASSES = {
    "identity": "IdentityTransform",
    "year": "YearTransform",
    "month": "MonthTransform",
    "day": "DayTransform",
    "hour": "HourTransform",
    "bucket": "BucketTransform",
    "truncate": "TruncateTransform",
}
TRANSFORM_ARGUMENTS = {"bucket": "num_buckets", "truncate": "width"}


def type_classes(value: IcebergType) -> set[str]:
    """The pyiceberg.types names a type's expression uses."""
    if isinstance(value, PrimitiveType):
        return {PRIMITIVE_CLASSES[value.name]}
    if isinstance(value, DecimalType):
        return {"DecimalType"}
    if isinstance(value, ListType):
        return {"ListType"} | type_classes(value.element)
    if isinstance(value, MapType):
        return {"MapType"} | type_classes(value.key) | type_classes(value.value)
    if isinstance(value, StructType):
        return {"StructType", "NestedField"}.union(*(type_classes(f.type) for f in value.fields))
    raise TypeError(f"no renderer for Iceberg type {value!r}")


def type_expression(value: IcebergType, indent: str = "") -> str:
    """A type as pyiceberg code. A struct's fields go one per line, indented under the line
    at `indent`, so that a nested change is a one-line diff too."""
    if isinstance(value, PrimitiveType):
        return f"{PRIMITIVE_CLASSES[value.name]}()"
    if isinstance(value, DecimalType):
        return f"DecimalType({value.precision}, {value.scale})"
    if isinstance(value, ListType):
        return (
            f"ListType(element_id={value.element_id}, "
            f"element={type_expression(value.element, indent)}, "
            f"element_required={value.element_required})"
        )
    if isinstance(value, MapType):
        return (
            f"MapType(key_id={value.key_id}, key_type={type_expression(value.key, indent)}, "
            f"value_id={value.value_id}, value_type={type_expression(value.value, indent)}, "
            f"value_required={value.value_required})"
        )
    if isinstance(value, StructType):
        if not value.fields:
            return "StructType()"
        inner = indent + "    "
        fields = "".join(
            f"\n{inner}{nested_field(f.field_id, f.name, f.type, f.required, f.doc, inner)},"
            for f in value.fields
        )
        return f"StructType({fields}\n{indent})"
    raise TypeError(f"no renderer for Iceberg type {value!r}")


def nested_field(
    field_id: int, name: str, value: IcebergType, required: bool, doc: str, indent: str = ""
) -> str:
    text = (
        f"NestedField({field_id}, {literal(name)}, {type_expression(value, indent)}, "
        f"required={required}"
    )
    return text + (f", doc={literal(doc)})" if doc else ")")


def transform_expression(transform: str) -> tuple[str, str]:
    """`bucket[16]` -> ("BucketTransform", "BucketTransform(num_buckets=16)")."""
    kind, _, rest = transform.partition("[")
    name = TRANSFORM_CLASSES[kind]
    if kind in TRANSFORM_ARGUMENTS:
        return name, f"{name}({TRANSFORM_ARGUMENTS[kind]}={int(rest.rstrip(']'))})"
    return name, f"{name}()"


def render_schema_module(ingestion: Ingestion) -> str:
    columns = ingestion.columns
    type_names = sorted({"NestedField"}.union(*(type_classes(c.type) for c in columns)))
    transforms = [transform_expression(p.transform) for p in ingestion.partition_fields]
    ids = {c.name: c.field_id for c in columns}

    if ingestion.model is not None and ingestion.schema_source == ingestion.model.class_name:
        model = ingestion.model.class_name
        title = f"Iceberg table {ingestion.identifier}, from the Pandera model {model}."
        doc = f"{title}\n\n{ingestion.model.docstring}" if ingestion.model.docstring else title
    else:
        doc = f"Iceberg table {ingestion.identifier}, from the schema {ingestion.schema_source}."
    lines = [
        header(ingestion.path),
        docstring(doc),
        "",
        "from pyiceberg.partitioning import PartitionField, PartitionSpec",
        "from pyiceberg.schema import Schema",
    ]
    if transforms:
        names = ", ".join(sorted({t[0] for t in transforms}))
        lines.append(f"from pyiceberg.transforms import {names}")
    lines += [
        f"from pyiceberg.types import {', '.join(type_names)}",
        "",
        "from cascade.runtime.contract import TableContract",
        "",
        "# fmt: off",
        "SCHEMA = Schema(",
        *(
            f"    {nested_field(c.field_id, c.name, c.type, c.required, c.doc, '    ')},"
            for c in columns
        ),
        f"    identifier_field_ids={literal(sorted(ids[name] for name in ingestion.unique_key))},",
        ")",
        "# fmt: on",
        "",
        "PARTITION_SPEC = PartitionSpec(",
    ]
    for field, (_, expression) in zip(ingestion.partition_fields, transforms, strict=True):
        lines.append(
            f"    PartitionField(source_id={ids[field.source]}, field_id={field.field_id}, "
            f"transform={expression}, name={literal(field.name)}),"
        )
    retired = [f"        {r.field_id}: {literal(r.name)}," for r in ingestion.retired_fields]
    lines += [
        ")",
        "",
        "TABLE = TableContract(",
        f"    identifier={literal(ingestion.identifier)},",
        "    schema=SCHEMA,",
        "    partition_spec=PARTITION_SPEC,",
        f"    unique_key={literal(ingestion.unique_key)},",
        *(["    retired_field_ids={", *retired, "    },"] if retired else []),
        f"    last_column_id={ingestion.last_column_id},",
        f"    last_partition_id={ingestion.last_partition_id},",
        f"    allowed_breaking={literal(ingestion.allowed_breaking)},",
        ")",
    ]
    return "\n".join(lines) + "\n"
