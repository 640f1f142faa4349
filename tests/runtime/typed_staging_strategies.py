"""Hypothesis strategies for tests/runtime/test_typed_staging_differential.py.

They draw a random table model (a pyiceberg Schema as a generated schema module declares it),
records for it as a dlt resource would yield them, and what the value rules (README "Value
rules", ARCHITECTURE.md load step 3) say each record becomes. The expectations are worked out here,
from the rules, never by the runtime's conversion code.

A drawn value is either `Good`: the raw value a source yields and the typed value the table
must then hold, or `Bad`: a raw value the rules refuse, the path of the column the refusal must
name (pyiceberg's names: `tags.element`, `counts.value`, `origin.site_id`) and why.

Only cases the rules decide are drawn. Where they leave room, nothing is drawn: a UTC-aware
datetime (or "Z") for a `timestamp` column, `"1.000"` or `5.0` for a decimal of a smaller
scale, fraction digits beyond six that are all zeros, a finite double a hair above float32's
largest value or below its smallest normal one, a Decimal for a float column, upper-case uuid
text, non-text map keys.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Context, Decimal, Inexact
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from pyiceberg.schema import Schema, assign_fresh_schema_ids
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
    StringType,
    StructType,
    TimestampType,
    TimestamptzType,
    TimeType,
    UUIDType,
)

# Column and struct field names: each is its own snake_case form, and `spellings` gives a
# second source key that dlt's snake_case convention maps onto it (`userName` -> `user_name`,
# `Alpha` -> `alpha`). None is a word that refusal messages use on their own ("value", "key",
# "element", "row"), so finding a name in a message means the message names that column.
NAMES = (
    "alpha",
    "label",
    "amount",
    "reading",
    "user_name",
    "my_score",
    "site_id",
    "seen_at",
    "raw_bytes",
    "tag_list",
)
# Parents of flattened columns: `{"owner": {"login": "x"}}` fills the column `owner__login`.
FLATTENED_PARENTS = ("owner", "origin")
# Keys no model has (also after normalisation): dropped, not refused.
UNKNOWN_KEYS = ("extra", "unknownField", "zz_top", "Surplus")
# The load columns every generated schema ends with.
LOAD_COLUMNS = ("_dlt_load_id", "_dlt_id", "_cascade_ingested_at")


def spellings(name: str) -> tuple[str, str]:
    """The column's own name and its camelCase (or Capitalised) spelling."""
    first, *rest = name.split("_")
    other = first + "".join(part.capitalize() for part in rest) if rest else name.capitalize()
    return name, other


class _Absent:
    """The key is left out of the source's object."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


@dataclass(frozen=True)
class Good:
    raw: object  # what the source yields; ABSENT: no key at all
    typed: object  # what pyiceberg and DuckDB must read back (None: null)
    dropped: int = 0  # unknown keys inside it, which the load drops and counts


@dataclass(frozen=True)
class Bad:
    raw: object
    path: tuple[str, ...]  # below the column; () is the column itself
    why: str
    # Words the refusal must also contain: both source keys of a name collision.
    keys: tuple[str, ...] = ()

    def under(self, *parent: str) -> Bad:
        return Bad(self.raw, (*parent, *self.path), self.why, self.keys)


# ---------------------------------------------------------------------------------------------
# Models


# Field ids are placeholders (0) until `model_of` numbers them as pyiceberg's create_table does.
def _field(name: str, field_type: IcebergType, required: bool) -> NestedField:
    return NestedField(0, name, field_type, required=required)


PRIMITIVE_TYPES: dict[str, IcebergType | None] = {
    "boolean": BooleanType(),
    "int": IntegerType(),
    "long": LongType(),
    "float": FloatType(),
    "double": DoubleType(),
    "decimal": None,  # drawn: decimal_types()
    "string": StringType(),
    "binary": BinaryType(),
    "fixed": None,  # drawn: fixed[1..4]
    "date": DateType(),
    "time": TimeType(),
    "timestamp": TimestampType(),
    "timestamptz": TimestamptzType(),
    "uuid": UUIDType(),
}
# Each nested kind twice: about a third of the types drawn at each level nest further.
NESTED_KINDS = ("list", "struct", "map") * 2


@st.composite
def decimal_types(draw) -> DecimalType:
    precision = draw(st.one_of(st.sampled_from([1, 9, 18, 19, 28, 29, 38]), st.integers(1, 38)))
    scale = draw(st.one_of(st.sampled_from([0, precision]), st.integers(0, precision)))
    return DecimalType(precision, scale)


def iceberg_types(depth: int) -> st.SearchStrategy[IcebergType]:
    """Every primitive type, and up to `depth` levels of list, struct and map<string, ...>."""
    kinds = tuple(PRIMITIVE_TYPES) + (NESTED_KINDS if depth else ())
    return st.sampled_from(kinds).flatmap(lambda kind: _types_of_kind(kind, depth))


def _types_of_kind(kind: str, depth: int) -> st.SearchStrategy[IcebergType]:
    if kind == "decimal":
        return decimal_types()
    if kind == "fixed":
        return st.integers(1, 4).map(FixedType)
    if kind in PRIMITIVE_TYPES:
        return st.just(PRIMITIVE_TYPES[kind])
    inner = iceberg_types(depth - 1)
    if kind == "list":
        return st.builds(
            lambda element, required: ListType(0, element, required),
            inner,
            st.booleans(),
        )
    if kind == "map":
        return st.builds(
            lambda value, required: MapType(0, StringType(), 0, value, required),
            inner,
            st.booleans(),
        )
    return st.lists(
        st.tuples(st.sampled_from(NAMES), inner, st.booleans()),
        min_size=1,
        max_size=3,
        unique_by=lambda named: named[0],
    ).map(lambda fields: StructType(*(_field(*named) for named in fields)))


@dataclass(frozen=True)
class Model:
    """A table as a generated schema module declares it."""

    schema: Schema
    # Flattened groups: parent key -> the child names of its `parent__child` columns.
    flattened: dict[str, tuple[str, ...]]

    @property
    def data_fields(self) -> list[NestedField]:
        return [f for f in self.schema.fields if f.name not in LOAD_COLUMNS]

    def __repr__(self) -> str:
        return f"Model(flattened={self.flattened!r}, schema=\n{self.schema}\n)"


def model_of(
    columns: list[tuple[str, IcebergType, bool]],
    *,
    key_type: IcebergType,
    flattened: dict[str, tuple[str, ...]] | None = None,
    key_position: int = 0,
) -> Model:
    """The model of `columns` ((name, type, required); `parent__child` ones flattened), with
    the key column `id` at `key_position` and the load columns last."""
    fields = [_field(*column) for column in columns]
    fields.insert(key_position, _field("id", key_type, True))
    fields += [
        _field("_dlt_load_id", StringType(), True),
        _field("_dlt_id", StringType(), True),
        _field("_cascade_ingested_at", TimestamptzType(), True),
    ]
    # The ids pyiceberg's create_table gives: consecutive from 1, each struct's fields before
    # anything nested in them, as the compiler generates them.
    return Model(assign_fresh_schema_ids(Schema(*fields)), flattened or {})


@st.composite
def models(draw) -> Model:
    columns = draw(
        st.lists(
            st.tuples(st.sampled_from(NAMES), iceberg_types(2), st.booleans()),
            min_size=1,
            max_size=6,
            unique_by=lambda named: named[0],
        )
    )
    flattened = {}
    if draw(st.booleans()):
        parent = draw(st.sampled_from(FLATTENED_PARENTS))
        children = draw(
            st.lists(
                st.tuples(st.sampled_from(NAMES), iceberg_types(0), st.booleans()),
                min_size=1,
                max_size=2,
                unique_by=lambda named: named[0],
            )
        )
        flattened[parent] = tuple(name for name, _, _ in children)
        columns += [(f"{parent}__{name}", t, required) for name, t, required in children]
    return model_of(
        columns,
        key_type=draw(st.sampled_from([LongType(), StringType()])),
        flattened=flattened,
        key_position=draw(st.integers(0, len(columns))),
    )


# ---------------------------------------------------------------------------------------------
# Values, type by type. `good(t)` draws values the rules accept, `bad(t)` values they refuse.


def good(field_type: IcebergType, required: bool) -> st.SearchStrategy[Good]:
    values = _GOOD[type(field_type)](field_type)
    return values if required else st.one_of(st.just(Good(None, None)), values)


def bad(field_type: IcebergType, required: bool) -> st.SearchStrategy[Bad]:
    values = _BAD[type(field_type)](field_type)
    if not required:
        return values
    return st.one_of(st.just(Bad(None, (), "required, but null")), values)


def _goods(*pairs: tuple[object, object]) -> st.SearchStrategy[Good]:
    return st.sampled_from([Good(raw, typed) for raw, typed in pairs])


def _bads(why: str, *raws: object) -> st.SearchStrategy[Bad]:
    return st.sampled_from([Bad(raw, (), why) for raw in raws])


# boolean


def _good_booleans(_: BooleanType) -> st.SearchStrategy[Good]:
    return st.booleans().flatmap(lambda b: _goods((b, b), (np.bool_(b), b)))


def _bad_booleans(_: BooleanType) -> st.SearchStrategy[Bad]:
    return _bads("not a bool", 1, 0, "true", "False", 1.0)


# int, long

_INT_BITS = {IntegerType: 32, LongType: 64}


def _good_ints(t: IntegerType | LongType) -> st.SearchStrategy[Good]:
    bits = _INT_BITS[type(t)]
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    numbers = st.one_of(
        st.sampled_from([0, -1, 1, low, high, low + 1, high - 1]), st.integers(low, high)
    )

    def spelled(n: int) -> st.SearchStrategy[Good]:
        pairs = [(n, n), (np.int64(n), n), (Decimal(n), n)]
        if bits == 32:
            pairs.append((np.int32(n), n))
        if abs(n) <= 2**53:
            pairs.append((float(n), n))  # an integral float, as JSON parsers give 5.0
        return _goods(*pairs)

    return numbers.flatmap(spelled)


def _bad_ints(t: IntegerType | LongType) -> st.SearchStrategy[Bad]:
    bits = _INT_BITS[type(t)]
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return st.one_of(
        _bads(f"out of range for {bits} bits", high + 1, low - 1, 2**64, Decimal(high + 1)),
        _bads("not integral", 1.5, -0.5, Decimal("2.5"), math.nan, math.inf, -math.inf),
        _bads("not an int", True, False, "5", "", [1]),
    )


# float, double


def float32(x: float) -> float:
    """x rounded to the nearest float32 (struct refuses values beyond float32's range)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


_FLOAT_EDGES = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1.5, -2.25]


def _good_doubles(_: DoubleType) -> st.SearchStrategy[Good]:
    floats = st.one_of(st.sampled_from(_FLOAT_EDGES), st.floats(), st.floats(width=32))
    exact_ints = st.one_of(st.sampled_from([2**53, -(2**53), 0]), st.integers(-(2**53), 2**53))
    return st.one_of(
        floats.map(lambda x: Good(x, x)),
        floats.map(lambda x: Good(np.float64(x), x)),
        exact_ints.map(lambda n: Good(n, float(n))),
    )


def _bad_doubles(_: DoubleType) -> st.SearchStrategy[Bad]:
    return st.one_of(
        _bads("an int a double does not hold exactly", 2**53 + 1, -(2**53) - 1, 2**64 + 1),
        _bads("not a number", True, "1.5", "nan"),
    )


def _good_floats(_: FloatType) -> st.SearchStrategy[Good]:
    exact = st.one_of(st.sampled_from(_FLOAT_EDGES), st.floats(width=32))
    # Doubles that round to a normal float32 (subnormal results are left out).
    rounded = st.floats(min_value=1.2e-38, max_value=3.0e38).flatmap(
        lambda x: st.sampled_from([x, -x])
    )
    exact_ints = st.one_of(st.sampled_from([2**24, -(2**24)]), st.integers(-(2**24), 2**24))
    return st.one_of(
        exact.map(lambda x: Good(x, x)),
        rounded.map(lambda x: Good(x, float32(x))),
        exact_ints.map(lambda n: Good(n, float(n))),
    )


def _bad_floats(_: FloatType) -> st.SearchStrategy[Bad]:
    return st.one_of(
        _bads("beyond float32's range", 1e39, -1e39, 1e300, -1.7976931348623157e308),
        _bads("an int a float does not hold exactly", 2**24 + 1, -(2**24) - 1),
        _bads("not a number", True, "1.5"),
    )


# decimal(p, s)

_WIDE = Context(prec=200, traps=[Inexact])


def _decimal(unscaled: int, scale: int) -> Decimal:
    return Decimal(f"{unscaled}E-{scale}")  # exact: no context precision applies


def _good_decimals(t: DecimalType) -> st.SearchStrategy[Good]:
    p, s = t.precision, t.scale
    largest = 10**p - 1  # max precision: p digits, p - s of them before the point
    unscaled = st.one_of(
        st.sampled_from([0, 1, -1, largest, -largest]), st.integers(-largest, largest)
    )

    def spelled(n: int) -> st.SearchStrategy[Good]:
        value = _decimal(n, s)  # exponent -s: "1.50" for scale 2
        shortest = value.normalize(_WIDE) if value else Decimal(0)
        pairs = [(value, value), (format(value, "f"), value), (format(shortest, "f"), value)]
        if value == value.to_integral_value():
            pairs.append((int(value), value))
        as_float = float(shortest)
        # A float counts by its shortest repr: only ones whose repr is this decimal's text.
        if repr(as_float) == format(shortest, "f") and "e" not in repr(as_float):
            pairs.append((as_float, value))
        return _goods(*pairs)

    return unscaled.flatmap(spelled)


def _bad_decimals(t: DecimalType) -> st.SearchStrategy[Bad]:
    p, s = t.precision, t.scale
    too_many_digits = _decimal(10**p, s)  # one integer digit more than p - s
    # s + 1 places, the last one not 0: the smallest such, and max precision plus a digit.
    finer, longest_finer = _decimal(1, s + 1), _decimal((10**p - 1) * 10 + 1, s + 1)
    return st.one_of(
        _bads(
            "more digits than decimal(p, s) holds",
            too_many_digits,
            too_many_digits.copy_negate(),  # exact: unary minus would round
            format(too_many_digits, "f"),
        ),
        _bads(
            "more decimal places than the scale (never rounded)",
            finer,
            longest_finer.copy_negate(),
            format(longest_finer, "f"),
        ),
        _bads("not a finite number", Decimal("NaN"), math.nan, math.inf, Decimal("-Infinity")),
        _bads("not a decimal", "abc", ""),
    )


# string, binary, fixed

_STRING_EDGES = ["", " ", "😀", "𝄞x", "\x00", "a\u0301", "ß", "\n\t", "'True'", "None", "[]"]


def _good_strings(_: StringType) -> st.SearchStrategy[Good]:
    # st.text() never draws lone surrogates: its default alphabet leaves category Cs out.
    return st.one_of(st.sampled_from(_STRING_EDGES), st.text(max_size=8)).map(
        lambda text: Good(text, text)
    )


def _bad_strings(_: StringType) -> st.SearchStrategy[Bad]:
    return st.one_of(
        _bads("a lone UTF-16 surrogate", "\ud800", "a\udfffb", "😀\udc00"),
        _bads("not text (never a Python repr)", True, 5, 1.5, {"a": 1}, ["a"], b"bytes"),
    )


def _good_binaries(_: BinaryType) -> st.SearchStrategy[Good]:
    return st.binary(max_size=8).flatmap(lambda data: _goods((data, data), (bytearray(data), data)))


def _bad_binaries(_: BinaryType) -> st.SearchStrategy[Bad]:
    return _bads("text is not bytes", "AP8=", "", 5)


def _good_fixed(t: FixedType) -> st.SearchStrategy[Good]:
    return st.binary(min_size=len(t), max_size=len(t)).map(lambda data: Good(data, data))


def _bad_fixed(t: FixedType) -> st.SearchStrategy[Bad]:
    return st.one_of(
        _bads(f"not {len(t)} bytes", b"\x01" * (len(t) + 1), b"\x01" * (len(t) - 1)),
        _bads("text is not bytes", "x" * len(t)),
    )


# date, time


def _good_dates(_: DateType) -> st.SearchStrategy[Good]:
    edges = st.sampled_from(
        [date(1970, 1, 1), date(1969, 12, 31), date(1, 1, 1), date(9999, 12, 31)]
    )
    return st.one_of(edges, st.dates()).flatmap(
        lambda day: _goods((day, day), (day.isoformat(), day))
    )


def _bad_dates(_: DateType) -> st.SearchStrategy[Bad]:
    return st.one_of(
        _bads("a datetime is not a date", datetime(2024, 1, 31, 12), datetime(2024, 1, 31)),
        _bads("not a date", "2024-02-30", "yesterday", 20240131, True),
    )


def _good_times(_: TimeType) -> st.SearchStrategy[Good]:
    edges = st.sampled_from([time(0), time(23, 59, 59, 999999), time(12, 0, 0, 1)])
    return st.one_of(edges, st.times()).flatmap(lambda t: _goods((t, t), (t.isoformat(), t)))


def _bad_times(_: TimeType) -> st.SearchStrategy[Bad]:
    return st.one_of(
        _bads(
            "a time with a zone",
            time(10, tzinfo=UTC),
            time(10, tzinfo=timezone(timedelta(hours=2))),
        ),
        _bads("not a time", "25:00:00", "noon", 3600, datetime(2024, 1, 2, 10)),
    )


# timestamp, timestamptz

_EPOCH = datetime(1970, 1, 1)
_MICROS = st.one_of(
    st.sampled_from([0, -1, 1, 1_704_189_600_000_000]),  # the epoch, either side, 2024-01-02T10
    # 1900 .. 2200, so that any offset keeps the local time a Python datetime.
    st.integers(-2_208_988_800_000_000, 7_258_118_400_000_000),
)
_OFFSETS = st.one_of(
    st.sampled_from([0, 60, -60, 330, -570, 14 * 60, -12 * 60]), st.integers(-14 * 60, 14 * 60)
)
_ZONES = ("America/New_York", "Europe/Berlin", "Asia/Kathmandu", "Pacific/Chatham")


def _iso(moment: datetime, fraction: str, offset: str) -> str:
    """ISO 8601 text of `moment`'s wall time: six fraction digits, or as few as it needs."""
    micros = f"{moment.microsecond:06d}"
    if fraction == "trimmed":
        micros = micros.rstrip("0")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{micros}" if micros else "") + offset


def _offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@st.composite
def _good_timestamptzs(draw, _: TimestamptzType) -> Good:
    utc = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=draw(_MICROS))
    offset = draw(_OFFSETS)
    local = utc.astimezone(timezone(timedelta(minutes=offset)))
    fraction = draw(st.sampled_from(["six", "trimmed"]))
    raw = draw(
        st.sampled_from(
            [
                utc,
                local,
                utc.astimezone(ZoneInfo(draw(st.sampled_from(_ZONES)))),
                utc.replace(tzinfo=None),  # no offset means UTC
                pd.Timestamp(local),
                _iso(utc, fraction, "Z"),
                _iso(utc, fraction, ""),  # no offset means UTC
                _iso(local, fraction, _offset_text(offset)),
            ]
        )
    )
    return Good(raw, utc)


def _bad_timestamptzs(_: TimestamptzType) -> st.SearchStrategy[Bad]:
    return st.one_of(
        _bads(
            "finer than microseconds",
            "2024-01-02T10:00:00.1234567Z",
            "2024-01-02T10:00:00.000000001+01:00",
            pd.Timestamp("2024-01-02T10:00:00.000000001Z"),
        ),
        _bads("not a timestamp", date(2024, 1, 2), 1_704_189_600, 1.5, "yesterday", True),
    )


@st.composite
def _good_timestamps(draw, _: TimestampType) -> Good:
    wall = _EPOCH + timedelta(microseconds=draw(_MICROS))
    fraction = draw(st.sampled_from(["six", "trimmed"]))
    return Good(draw(st.sampled_from([wall, pd.Timestamp(wall), _iso(wall, fraction, "")])), wall)


def _bad_timestamps(_: TimestampType) -> st.SearchStrategy[Bad]:
    plus_one = timezone(timedelta(hours=1))
    return st.one_of(
        _bads(
            "an offset in a timestamp without zone",
            datetime(2024, 1, 2, 10, tzinfo=plus_one),
            "2024-01-02T10:00:00+01:00",
            "2024-01-02T10:00:00-05:30",
        ),
        _bads("finer than microseconds", "2024-01-02T10:00:00.1234567"),
        _bads("not a timestamp", date(2024, 1, 2), 1_704_189_600, "yesterday"),
    )


# uuid


def _good_uuids(_: UUIDType) -> st.SearchStrategy[Good]:
    return st.uuids().flatmap(lambda u: _goods((u, u), (str(u), u)))


def _bad_uuids(_: UUIDType) -> st.SearchStrategy[Bad]:
    return _bads("not a uuid", "not-a-uuid", "", 5, "00000000-0000-0000-0000-00000000000g")


# list, struct, map


def _good_lists(t: ListType) -> st.SearchStrategy[Good]:
    elements = st.lists(good(t.element_type, t.element_required), max_size=3)

    def spelled(items: list[Good]) -> st.SearchStrategy[Good]:
        typed = [item.typed for item in items]
        dropped = sum(item.dropped for item in items)
        raws = [item.raw for item in items]
        return _goods((raws, typed), (tuple(raws), typed)).map(
            lambda g: Good(g.raw, g.typed, dropped)
        )

    return elements.flatmap(spelled)


@st.composite
def _bad_lists(draw, t: ListType) -> Bad:
    kind = draw(st.sampled_from(["not a list", "bad element"]))
    if kind == "not a list":
        return Bad(draw(st.sampled_from(["ab", {"a": 1}, 5])), (), "not a list")
    before = draw(st.lists(good(t.element_type, t.element_required), max_size=2))
    after = draw(st.lists(good(t.element_type, t.element_required), max_size=1))
    element = draw(bad(t.element_type, t.element_required))
    raw = [item.raw for item in before] + [element.raw] + [item.raw for item in after]
    return Bad(raw, ("element", *element.path), element.why, element.keys)


_MAP_KEYS = st.one_of(
    st.sampled_from(["", "myKey", "user_name", "UserName", "😀", "a b"]), st.text(max_size=4)
)


def _good_maps(t: MapType) -> st.SearchStrategy[Good]:
    entries = st.dictionaries(_MAP_KEYS, good(t.value_type, t.value_required), max_size=3)

    def built(items: dict[str, Good]) -> Good:
        # Map keys are data: never renamed by the naming convention.
        return Good(
            {key: value.raw for key, value in items.items()},
            {key: value.typed for key, value in items.items()},
            sum(value.dropped for value in items.values()),
        )

    return entries.map(built)


@st.composite
def _bad_maps(draw, t: MapType) -> Bad:
    kind = draw(st.sampled_from(["not a map", "bad value", "bad key"]))
    if kind == "not a map":
        return Bad(draw(st.sampled_from(["ab", [["k", 1]], 5])), (), "not a map")
    others = draw(st.dictionaries(_MAP_KEYS, good(t.value_type, t.value_required), max_size=2))
    raw = {key: value.raw for key, value in others.items()}
    if kind == "bad key":
        raw["k\ud800"] = draw(good(t.value_type, t.value_required)).raw
        return Bad(raw, ("key",), "a lone UTF-16 surrogate in a map key")
    value = draw(bad(t.value_type, t.value_required))
    raw[draw(_MAP_KEYS.filter(lambda key: key not in raw))] = value.raw
    return Bad(raw, ("value", *value.path), value.why, value.keys)


@dataclass
class ObjectDraft:
    """An object (a record, a struct value, a flattened parent) as a source sends it, kept by
    field while it is drawn so that a bad value can be planted in it."""

    entries: dict[str, tuple[str, object]]  # field name -> (source key, raw value or ABSENT)
    extras: dict[str, object]  # keys the schema does not have
    typed: dict[str, object]
    dropped: int

    def raw(self) -> dict:
        raw = {key: value for key, value in self.entries.values() if value is not ABSENT}
        return raw | self.extras

    def good(self) -> Good:
        return Good(self.raw(), self.typed, self.dropped)


@st.composite
def object_drafts(draw, fields: list[NestedField]) -> ObjectDraft:
    """Each field under either spelling, optional ones sometimes absent or null, and sometimes
    keys the schema does not have."""
    entries, typed, dropped = {}, {}, 0
    for f in fields:
        key = draw(st.sampled_from(spellings(f.name)))
        values = good(f.field_type, f.required)
        if not f.required:
            values = st.one_of(st.just(Good(ABSENT, None)), values)
        value = draw(values)
        entries[f.name] = (key, value.raw)
        typed[f.name] = value.typed
        dropped += value.dropped
    extras = draw(
        st.dictionaries(
            st.sampled_from(UNKNOWN_KEYS),
            st.sampled_from([1, "x", [1, 2], {"a": 1}, 2.5, True]),
            max_size=2,
        )
    )
    return ObjectDraft(entries, extras, typed, dropped + len(extras))


def plant(draw, draft: ObjectDraft, target: NestedField) -> Bad:
    """Make the object's `target` field refused: a bad value, or a second key for it."""
    key, _ = draft.entries[target.name]
    if draw(st.sampled_from(["bad value", "bad value", "bad value", "two keys"])) == "bad value":
        value = draw(bad(target.field_type, target.required))
        null = ABSENT if value.raw is None and draw(st.booleans()) else value.raw
        draft.entries[target.name] = (key, null)
        return value.under(target.name)
    first, second = spellings(target.name)
    draft.entries[target.name] = (first, draw(good(target.field_type, target.required)).raw)
    draft.extras[second] = draw(good(target.field_type, target.required)).raw
    return Bad(draft.raw(), (target.name,), "two keys land on one column", (first, second))


def _good_structs(t: StructType) -> st.SearchStrategy[Good]:
    return object_drafts(list(t.fields)).map(ObjectDraft.good)


@st.composite
def _bad_structs(draw, t: StructType) -> Bad:
    if draw(st.booleans()):
        return Bad(draw(st.sampled_from(["ab", [1], 5])), (), "not an object")
    draft = draw(object_drafts(list(t.fields)))
    planted = plant(draw, draft, draw(st.sampled_from(list(t.fields))))
    return Bad(draft.raw(), planted.path, planted.why, planted.keys)


_GOOD: dict[type, Callable[..., st.SearchStrategy[Good]]] = {
    BooleanType: _good_booleans,
    IntegerType: _good_ints,
    LongType: _good_ints,
    FloatType: _good_floats,
    DoubleType: _good_doubles,
    DecimalType: _good_decimals,
    StringType: _good_strings,
    BinaryType: _good_binaries,
    FixedType: _good_fixed,
    DateType: _good_dates,
    TimeType: _good_times,
    TimestampType: _good_timestamps,
    TimestamptzType: _good_timestamptzs,
    UUIDType: _good_uuids,
    ListType: _good_lists,
    StructType: _good_structs,
    MapType: _good_maps,
}
_BAD: dict[type, Callable[..., st.SearchStrategy[Bad]]] = {
    BooleanType: _bad_booleans,
    IntegerType: _bad_ints,
    LongType: _bad_ints,
    FloatType: _bad_floats,
    DoubleType: _bad_doubles,
    DecimalType: _bad_decimals,
    StringType: _bad_strings,
    BinaryType: _bad_binaries,
    FixedType: _bad_fixed,
    DateType: _bad_dates,
    TimeType: _bad_times,
    TimestampType: _bad_timestamps,
    TimestamptzType: _bad_timestamptzs,
    UUIDType: _bad_uuids,
    ListType: _bad_lists,
    StructType: _bad_structs,
    MapType: _bad_maps,
}


# ---------------------------------------------------------------------------------------------
# Records and loads


@dataclass
class RecordDraft:
    """One record: the id, the other plain columns, each flattened parent's object."""

    id_key: str
    id: object
    columns: ObjectDraft
    # parent -> (how the parent is sent: "object", None or ABSENT; its children's object)
    parents: dict[str, tuple[object, ObjectDraft]]

    def raw(self) -> dict:
        raw = {self.id_key: self.id} | self.columns.raw()
        for parent, (form, children) in self.parents.items():
            if form == "object":
                raw[parent] = children.raw()
            elif form is None:
                raw[parent] = None
        return raw

    def typed(self) -> dict:
        typed = {"id": self.id} | self.columns.typed
        for parent, (form, children) in self.parents.items():
            for child, value in children.typed.items():
                typed[f"{parent}__{child}"] = value if form == "object" else None
        return typed

    def dropped(self) -> int:
        objects = [self.columns] + [c for form, c in self.parents.values() if form == "object"]
        return sum(o.dropped for o in objects)


def _plain_columns(model: Model) -> list[NestedField]:
    flattened = {f"{p}__{c}" for p, children in model.flattened.items() for c in children}
    return [f for f in model.data_fields if f.name != "id" and f.name not in flattened]


def _children(model: Model, parent: str) -> list[NestedField]:
    by_name = {f.name: f for f in model.data_fields}
    return [
        NestedField(
            0,
            child,
            by_name[f"{parent}__{child}"].field_type,
            by_name[f"{parent}__{child}"].required,
        )
        for child in model.flattened[parent]
    ]


@st.composite
def record_drafts(draw, model: Model, record_id: object) -> RecordDraft:
    parents = {}
    for parent in model.flattened:
        children = _children(model, parent)
        forms = ["object"] if any(c.required for c in children) else ["object", None, ABSENT]
        parents[parent] = (draw(st.sampled_from(forms)), draw(object_drafts(children)))
    return RecordDraft(
        draw(st.sampled_from(spellings("id") + ("ID",))),
        record_id,
        draw(object_drafts(_plain_columns(model))),
        parents,
    )


def plant_in_record(draw, model: Model, record: RecordDraft) -> Bad:
    """Make one column of `record` refused; the Bad's path starts with the column's name."""
    targets = [f.name for f in _plain_columns(model)]
    targets += [f"{p}__{c}" for p, children in model.flattened.items() for c in children]
    column = draw(st.sampled_from(targets))
    parent, _, child = column.partition("__")
    if not child:
        by_name = {f.name: f for f in _plain_columns(model)}
        return plant(draw, record.columns, by_name[column])
    _, children = record.parents[parent]
    record.parents[parent] = ("object", children)
    [target] = [c for c in _children(model, parent) if c.name == child]
    planted = plant(draw, children, target)
    return Bad(planted.raw, (column, *planted.path[1:]), planted.why, planted.keys)


@dataclass
class Load:
    """One materialization: the pages the resource yields and what the rules say of them."""

    pages: list[object]  # each a list of records, or a record on its own
    rows: dict[object, dict]  # id -> typed row, if the load is accepted
    refusals: list[Bad]  # paths start at the column; empty: the load must be accepted
    dropped: int  # unknown keys in it (dropped, counted)

    def __repr__(self) -> str:
        verdict = (
            "refused: " + "; ".join(f"{'.'.join(b.path)} ({b.why})" for b in self.refusals)
            if self.refusals
            else "accepted"
        )
        pages = "\n".join(f"    {page!r}" for page in self.pages)
        return f"Load({verdict}, pages=\n{pages}\n)"


@dataclass
class Scenario:
    model: Model
    loads: list[Load] = field(default_factory=list)

    def __repr__(self) -> str:
        loads = "\n".join(repr(load) for load in self.loads)
        return f"Scenario(\n{self.model!r}\n{loads}\n)"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        # Hypothesis prints a falsifying example with its own pretty printer, which would
        # spell out every dataclass field instead.
        printer.text(repr(self))


def _ids(key_type: IcebergType) -> st.SearchStrategy[object]:
    if isinstance(key_type, LongType):
        return st.one_of(
            st.sampled_from([0, 2**63 - 1, -(2**63)]), st.integers(-(2**63), 2**63 - 1)
        )
    return st.text(max_size=6)


@st.composite
def scenarios(draw) -> Scenario:
    """A model and one or two loads into one table, each either all good (accepted) or with one
    or two bad values planted (refused)."""
    model = draw(models())
    refused = draw(st.lists(st.booleans(), min_size=1, max_size=2))
    sizes = [draw(st.integers(1, 5)) for _ in refused]
    key_type = model.schema.find_field("id").field_type
    ids = iter(
        draw(st.lists(_ids(key_type), min_size=sum(sizes), max_size=sum(sizes), unique=True))
    )
    scenario = Scenario(model)
    for is_refused, size in zip(refused, sizes, strict=True):
        records = [draw(record_drafts(model, next(ids))) for _ in range(size)]
        refusals = []
        if is_refused:
            for index in draw(st.sets(st.integers(0, size - 1), min_size=1, max_size=2)):
                refusals.append(plant_in_record(draw, model, records[index]))
        raws = [record.raw() for record in records]
        scenario.loads.append(
            Load(
                pages=draw(_pages(raws)),
                rows={record.id: record.typed() for record in records},
                refusals=refusals,
                dropped=sum(record.dropped() for record in records),
            )
        )
    return scenario


@st.composite
def _pages(draw, records: list[dict]) -> list[object]:
    """The records cut into pages; a page of one is sometimes yielded as the bare record."""
    pages, rest = [], list(records)
    while rest:
        size = draw(st.integers(1, len(rest)))
        page, rest = rest[:size], rest[size:]
        pages.append(page[0] if size == 1 and draw(st.booleans()) else page)
    return pages
