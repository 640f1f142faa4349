"""Renders `<out>/schemas/<group>/<table>.py`: the table's Iceberg schema and partition spec."""

from __future__ import annotations

from cascade.compiler.ir import DecimalType, IcebergType, Ingestion, PrimitiveType
from cascade.compiler.render.python import docstring, header, literal

PRIMITIVE_CLASSES = {
    "string": "StringType",
    "long": "LongType",
    "int": "IntegerType",
    "float": "FloatType",
    "double": "DoubleType",
    "boolean": "BooleanType",
    "date": "DateType",
    "time": "TimeType",
    "timestamp": "TimestampType",
    "timestamptz": "TimestamptzType",
    "binary": "BinaryType",
    "uuid": "UUIDType",
}
DLT_DATA_TYPES = {
    "string": "text",
    "long": "bigint",
    "int": "bigint",
    "float": "double",
    "double": "double",
    "boolean": "bool",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "binary": "binary",
    "uuid": "text",
}
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


def type_class(value: IcebergType) -> str:
    if isinstance(value, PrimitiveType):
        return PRIMITIVE_CLASSES[value.name]
    if isinstance(value, DecimalType):
        return "DecimalType"
    raise TypeError(f"no renderer for Iceberg type {value!r}")


def type_expression(value: IcebergType) -> str:
    if isinstance(value, DecimalType):
        return f"DecimalType({value.precision}, {value.scale})"
    return f"{type_class(value)}()"


def transform_expression(transform: str) -> tuple[str, str]:
    """`bucket[16]` -> ("BucketTransform", "BucketTransform(num_buckets=16)")."""
    kind, _, rest = transform.partition("[")
    name = TRANSFORM_CLASSES[kind]
    if kind in TRANSFORM_ARGUMENTS:
        return name, f"{name}({TRANSFORM_ARGUMENTS[kind]}={int(rest.rstrip(']'))})"
    return name, f"{name}()"


def dlt_hint(value: IcebergType) -> dict[str, object]:
    if isinstance(value, DecimalType):
        return {"data_type": "decimal", "precision": value.precision, "scale": value.scale}
    hint: dict[str, object] = {"data_type": DLT_DATA_TYPES[value.name]}
    if value.name in ("timestamp", "timestamptz"):
        hint["timezone"] = value.name == "timestamptz"
    return hint


def render_schema_module(ingestion: Ingestion) -> str:
    model = ingestion.model
    columns = model.columns
    type_names = sorted({"NestedField", *(type_class(c.type) for c in columns)})
    transforms = [transform_expression(p.transform) for p in ingestion.partition_fields]
    ids = {c.name: c.field_id for c in columns}

    title = f"Iceberg table {ingestion.identifier}, from the Pandera model {model.class_name}."
    doc = f"{title}\n\n{model.docstring}" if model.docstring else title
    lines = [
        header(ingestion.path),
        docstring(doc),
        "",
        "from pyiceberg.partitioning import PartitionField, PartitionSpec",
        "from pyiceberg.schema import Schema",
    ]
    if transforms:
        lines.append(
            f"from pyiceberg.transforms import {', '.join(sorted({t[0] for t in transforms}))}"
        )
    lines += [
        f"from pyiceberg.types import {', '.join(type_names)}",
        "",
        f"IDENTIFIER = {literal(ingestion.identifier)}",
        f"TABLE_NAME = {literal(ingestion.table_name)}",
        f"UNIQUE_KEY = {literal(ingestion.unique_key)}",
        "",
        "# One field per line, so that a schema change is a one-line diff in review.",
        "# fmt: off",
        "SCHEMA = Schema(",
    ]
    for column in columns:
        lines.append(
            f"    NestedField({column.field_id}, {literal(column.name)}, "
            f"{type_expression(column.type)}, required={column.required}, "
            f"doc={literal(column.doc)}),"
        )
    lines += [")", "# fmt: on", "", "PARTITION_SPEC = PartitionSpec("]
    for field, (_, expression) in zip(ingestion.partition_fields, transforms, strict=True):
        lines.append(
            f"    PartitionField(source_id={ids[field.source]}, field_id={field.field_id}, "
            f"transform={expression}, name={literal(field.name)}),"
        )
    lines += [
        ")",
        "",
        "# Column hints for dlt, so that staging uses the table's types instead of inferring them.",
        "DLT_COLUMNS = {",
    ]
    for column in columns:
        if not column.name.startswith(("_dlt_", "_cascade_")):
            lines.append(f"    {literal(column.name)}: {literal(dlt_hint(column.type))},")
    lines.append("}")
    return "\n".join(lines) + "\n"
