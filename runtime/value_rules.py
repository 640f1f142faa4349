"""Cascade's value rules: which Python values each Iceberg type takes, and exactly as what.

The rules (README "Value rules"; ARCHITECTURE.md, load step 3): None is null; NaN and the
infinities stay IEEE values; ints and decimals are exact or refused, never rounded or wrapped;
text columns take text only; timestamps have one timezone rule (an offset is converted to UTC,
no offset means UTC, sub-microsecond precision is refused); dates, times, timestamps, decimals
and UUIDs also take their ISO or canonical text.

`convert` applies them to one value (`Misfit` says why a value does not fit); `by_arrow`
builds a whole column with Arrow where Arrow's conversion of the values' Python types is
exactly the rules' (`EXACT_TYPES`, checked against `convert` in tests/runtime/test_records.py), and
`exact_cast` casts an Arrow column where the cast keeps every value. records.py applies them
to what a resource yields.
"""

import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Context, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.schema import PreOrderSchemaVisitor, Schema, pre_order_visit
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FixedType,
    FloatType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    PrimitiveType,
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

_INT_BOUNDS: dict[type[IcebergType], int] = {IntegerType: 2**31, LongType: 2**63}
# Zones whose datetimes Arrow converts right whatever PYARROW_IGNORE_TIMEZONE says.
_UTC = {None, UTC, ZoneInfo("UTC")}
# Room for Iceberg's 38 digits on either side of the point (the default context has 28).
_DECIMALS = Context(prec=80)
# Decimal numbers as JSON writes them, and as text: ASCII digits, an optional exponent.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# ISO 8601 date and time: a time of day must be there, and an offset's minutes below 60
# (datetime.fromisoformat reads "2024-01-02" as midnight and "+05:99" as +06:39).
_TIMESTAMP_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-5][0-9])?)?"
)
# Fractions of a second finer than microseconds, which datetime.fromisoformat truncates.
_SUB_MICROSECOND = re.compile(r"[.,]\d{6}(\d*[1-9])")


class Misfit(ValueError):
    """A value that the column's type cannot hold exactly; the message says why."""


def by_arrow(values: list, field_type: IcebergType, storage: pa.DataType) -> pa.Array | None:
    """The values built by Arrow, where Arrow's conversion of these Python types is exactly the
    rules' (it truncates 1.5 into an int column and takes bytes as text, so the types are
    checked first); None where the values need the Python rules."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if not kinds:
        return pa.nulls(len(values), storage)
    allowed = EXACT_TYPES.get(type(field_type), ())
    try:
        if kinds <= set(allowed):
            if isinstance(field_type, TimestamptzType | TimestampType | TimeType):
                # pyarrow reads an aware datetime's wall time as UTC when
                # PYARROW_IGNORE_TIMEZONE is set, and Pandera sets it on import: only naive
                # values (UTC by the rules) and UTC ones are left to Arrow.
                zones = {v.tzinfo for v in values if v is not None}
                allowed_zones = {None} if isinstance(field_type, TimestampType | TimeType) else _UTC
                if not zones <= allowed_zones:
                    return None
            array = pa.array(values, storage)
            if isinstance(field_type, FloatType) and _narrowed_away(
                pa.array(values, pa.float64()), array
            ):
                return None
            return array
        if kinds == {str} and isinstance(field_type, TimestamptzType | TimestampType | DateType):
            # ISO 8601 text, parsed by Arrow: an offset is required for timestamptz here, so
            # text without one (UTC by the rules) and anything Arrow rejects go through Python.
            text = pa.array(values, pa.string())
            if pc.any(pc.match_substring_regex(text, _SUB_MICROSECOND.pattern)).as_py():
                return None
            if (
                not isinstance(field_type, DateType)
                and not pc.all(
                    pc.match_substring_regex(text, f"^(?:{_TIMESTAMP_TEXT.pattern})$")
                ).as_py()
            ):
                return None
            parsed = pc.cast(text, storage)
            # Arrow parses years that Python's dates cannot hold (0000); the rules refuse them.
            for bound in pc.min_max(parsed).values():
                bound.as_py()
            return parsed
    except (pa.ArrowException, OverflowError, UnicodeError, TypeError, ValueError):
        return None
    return None


def _narrowed_away(source: pa.Array, narrowed: pa.Array) -> bool:
    """Whether narrowing to float32 turned a finite value into an infinity, or a value other
    than zero into zero (rounding to float32's precision is what the column holds)."""
    infinite, zero = (pc.sum(pc.is_inf(narrowed)).as_py() or 0), pc.sum(pc.equal(narrowed, 0))
    return infinite > (pc.sum(pc.is_inf(source)).as_py() or 0) or (zero.as_py() or 0) > (
        pc.sum(pc.equal(source, 0)).as_py() or 0
    )


def exact_cast(array: pa.Array, storage: pa.DataType) -> pa.Array | None:
    """An Arrow column cast to the storage type where the cast keeps every value exactly (same
    family, Arrow's safe cast); None where the Python rules must judge the values."""
    source = array.type
    if source == storage:
        return array
    families = (
        (pa.types.is_integer, pa.types.is_integer),
        (lambda t: pa.types.is_integer(t) or pa.types.is_floating(t), pa.types.is_floating),
        (pa.types.is_decimal, pa.types.is_decimal),
        (pa.types.is_date, pa.types.is_date32),
        (pa.types.is_time, pa.types.is_time),
        (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), pa.types.is_string),
        (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), pa.types.is_binary),
    )
    allowed = any(is_source(source) and is_target(storage) for is_source, is_target in families)
    if pa.types.is_timestamp(source) and pa.types.is_timestamp(storage):
        # A zone may be converted to UTC, and no zone read as UTC, but a zoned time never
        # loses its zone.
        allowed = source.tz is None or storage.tz is not None
    if not allowed:
        return None
    try:
        cast = array.cast(storage, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if pa.types.is_float32(storage) and _narrowed_away(array.cast(pa.float64()), cast):
        return None
    return cast


# The Python rules, one converter per Iceberg type: the value as Arrow builds it, or Misfit.


def _plain(value: object) -> object:
    """numpy's scalars (as pandas hands them out) as Python values; its datetimes as
    microsecond datetimes where that is exact (their `item()` is an int of nanoseconds)."""
    if isinstance(value, np.datetime64):
        micro = value.astype("datetime64[us]")
        if micro != value:
            raise Misfit("finer than microseconds")
        return micro.item()
    if isinstance(value, np.timedelta64):
        raise Misfit("a duration")
    return value.item() if isinstance(value, np.generic) else value


def _boolean(value: object, _: IcebergType) -> bool:
    if isinstance(value, bool):
        return bool(value)
    raise Misfit("not a boolean")


def _integer(value: object, field_type: IcebergType) -> int:
    if isinstance(value, bool):
        raise Misfit("a boolean, not an integer")
    if isinstance(value, int):
        number = int(value)
    elif isinstance(value, float) and math.isfinite(value) and value == int(value):
        number = int(value)
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        number = int(value)
    else:
        raise Misfit("not an integer")
    bound = _INT_BOUNDS[type(field_type)]
    if not -bound <= number < bound:
        raise Misfit(f"out of range for {field_type}, {bound.bit_length()}-bit")
    return number


def _floating(value: object, field_type: IcebergType) -> float:
    if isinstance(value, bool):
        raise Misfit("a boolean, not a number")
    if isinstance(value, float):
        number = value
    elif isinstance(value, Decimal) and value.is_nan():
        number = math.nan
    elif isinstance(value, int | Decimal):
        try:
            number = float(value)
        except OverflowError:
            raise Misfit(f"too large for {field_type}") from None
        if Decimal(number) != value:
            raise Misfit(f"{field_type} cannot hold it exactly")
    else:
        raise Misfit("not a number")
    if isinstance(field_type, FloatType):
        with np.errstate(over="ignore"):
            narrowed = float(np.float32(number))
        if math.isinf(narrowed) and not math.isinf(number):
            raise Misfit("beyond float's range")
        if narrowed == 0 and number != 0:
            raise Misfit("too small for float: it would be 0")
        if not isinstance(value, float) and narrowed != number:
            raise Misfit("float cannot hold it exactly")
    return number


def _decimal(value: object, field_type: IcebergType) -> Decimal:
    assert isinstance(field_type, DecimalType)
    if isinstance(value, bool):
        raise Misfit("a boolean, not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(int(value))
    elif isinstance(value, float):
        number = Decimal(repr(float(value)))  # the shortest text that reads back as the float
    elif isinstance(value, str):
        # Decimal() also reads "1_000", other scripts' digits and "Infinity".
        if not _DECIMAL_TEXT.fullmatch(value):
            raise Misfit("not a decimal number")
        number = Decimal(value)
    else:
        raise Misfit("not a decimal number")
    if not number.is_finite():
        raise Misfit("not a finite number")
    wholekey_from_text = field_type.precision - field_type.scale
    if number and number.adjusted() >= wholekey_from_text:
        raise Misfit(f"more than {wholekey_from_text} digit(s) before the point")
    scaled = number.quantize(Decimal(1).scaleb(-field_type.scale), context=_DECIMALS)
    if scaled != number:
        raise Misfit(f"more than {field_type.scale} decimal place(s); Cascade never rounds")
    return scaled


def _string(value: object, _: IcebergType) -> str:
    if not isinstance(value, str):
        raise Misfit(f"{_a(type(value).__name__)}, not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Misfit("not valid Unicode (a lone surrogate)") from None
    return value


def _binary(value: object, field_type: IcebergType) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise Misfit(f"{_a(type(value).__name__)}, not bytes")
    data = bytes(value)
    if isinstance(field_type, FixedType) and len(data) != len(field_type):
        raise Misfit(f"{len(data)} bytes, not {len(field_type)}")
    return data


def _date(value: object, _: IcebergType) -> date:
    if isinstance(value, datetime):
        raise Misfit("a datetime, not a date")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise Misfit("not an ISO 8601 date") from None
    raise Misfit("not a date")


def _time(value: object, _: IcebergType) -> time:
    if isinstance(value, str):
        if _SUB_MICROSECOND.search(value):
            raise Misfit("finer than microseconds")
        try:
            value = time.fromisoformat(value)
        except ValueError:
            raise Misfit("not an ISO 8601 time") from None
    if not isinstance(value, time):
        raise Misfit("not a time")
    if value.tzinfo is not None:
        raise Misfit("has a UTC offset; the column holds times of day without zone")
    return value


def _datetime(value: object) -> datetime:
    if isinstance(value, str):
        if not _TIMESTAMP_TEXT.fullmatch(value):
            raise Misfit("not an ISO 8601 date and time")
        if _SUB_MICROSECOND.search(value):
            raise Misfit("finer than microseconds")
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise Misfit("not an ISO 8601 date and time") from None
    if not isinstance(value, datetime):
        raise Misfit("not a timestamp")
    if getattr(value, "nanosecond", 0):  # pandas.Timestamp
        raise Misfit("finer than microseconds")
    return value


def _timestamptz(value: object, _: IcebergType) -> datetime:
    moment = _datetime(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise Misfit("its UTC time is outside years 1 to 9999") from None


def _timestamp(value: object, _: IcebergType) -> datetime:
    moment = _datetime(value)
    if moment.tzinfo is not None:
        raise Misfit("has a UTC offset; the column holds times without zone")
    return moment


def _uuid(value: object, _: IcebergType) -> bytes:
    if isinstance(value, uuid.UUID):
        return value.bytes
    if isinstance(value, str):
        try:
            return uuid.UUID(value).bytes
        except ValueError:
            raise Misfit("not a UUID") from None
    raise Misfit("not a UUID")


def key_from_text(key: object) -> object:
    if isinstance(key, str) and re.fullmatch(r"-?[0-9]+", key):
        return int(key)
    return key


CONVERTERS: dict[type, Callable[[Any, IcebergType], object]] = {
    BooleanType: _boolean,
    IntegerType: _integer,
    LongType: _integer,
    FloatType: _floating,
    DoubleType: _floating,
    DecimalType: _decimal,
    StringType: _string,
    BinaryType: _binary,
    FixedType: _binary,
    DateType: _date,
    TimeType: _time,
    TimestampType: _timestamp,
    TimestamptzType: _timestamptz,
    UUIDType: _uuid,
}

# Python types that Arrow converts to each Iceberg type exactly as the converters above do
# (checked in tests/runtime/test_records.py): Arrow refuses ints out of range, ints a float cannot
# hold, decimals that would need rounding, and text that is not Unicode.
EXACT_TYPES: dict[type, tuple[type, ...]] = {
    BooleanType: (bool,),
    IntegerType: (int,),
    LongType: (int,),
    FloatType: (float, int),
    DoubleType: (float, int),
    DecimalType: (Decimal, int),
    StringType: (str,),
    BinaryType: (bytes,),
    FixedType: (bytes,),
    DateType: (date,),
    TimeType: (time,),
    TimestampType: (datetime,),
    TimestamptzType: (datetime,),
}


def _a(noun: str) -> str:
    if noun in ("bytes", "bytearray"):
        return noun
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def empty(field_type: IcebergType) -> object:
    """A value of the type: what a required field holds under a null struct, never read."""
    return pre_order_visit(field_type, _EmptyValue())


class _EmptyValue(PreOrderSchemaVisitor[object]):
    # Pre-order, so that only what the value holds is visited: a struct's required fields.
    def schema(self, schema: Schema, struct_result: Callable[[], object]) -> object:
        return struct_result()

    def struct(self, struct: StructType, field_results: list[Callable[[], object]]) -> object:
        return {
            f.name: value()
            for f, value in zip(struct.fields, field_results, strict=True)
            if f.required
        }

    def field(self, field: NestedField, field_result: Callable[[], object]) -> object:
        return field_result()

    def list(self, list_type: ListType, element_result: Callable[[], object]) -> object:
        return []

    def map(
        self,
        map_type: MapType,
        key_result: Callable[[], object],
        value_result: Callable[[], object],
    ) -> object:
        return {}

    def primitive(self, primitive: PrimitiveType) -> object:
        if isinstance(primitive, FixedType):
            return bytes(len(primitive))
        return _EMPTY[type(primitive)]


_EMPTY: dict[type, object] = {
    BooleanType: False,
    IntegerType: 0,
    LongType: 0,
    FloatType: 0.0,
    DoubleType: 0.0,
    DecimalType: Decimal(0),
    StringType: "",
    BinaryType: b"",
    DateType: date(1970, 1, 1),
    TimeType: time(0),
    TimestampType: datetime(1970, 1, 1),
    TimestamptzType: datetime(1970, 1, 1, tzinfo=UTC),
    UUIDType: uuid.UUID(int=0),
}


def convert(value: object, field_type: IcebergType) -> object:
    """`value` as Arrow builds the primitive `field_type` from it; raises `Misfit`."""
    return CONVERTERS[type(field_type)](_plain(value), field_type)


def finer_than_microseconds(array: pa.Array) -> list[str]:
    """The values (as text) of a nanosecond time or timestamp column that a microsecond column
    cannot hold exactly; [] for any other column."""
    data_type = array.type
    if not (pa.types.is_time64(data_type) or pa.types.is_timestamp(data_type)):
        return []
    if data_type.unit != "ns":
        return []
    ticks = array.view(pa.int64()) if pa.types.is_time64(data_type) else array.cast(pa.int64())
    finer = pc.not_equal(pc.multiply(pc.divide(ticks, 1000), 1000), ticks)
    return pc.cast(array.filter(pc.fill_null(finer, False)), pa.string()).to_pylist()
