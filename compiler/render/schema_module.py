"""Renders `<out>/schemas/<group>/<table>.py`: the table's contract (runtime/contract.py): its
Iceberg schema with one field per line, partition spec, unique key and field-id bookkeeping."""

from __future__ import annotations

from collections.abc import Callable

from cascade.compiler.ir import (
    PRIMITIVE_CLASSES,
    DecimalType,
    IcebergType,
    Ingestion,
    ListType,
    MapType,
    Path,
    PrimitiveType,
    StructType,
    TypeVisitor,
    visit,
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
    return visit(value, _TypeClasses())


class _TypeClasses(TypeVisitor[set[str]]):
    def struct(
        self, value: StructType, path: Path, fields: list[Callable[[], set[str]]]
    ) -> set[str]:
        return {"StructType", "NestedField"}.union(*(f() for f in fields))

    def list(self, value: ListType, path: Path, element: Callable[[], set[str]]) -> set[str]:
        return {"ListType"} | element()

    def map(
        self, value: MapType, path: Path, key: Callable[[], set[str]], item: Callable[[], set[str]]
    ) -> set[str]:
        return {"MapType"} | key() | item()

    def primitive(self, value: PrimitiveType | DecimalType, path: Path) -> set[str]:
        if isinstance(value, DecimalType):
            return {"DecimalType"}
        return {PRIMITIVE_CLASSES[value.name]}


def type_expression(value: IcebergType, indent: str = "") -> str:
    """A type as pyiceberg code. A struct's fields go one per line, indented under the line
    at `indent`, so that a nested change is a one-line diff too."""
    return visit(value, _TypeExpression(indent))


class _TypeExpression(TypeVisitor[str]):
    def __init__(self, indent: str) -> None:
        self.indent = indent  # of the line the struct being written opens on

    def struct(self, value: StructType, path: Path, fields: list[Callable[[], str]]) -> str:
        if not value.fields:
            return "StructType()"
        outer = self.indent
        self.indent = inner = outer + "    "
        lines = "".join(
            f"\n{inner}{_nested_field_code(f.field_id, f.name, code(), f.required, f.doc)},"
            for f, code in zip(value.fields, fields, strict=True)
        )
        self.indent = outer
        return f"StructType({lines}\n{outer})"

    def list(self, value: ListType, path: Path, element: Callable[[], str]) -> str:
        return (
            f"ListType(element_id={value.element_id}, element={element()}, "
            f"element_required={value.element_required})"
        )

    def map(
        self, value: MapType, path: Path, key: Callable[[], str], item: Callable[[], str]
    ) -> str:
        return (
            f"MapType(key_id={value.key_id}, key_type={key()}, "
            f"value_id={value.value_id}, value_type={item()}, "
            f"value_required={value.value_required})"
        )

    def primitive(self, value: PrimitiveType | DecimalType, path: Path) -> str:
        if isinstance(value, DecimalType):
            return f"DecimalType({value.precision}, {value.scale})"
        return f"{PRIMITIVE_CLASSES[value.name]}()"


def nested_field(
    field_id: int, name: str, value: IcebergType, required: bool, doc: str, indent: str = ""
) -> str:
    return _nested_field_code(field_id, name, type_expression(value, indent), required, doc)


def _nested_field_code(field_id: int, name: str, type_code: str, required: bool, doc: str) -> str:
    text = f"NestedField({field_id}, {literal(name)}, {type_code}, required={required}"
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
        "from pyiceberg.partitioning import "
        + ("PartitionField, PartitionSpec" if transforms else "PartitionSpec"),
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
    renamed = [
        f"        {literal(c.renamed_from)}: {literal(c.name)}," for c in columns if c.renamed_from
    ]
    ignored = [f"        {literal(key)}," for key in ingestion.ignored_keys]
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
        *(["    renamed_columns={", *renamed, "    },"] if renamed else []),
        *(["    ignored_keys=(", *ignored, "    ),"] if ignored else []),
        ")",
    ]
    return "\n".join(lines) + "\n"
