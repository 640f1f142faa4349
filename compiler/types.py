"""The type mapping: a Pandera annotation -> an Iceberg type, or a reason it has none."""

from __future__ import annotations

from cascade.compiler.facts import TypeRef
from cascade.compiler.ir import IcebergType, PrimitiveType

STRING = PrimitiveType("string")
LONG = PrimitiveType("long")
DOUBLE = PrimitiveType("double")

# The seed's table (kept as users rely on it: a plain `datetime` is a UTC timestamp, and a
# plain `Decimal`, having no precision or scale to carry over, is a double).
SEED_TYPES: dict[str, IcebergType] = {
    "builtins.str": STRING,
    "builtins.int": LONG,
    "builtins.float": DOUBLE,
    "builtins.bool": PrimitiveType("boolean"),
    "datetime.datetime": PrimitiveType("timestamptz"),
    "datetime.date": PrimitiveType("date"),
    "builtins.bytes": PrimitiveType("binary"),
    "decimal.Decimal": DOUBLE,
}

SUPPORTED = sorted(name.split(".")[-1] for name in SEED_TYPES)


class UnsupportedType(Exception):
    """The annotation has no Iceberg type that holds its values without loss."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint


def iceberg_type(annotation: TypeRef) -> IcebergType:
    found = SEED_TYPES.get(annotation.name)
    if found is not None and not annotation.args:
        return found
    shown = annotation.name.removeprefix("builtins.")
    raise UnsupportedType(
        f"unsupported column type {shown!r}",
        "supported types are " + ", ".join(SUPPORTED),
    )
