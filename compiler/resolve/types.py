"""The type mapping: a Pandera annotation -> an Iceberg type, or the reason it has none.

Annotations arrive as TypeRefs with qualified names (`pandera.pandas.Int32`, `numpy.int8`,
`polars.Datetime`, ...). Pandera accepts the same dtype under several import paths, so names
are first reduced to a canonical `<family>.<Name>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cascade.compiler.frontend.facts import NotLiteral, TypeRef
from cascade.compiler.ir import (
    DecimalType,
    IcebergType,
    ListType,
    MapType,
    PrimitiveType,
    StructField,
    StructType,
)

STRING = PrimitiveType("string")
INT = PrimitiveType("int")
LONG = PrimitiveType("long")
FLOAT = PrimitiveType("float")
DOUBLE = PrimitiveType("double")
BOOLEAN = PrimitiveType("boolean")
DATE = PrimitiveType("date")
TIME = PrimitiveType("time")
TIMESTAMP = PrimitiveType("timestamp")
TIMESTAMPTZ = PrimitiveType("timestamptz")
BINARY = PrimitiveType("binary")
ICEBERG_MAX_DECIMAL_PRECISION = 38
UTC_NAMES = frozenset({"UTC", "utc", "Etc/UTC", "Z", "+00:00", "GMT"})

# A plain `datetime` is a UTC timestamp and a plain `Decimal` (no precision or scale to carry
# over) a double: phlo's decorator mapped them so, and existing tables rely on it.
FIXED: dict[str, IcebergType] = {
    "builtins.str": STRING,
    "builtins.int": LONG,
    "builtins.float": DOUBLE,
    "builtins.bool": BOOLEAN,
    "builtins.bytes": BINARY,
    "datetime.datetime": TIMESTAMPTZ,
    "datetime.date": DATE,
    "decimal.Decimal": DOUBLE,
    **{
        f"pandera.{n}": INT
        for n in (
            "Int8",
            "Int16",
            "Int32",
            "UInt8",
            "UInt16",
            "INT8",
            "INT16",
            "INT32",
            "UINT8",
            "UINT16",
        )
    },  # fmt: skip
    **{f"pandera.{n}": LONG for n in ("Int", "Int64", "INT64", "UInt32", "UINT32")},
    **{f"pandera.{n}": FLOAT for n in ("Float32", "FLOAT32")},
    **{f"pandera.{n}": DOUBLE for n in ("Float", "Float64", "FLOAT64")},
    **{f"pandera.{n}": STRING for n in ("String", "STRING", "Str")},
    **{f"pandera.{n}": BOOLEAN for n in ("Bool", "BOOL")},
    "pandera.Date": DATE,
    **{f"numpy.{n}": INT for n in ("int8", "int16", "int32", "uint8", "uint16")},
    **{f"numpy.{n}": LONG for n in ("int64", "uint32")},
    "numpy.float32": FLOAT,
    "numpy.float64": DOUBLE,
    "numpy.bool_": BOOLEAN,
    "numpy.str_": STRING,
    "numpy.bytes_": BINARY,
    **{
        f"pandas.{n}": INT
        for n in ("Int8Dtype", "Int16Dtype", "Int32Dtype", "UInt8Dtype", "UInt16Dtype")
    },  # fmt: skip
    **{f"pandas.{n}": LONG for n in ("Int64Dtype", "UInt32Dtype")},
    "pandas.Float32Dtype": FLOAT,
    "pandas.Float64Dtype": DOUBLE,
    "pandas.StringDtype": STRING,
    "pandas.BooleanDtype": BOOLEAN,
    "pandas.Timestamp": TIMESTAMP,
    **{f"polars.{n}": INT for n in ("Int8", "Int16", "Int32", "UInt8", "UInt16")},
    **{f"polars.{n}": LONG for n in ("Int64", "UInt32")},
    "polars.Float32": FLOAT,
    "polars.Float64": DOUBLE,
    "polars.Utf8": STRING,
    "polars.String": STRING,
    "polars.Boolean": BOOLEAN,
    "polars.Date": DATE,
    "polars.Time": TIME,
    "polars.Binary": BINARY,
}

# Types whose values Iceberg cannot hold without loss, and why.
LOSSY = {
    "UInt64": "unsigned 64-bit values above 2**63-1 do not fit Iceberg's long",
    "uint64": "unsigned 64-bit values above 2**63-1 do not fit Iceberg's long",
    "UInt64Dtype": "unsigned 64-bit values above 2**63-1 do not fit Iceberg's long",
    "UINT64": "unsigned 64-bit values above 2**63-1 do not fit Iceberg's long",
    "UInt": "unsigned 64-bit values above 2**63-1 do not fit Iceberg's long",
    "timedelta": "Iceberg has no duration type",
    "Timedelta": "Iceberg has no duration type",
    "Duration": "Iceberg has no duration type",
    "timedelta64": "Iceberg has no duration type",
    "Float16": "Iceberg has no 16-bit float; declare Float32",
    "float16": "Iceberg has no 16-bit float; declare float32",
}
DATETIME_NAMES = {
    "pandera.DateTime",
    "pandera.Timestamp",
    "pandera.DATETIME",
    "numpy.datetime64",
    "polars.Datetime",
}
TZ_DATETIME_NAMES = {"pandas.DatetimeTZDtype"}
DECIMAL_NAMES = {"pandera.Decimal", "polars.Decimal"}
LIST_NAMES = {"builtins.list", "typing.List", "typing.Sequence", "collections.abc.Sequence"}
DICT_NAMES = {"builtins.dict", "typing.Dict", "typing.Mapping", "collections.abc.Mapping"}
SERIES_NAMES = {"pandera.Series"}
INDEX_NAMES = {"pandera.Index"}
SUPPORTED_HINT = (
    "use str, int, float, bool, bytes, datetime, date, Decimal, a sized int or "
    "float dtype (pa.Int32, np.float32, pl.Int16, ...), Annotated[pa.Decimal, precision, scale, "
    'None], Annotated[pd.DatetimeTZDtype, "ns", "UTC"], list[...], dict[str, ...] or a TypedDict'
)

# Resolves a TypedDict annotation to its fields (name, annotation, required), or None.
StructLookup = Callable[[TypeRef], list[tuple[str, TypeRef | NotLiteral, bool]] | None]


class UnsupportedType(Exception):
    """The annotation has no Iceberg type that holds its values without loss."""

    def __init__(self, message: str, hint: str = SUPPORTED_HINT):
        super().__init__(message)
        self.message = message
        self.hint = hint


def canonical(name: str) -> str:
    """`pandera.api.pandas.model.Int32` -> `pandera.Int32`; `numpy.int8` stays."""
    family, _, rest = name.partition(".")
    if family in ("pandera", "numpy", "pandas", "polars") and rest:
        return f"{family}.{rest.rsplit('.', 1)[-1]}"
    if name in ("typing.Optional", "typing_extensions.Optional"):
        return "typing.Optional"
    return name


class TypeMapper:
    def __init__(self, lookup_struct: StructLookup):
        self.lookup_struct = lookup_struct
        self.expanding: set[str] = set()  # the structs being mapped (one met again: recursive)

    def map(self, ref: TypeRef, dtype_kwargs: Mapping[str, object] | None = None) -> IcebergType:
        name = canonical(ref.name)
        kwargs = dict(dtype_kwargs or {})
        if name in SERIES_NAMES and len(ref.args) == 1 and isinstance(ref.args[0], TypeRef):
            return self.map(ref.args[0], kwargs)
        if name in INDEX_NAMES:
            raise UnsupportedType("an Index field is not a column", "declare columns only")
        if name == "typing.Union":
            raise UnsupportedType(
                "a union of several types is not a column type",
                "declare one type; `X | None` marks a column optional",
            )
        short = name.rsplit(".", 1)[-1]
        if short in LOSSY and name.split(".")[0] in (
            "pandera",
            "numpy",
            "pandas",
            "polars",
            "datetime",
        ):
            raise UnsupportedType(f"column type {short!r} would lose data: {LOSSY[short]}")
        if name in FIXED and not ref.args and not kwargs:
            return FIXED[name]
        if name in DATETIME_NAMES or name in TZ_DATETIME_NAMES:
            return self.timestamp(name, ref, kwargs)
        if name in DECIMAL_NAMES:
            return self.decimal(ref, kwargs)
        if name in LIST_NAMES and len(ref.args) == 1:
            return ListType(self.element(ref.args[0]))
        if name in DICT_NAMES and len(ref.args) == 2:
            key, value = (self.element(arg) for arg in ref.args)
            if not isinstance(key, PrimitiveType):
                raise UnsupportedType("map keys must be a primitive type")
            return MapType(key, value)
        fields = self.lookup_struct(ref) if not ref.args else None
        if fields is not None:
            return self.struct(ref, fields)
        shown = ref.name.removeprefix("builtins.")
        if ref.args and name in FIXED:
            raise UnsupportedType(f"column type {shown!r} takes no arguments")
        raise UnsupportedType(f"unsupported column type {shown!r}")

    def element(self, arg: object) -> IcebergType:
        if not isinstance(arg, TypeRef):
            raise UnsupportedType(f"cannot read the element type {arg!r}")
        return self.map(arg)

    def struct(self, ref: TypeRef, fields: list) -> StructType:
        if ref.name in self.expanding:
            raise UnsupportedType(
                f"{ref.name} contains itself, and an Iceberg struct cannot be recursive",
                f"nest TypedDicts that do not lead back to {ref.name}",
            )
        members = []
        self.expanding.add(ref.name)
        try:
            for name, annotation, required in fields:
                if isinstance(annotation, NotLiteral):
                    raise UnsupportedType(f"cannot read the type of {ref.name}.{name}")
                member_type = self.map(annotation)
                optional = annotation.optional
                members.append(StructField(name, member_type, required and not optional))
        finally:
            self.expanding.discard(ref.name)
        if not members:
            raise UnsupportedType(f"{ref.name} has no fields")
        return StructType(tuple(members))

    def timestamp(self, name: str, ref: TypeRef, kwargs: dict) -> IcebergType:
        # Annotated[pd.DatetimeTZDtype, unit, tz] / Annotated[pl.Datetime, unit, tz]
        positional = [a for a in ref.args if not isinstance(a, TypeRef)]
        parameterless = name in (
            "pandera.DateTime",
            "pandera.Timestamp",
        ) and not ref.name.startswith("pandera.engines")
        if parameterless and (positional or kwargs):
            # pandera's generic DateTime takes no unit or zone: Pandera fails on the model.
            raise UnsupportedType(
                f"{ref.name.rsplit('.', 1)[-1]} takes no parameters in Pandera",
                'for a UTC timestamp write Annotated[pd.DatetimeTZDtype, "ns", "UTC"]',
            )
        tz = kwargs.get("tz", kwargs.get("time_zone"))
        if tz is None and len(positional) >= 2:
            tz = positional[1]
        if name in TZ_DATETIME_NAMES and tz is None:
            raise UnsupportedType(
                "DatetimeTZDtype needs its unit and time zone",
                'write Annotated[pd.DatetimeTZDtype, "ns", "UTC"]',
            )
        if tz is None:
            return TIMESTAMP
        if tz in UTC_NAMES:
            return TIMESTAMPTZ
        raise UnsupportedType(
            f"time zone {tz!r} would be lost: Iceberg stores timestamps with a zone as UTC "
            "instants",
            "declare the column in UTC and convert in the source",
        )

    def decimal(self, ref: TypeRef, kwargs: dict) -> DecimalType:
        positional = [a for a in ref.args if not isinstance(a, TypeRef)]
        if canonical(ref.name) == "pandera.Decimal" and positional and len(positional) != 3:
            # Pandera builds the dtype from all of its positional parameters or fails.
            raise UnsupportedType(
                "Annotated[pa.Decimal, ...] needs precision, scale and rounding",
                "write Annotated[pa.Decimal, 10, 2, None] or "
                'Field(dtype_kwargs={"precision": 10, "scale": 2})',
            )
        precision = kwargs.get("precision", positional[0] if positional else 28)
        scale = kwargs.get("scale", positional[1] if len(positional) > 1 else 0)
        if not (isinstance(precision, int) and isinstance(scale, int)) or isinstance(
            precision, bool
        ):
            raise UnsupportedType(
                f"decimal precision and scale must be integers, got {precision!r}, {scale!r}"
            )
        if not 0 < precision <= ICEBERG_MAX_DECIMAL_PRECISION or not 0 <= scale <= precision:
            raise UnsupportedType(
                f"decimal({precision}, {scale}) does not fit Iceberg's decimal",
                f"precision must be 1-{ICEBERG_MAX_DECIMAL_PRECISION} and 0 <= scale <= precision",
            )
        return DecimalType(precision, scale)
