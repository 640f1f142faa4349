"""Reads an explicit `iceberg_schema=` (a PyIceberg Schema written in the user's module) into
columns. Its field ids are not used: Iceberg assigns ids itself, so the lock decides them."""

from __future__ import annotations

from cascade.compiler.frontend.facts import CallValue, ModuleFacts, NameRef
from cascade.compiler.ir import (
    PRIMITIVE_CLASSES,
    Column,
    DecimalType,
    IcebergType,
    ListType,
    MapType,
    PrimitiveType,
    StructField,
    StructType,
)
from cascade.compiler.resolve.classes import ProjectIndex
from cascade.compiler.resolve.report import Reporter

# pyiceberg class name -> spec name, e.g. "LongType" -> "long".
PRIMITIVES = {class_name: name for name, class_name in PRIMITIVE_CLASSES.items()}


class InvalidSchema(Exception):
    pass


def read_iceberg_schema(
    index: ProjectIndex, module: ModuleFacts, value: object, report: Reporter, span
) -> tuple[Column, ...] | None:
    if isinstance(value, NameRef):
        value = index.constant(module, value)
    if not (isinstance(value, CallValue) and value.function.endswith("Schema")):
        report.error(
            span,
            "iceberg_schema must be a pyiceberg Schema(...) written in the project",
            "for example SCHEMA = Schema(NestedField(1, 'id', StringType(), "
            "required=True)) at module level",
        )
        return None
    try:
        columns = tuple(_column(field, value) for field in value.args)
        _distinct_names([c.name for c in columns])
        return columns
    except InvalidSchema as problem:
        report.error(span, f"cannot read iceberg_schema: {problem}")
        return None


def _distinct_names(names: list[str]) -> None:
    """pyiceberg refuses a schema (or struct) with two fields of one name when it is built."""
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidSchema(f"two fields are named {twice[0]!r}")


def _nested_field(call: object) -> tuple[str, IcebergType, bool, str]:
    if not (isinstance(call, CallValue) and call.function.endswith("NestedField")):
        raise InvalidSchema(f"expected NestedField(...), got {call!r}")
    args = list(call.args)
    name = call.keyword("name", args[1] if len(args) > 1 else None)
    field_type = call.keyword("field_type", args[2] if len(args) > 2 else None)
    required = call.keyword("required", args[3] if len(args) > 3 else False)
    doc = call.keyword("doc", args[4] if len(args) > 4 else None)
    if not isinstance(name, str) or not isinstance(required, bool):
        raise InvalidSchema("NestedField needs a literal name and required=True/False")
    return name, _type(field_type), required, doc if isinstance(doc, str) else ""


def _column(call: object, schema: CallValue) -> Column:
    name, field_type, required, doc = _nested_field(call)
    span = call.span if isinstance(call, CallValue) else schema.span
    return Column(0, name, field_type, required, doc, span, attribute=name)


def _type(call: object) -> IcebergType:
    if not isinstance(call, CallValue):
        raise InvalidSchema(f"expected a pyiceberg type, got {call!r}")
    kind = call.function.rsplit(".", 1)[-1]
    if kind in PRIMITIVES:
        return PrimitiveType(PRIMITIVES[kind])
    if kind == "DecimalType":
        precision = call.keyword("precision", call.args[0] if call.args else None)
        scale = call.keyword("scale", call.args[1] if len(call.args) > 1 else None)
        if not isinstance(precision, int) or not isinstance(scale, int):
            raise InvalidSchema("DecimalType needs literal precision and scale")
        return DecimalType(precision, scale)
    if kind == "ListType":
        element = call.keyword("element", call.args[1] if len(call.args) > 1 else None)
        required = call.keyword("element_required", False)
        return ListType(_type(element), bool(required))
    if kind == "MapType":
        key = call.keyword("key_type", call.args[1] if len(call.args) > 1 else None)
        value = call.keyword("value_type", call.args[3] if len(call.args) > 3 else None)
        return MapType(_type(key), _type(value), bool(call.keyword("value_required", False)))
    if kind == "StructType":
        fields = []
        for member in call.args:
            name, member_type, required, doc = _nested_field(member)
            fields.append(StructField(name, member_type, required, doc))
        _distinct_names([f.name for f in fields])
        return StructType(tuple(fields))
    raise InvalidSchema(f"unsupported pyiceberg type {kind}")
