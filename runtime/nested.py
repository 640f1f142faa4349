"""Turn the strings dlt stages for some columns into the table's values.

The generated dlt hints mark list, map and struct columns `json`, so that dlt keeps them in the
row instead of splitting them into child tables. dlt then writes each value to parquet as a
JSON string, as the source sent it: keys inside are not normalised, dates, times, decimals and
UUIDs are strings and bytes are base64. UUID columns are staged as text. Arrow cannot cast
those strings to the table's types, so each value is converted here against the Iceberg type,
strictly: a value that does not fit is reported with where in it the problem is, never
coerced into something else.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

import pyarrow as pa
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
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

# How many offending values an error message shows.
SAMPLE_SIZE = 5

INT_RANGES = {IntegerType: 2**31, LongType: 2**63}


@dataclass(frozen=True)
class Converted:
    values: pa.ChunkedArray | None
    problem: str | None
    # Struct keys that the schema does not have, as paths: `origin.extra`.
    dropped_keys: tuple[str, ...]


class Misfit(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")


def needs_conversion(staged: pa.DataType, field_type: IcebergType) -> bool:
    """Whether a staged column holds strings that Arrow's cast cannot turn into the type."""
    nested = isinstance(field_type, StructType | ListType | MapType)
    textual = pa.types.is_string(staged) or pa.types.is_large_string(staged)
    return textual and (nested or isinstance(field_type, UUIDType))


def convert(
    column: pa.ChunkedArray,
    name: str,
    field_type: IcebergType,
    target: pa.DataType,
    normalize_key: Callable[[str], str] | None = None,
) -> Converted:
    """`column`'s strings as `target` values: JSON for nested types, plain text otherwise.

    `normalize_key` is dlt's naming convention: a struct key that matches no field name as sent
    (`siteName`) may match it normalised (`site_name`), the way top-level columns do.
    """
    converter = _Converter(normalize_key)
    nested = not isinstance(field_type, UUIDType)
    values, misfits = [], []
    for raw in column.to_pylist():
        try:
            parsed = json.loads(raw, parse_float=Decimal) if nested and raw is not None else raw
            values.append(converter.value(parsed, field_type, name))
        except (Misfit, ValueError) as error:
            values.append(None)
            misfits.append(f"{_sample(raw)} ({error})")
    if not misfits:
        try:
            return Converted(_array(values, target), None, tuple(sorted(converter.dropped)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            misfits = _unbuildable(column.to_pylist(), values, target)
    problem = f"{name}: {len(misfits)} value(s) do not fit {field_type}: " + "; ".join(
        misfits[:SAMPLE_SIZE]
    )
    return Converted(None, problem, ())


class _Converter:
    def __init__(self, normalize_key: Callable[[str], str] | None) -> None:
        self.normalize_key = normalize_key
        self.dropped: set[str] = set()

    def value(self, raw: object, field_type: IcebergType, path: str) -> object:
        if raw is None:
            return None
        if isinstance(field_type, StructType):
            return self.struct(raw, field_type, path)
        if isinstance(field_type, ListType):
            if not isinstance(raw, list):
                raise Misfit(path, f"expected a list, got {_show(raw)}")
            element = f"{path}.element"
            return [
                self.required(item, field_type.element_type, element, field_type.element_required)
                for item in raw
            ]
        if isinstance(field_type, MapType):
            if not isinstance(raw, dict):
                raise Misfit(path, f"expected an object, got {_show(raw)}")
            return [
                (
                    self.key(key, field_type.key_type, f"{path}.key"),
                    self.required(
                        item, field_type.value_type, f"{path}.value", field_type.value_required
                    ),
                )
                for key, item in raw.items()
            ]
        return _primitive(raw, field_type, path)

    def struct(self, raw: object, struct: StructType, path: str) -> dict[str, object]:
        if not isinstance(raw, dict):
            raise Misfit(path, f"expected an object, got {_show(raw)}")
        fields = {f.name: f for f in struct.fields}
        given: dict[str, object] = {}
        for key, item in raw.items():
            if key in fields:
                given[key] = item
            elif self.normalize_key and (name := self.normalize_key(key)) in fields:
                given.setdefault(name, item)
            else:
                self.dropped.add(f"{path}.{key}")
        return {
            f.name: self.required(given.get(f.name), f.field_type, f"{path}.{f.name}", f.required)
            for f in struct.fields
        }

    def required(self, raw: object, field_type: IcebergType, path: str, required: bool) -> object:
        if raw is None and required:
            raise Misfit(path, "required, but null or missing")
        return self.value(raw, field_type, path)

    def key(self, raw: str, field_type: IcebergType, path: str) -> object:
        # JSON object keys are always strings.
        if isinstance(field_type, IntegerType | LongType):
            try:
                return _primitive(int(raw), field_type, path)
            except ValueError:
                raise Misfit(path, f"expected an integer, got {raw!r}") from None
        return self.value(raw, field_type, path)


def _primitive(raw: object, field_type: IcebergType, path: str) -> object:
    kind = type(field_type)
    if kind is BooleanType and isinstance(raw, bool):
        return raw
    if isinstance(raw, bool):
        raise Misfit(path, f"expected {field_type}, got {raw}")
    if kind in INT_RANGES and isinstance(raw, int | Decimal) and raw == int(raw):
        if -INT_RANGES[kind] <= raw < INT_RANGES[kind]:
            return int(raw)
        raise Misfit(path, f"{raw} is out of range for {field_type}")
    if kind in (FloatType, DoubleType) and isinstance(raw, int | float | Decimal):
        return float(raw)
    if kind is DecimalType and isinstance(raw, int | str | Decimal):
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise Misfit(path, f"expected a decimal, got {raw!r}") from None
    if kind is StringType and isinstance(raw, str):
        return raw
    if isinstance(raw, str) and kind in _FROM_TEXT:
        try:
            return _FROM_TEXT[kind](raw)
        except (ValueError, binascii.Error) as error:
            raise Misfit(path, f"not a {field_type}: {raw!r} ({error})") from None
    raise Misfit(path, f"expected {field_type}, got {_show(raw)}")


def _timestamptz(text: str) -> datetime:
    # Naive times count as UTC, as dlt counts them for top-level timestamp columns.
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        raise ValueError("the column holds times without zone, this one has an offset")
    return value


_FROM_TEXT: dict[type, Callable[[str], object]] = {
    DateType: date.fromisoformat,
    TimeType: time.fromisoformat,
    TimestampType: _timestamp,
    TimestamptzType: _timestamptz,
    UUIDType: lambda text: uuid.UUID(text).bytes,
    BinaryType: lambda text: base64.b64decode(text, validate=True),
    FixedType: lambda text: base64.b64decode(text, validate=True),
}


def _array(values: list, target: pa.DataType) -> pa.ChunkedArray:
    """Build through the storage type: pyarrow builds no extension values (UUIDs) from Python
    objects inside lists and structs, but casts storage to them."""
    storage = _storage(target)
    array = pa.array(values, type=storage)
    return pa.chunked_array([array if storage == target else array.cast(target)])


def _storage(data_type: pa.DataType) -> pa.DataType:
    if isinstance(data_type, pa.BaseExtensionType):
        return data_type.storage_type
    if pa.types.is_map(data_type):
        return pa.map_(
            data_type.key_field.with_type(_storage(data_type.key_type)),
            data_type.item_field.with_type(_storage(data_type.item_type)),
        )
    if pa.types.is_large_list(data_type):
        return pa.large_list(data_type.value_field.with_type(_storage(data_type.value_type)))
    if pa.types.is_list(data_type):
        return pa.list_(data_type.value_field.with_type(_storage(data_type.value_type)))
    if pa.types.is_struct(data_type):
        return pa.struct([f.with_type(_storage(f.type)) for f in data_type])
    return data_type


def _unbuildable(raws: list, values: list, target: pa.DataType) -> list[str]:
    """The values Arrow rejects (a decimal with too many digits, a fixed of the wrong size)."""
    found = []
    for raw, value in zip(raws, values, strict=True):
        try:
            _array([value], target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as error:
            found.append(f"{_sample(raw)} ({error})")
            if len(found) == SAMPLE_SIZE:
                break
    return found


def _sample(raw: object) -> str:
    """A staged value as dlt wrote it (JSON text), shortened."""
    text = raw if isinstance(raw, str) else repr(raw)
    return text if len(text) <= 200 else text[:200] + "..."


def _show(value: object) -> str:
    """A parsed JSON value: JSON numbers were parsed as Decimal, to keep every digit."""
    return _sample(str(value) if isinstance(value, Decimal) else repr(value))
