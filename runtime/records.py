"""Typed staging: what a dlt resource yields, as Arrow data of the generated schema.

dlt extracts (sources, pagination, incremental state) and stages parquet, but its own
normalizer would decide the values: it turns NaN and infinities into nulls, lets `userName` and
`user_name` overwrite each other, writes nested objects as JSON text, and refuses bad values
with errors that name its internal jobs. `RecordConverter` is a step at the end of the
resource's pipe instead: every item the resource yields (a dict, a page of dicts, an Arrow
table or record batch, a pandas or polars data frame) leaves it as an Arrow table of the
schema's data columns, built column by column, so dlt only ever sees typed
Arrow data, which it stages as it is.

Names. A key becomes a column through dlt's naming convention (`userName` -> `user_name`,
dlt's `normalize_identifier`), unless it already is a column's name. A nested object fills
`parent__child` columns where the schema has those (dlt's `shorten_fragments` makes the path)
and a struct where the schema declares one. Two keys of one object that land on one column are
refused; keys the schema does not have are dropped and reported, except the keys the
ingestion declares ignored (`ignored_keys`), which are dropped without a word.

Values. None or an absent key is null, `[]` stays `[]`, structs, lists and maps are built as
Arrow nested arrays; each primitive column by value_rules.py (Arrow where its conversion is
exactly the rules', Python value by value otherwise).

A value that breaks a rule does not stop the extraction: it is counted with its column, the
item it came in is not staged, and `problems` lists every column's refusals at the end, so
the refusal names each column with its first values and counts.
"""

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

import pyarrow as pa
from dlt.common.normalizers.naming import NamingConvention
from dlt.extract.items_transform import ItemTransform
from pyiceberg.schema import Schema
from pyiceberg.types import (
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StructType,
)

from cascade.runtime.contract import METADATA_COLUMN_NAMES
from cascade.runtime.errors import SAMPLE_SIZE
from cascade.runtime.value_rules import (
    Misfit,
    by_arrow,
    convert,
    empty,
    exact_cast,
    finer_than_microseconds,
    key_from_text,
)


@dataclass
class _Refusal:
    count: int = 0
    samples: list[str] = field(default_factory=list)


@dataclass
class Problems:
    """What the conversion refused, by column path and reason, and the keys it dropped."""

    refusals: dict[tuple[str, str], _Refusal] = field(default_factory=dict)
    # Source keys the schema has no column for, as dotted paths, with the records holding them
    # (the keys the ingestion declares ignored are not among them).
    dropped: dict[str, int] = field(default_factory=dict)

    def refuse(self, path: str, reason: str, sample: str | None = None, count: int = 1) -> None:
        refusal = self.refusals.setdefault((path, reason), _Refusal())
        refusal.count += count
        if sample is not None and len(refusal.samples) < SAMPLE_SIZE:
            refusal.samples.append(sample)

    def misfit(self, path: str, field_type: IcebergType, value: object, why: str) -> None:
        self.refuse(path, f"value(s) do not fit {field_type}", f"{_show(value)} ({why})")

    def count(self) -> int:
        return sum(refusal.count for refusal in self.refusals.values())

    def drop(self, path: str, records: int) -> None:
        self.dropped[path] = self.dropped.get(path, 0) + records

    def lines(self) -> list[str]:
        """One line per column and reason: `price: 2 value(s) do not fit decimal(10, 2): ...`."""
        lines = []
        for (path, reason), refusal in sorted(self.refusals.items()):
            line = f"{path}: {refusal.count} {reason}"
            lines.append(line + (": " + ", ".join(refusal.samples) if refusal.samples else ""))
        return lines

    def __bool__(self) -> bool:
        return bool(self.refusals)


class RecordConverter(ItemTransform[Any]):
    """A dlt pipe step: each item a resource yields -> an Arrow table of `schema`'s data columns.

    Items with a refused value are not passed on; `problems` holds why. The Arrow types are
    the schema's storage types (a UUID is its 16 bytes), because dlt's parquet staging has no
    UUID type; `staging_schema` is that schema.
    """

    # After dlt's own steps that read the records as the source sent them: incremental
    # cursors (1), add_limit (1.1); before a fork (2).
    placement_affinity: ClassVar[float] = 1.5

    def __init__(
        self,
        schema: Schema,
        naming: NamingConvention,
        table_name: str | None = None,
        renamed_columns: Mapping[str, str] | None = None,
        ignored_keys: Collection[str] = (),
    ) -> None:
        # ItemTransform wants a function to call; this step is its own `__call__`.
        super().__init__(lambda item: item)
        self.naming = naming
        self.table_name = table_name
        self._storage_types: dict[int, pa.DataType] = {}
        self.columns = {f.name: f for f in schema.fields if f.name not in METADATA_COLUMN_NAMES}
        # A column's name before a `renamed_from` rename -> the column: a source that still
        # sends the old key fills it (one record holding both keys is refused as a clash).
        self.renamed = {
            old: new for old, new in (renamed_columns or {}).items() if old not in self.columns
        }
        # Source keys dropped on purpose (the contract's `ignored_keys`), as the dotted paths
        # `problems.dropped` would name them; each names everything under it too.
        self.ignored = frozenset(ignored_keys)
        self.staging_schema = pa.schema(
            [pa.field(f.name, self._storage(f.field_type)) for f in self.columns.values()]
        )
        # `a` and `a__b` for a column `a__b__c`: keys whose objects flatten into columns.
        self.prefixes = {
            self.naming.PATH_SEPARATOR.join(parts[:end])
            for name in self.columns
            if len(parts := name.split(self.naming.PATH_SEPARATOR)) > 1
            for end in range(1, len(parts))
        }
        self.problems = Problems()
        self.rows = 0
        self._normalized: dict[object, str] = {}  # source key (any hashable) -> dlt name

    def _storage(self, field_type: IcebergType) -> pa.DataType:
        """The Arrow type staged for `field_type`, worked out once per type of the schema."""
        if (found := self._storage_types.get(id(field_type))) is None:
            found = self._storage_types[id(field_type)] = _storage(_arrow_type(field_type))
        return found

    def __call__(self, item: Any, meta: Any = None) -> pa.Table | None:
        routed = getattr(meta, "table_name", None)
        if self.table_name and routed and routed != self.table_name:
            # dlt.mark.with_table_name: rows for another table, which this load does not write.
            self.problems.refuse(
                "(records)",
                f"item(s) are marked for another table than {self.table_name!r} "
                "(dlt.mark.with_table_name)",
                repr(routed),
            )
            return None
        refused_before = self.problems.count()
        table = self._table(item)
        if table is None or self.problems.count() > refused_before:
            return None
        self.rows += table.num_rows
        return table

    def _table(self, item: Any) -> pa.Table | None:
        if isinstance(item, dict):
            item = [item]
        if isinstance(item, list | tuple):
            if not item:
                return None
            if set(map(type, item)) == {dict} or all(isinstance(r, dict) for r in item):
                return self._from_records(list(item))
            if all(_is_frame(part) for part in item):
                tables = [t for part in item if (t := self._table(part)) is not None]
                return pa.concat_tables(tables) if tables else None
        if _is_frame(item):
            return self._from_frame(item)
        kinds = sorted({type(x).__name__ for x in item} if isinstance(item, list) else ())
        self.problems.refuse(
            "(records)",
            "item(s) are not records",
            f"{type(item).__name__}" + (f" of {', '.join(kinds)}" if kinds else ""),
        )
        return None

    # Records (dicts).

    def _from_records(
        self, records: list[dict], cast: dict[str, pa.Array] | None = None
    ) -> pa.Table:
        """The records as a table of the staging schema; `cast` holds columns already built
        (from an Arrow table)."""
        cast = cast or {}
        keyed = self._keyed(records, self.columns, None)
        arrays = []
        for name, column in self.columns.items():
            if name in cast:
                arrays.append(cast[name])
                continue
            values = keyed[name][0] if name in keyed else [None] * len(records)
            arrays.append(self._column(values, column, name))
        return pa.Table.from_arrays(arrays, schema=self.staging_schema)

    def _keyed(
        self,
        objects: Sequence[dict | None],
        fields: dict[str, NestedField],
        struct_path: str | None,
        parents: tuple[str, ...] = (),
        where: str = "",
    ) -> dict[str, tuple[list, str]]:
        """The values of `objects` (dicts or None, one per row) by field name, each with the
        source key they came from.

        `struct_path` is the path of the struct whose fields these are, or None at the top
        level, where nested objects flatten into `parent__child` columns: `parents` are the
        normalized keys flattened so far, `where` their dotted source path.
        """
        keys = set().union(*(o for o in objects if o))
        spellings: dict[str, list[str]] = {}
        for key in keys:
            spellings.setdefault(self._field_name(key, fields, parents), []).append(key)
        keyed: dict[str, tuple[list, str]] = {}
        for name, spelled in sorted(spellings.items()):
            spelled.sort(key=str)
            path = name if struct_path is None else f"{struct_path}.{name}"
            if name in fields:
                values = self._values(objects, spelled, path, where)
                self._put(keyed, name, (values, f"{where}{spelled[0]}"), path)
            elif struct_path is None and name in self.prefixes:
                source = f"{where}{spelled[0]}"
                nested = self._objects(self._values(objects, spelled, path, where), source)
                flattened = (*parents, self._normalize(spelled[0]))
                for child, found in self._keyed(
                    nested, fields, None, flattened, source + "."
                ).items():
                    self._put(keyed, child, found, child)
            else:
                for key in spelled:
                    named = key if isinstance(key, str) and key.strip() else repr(key)
                    dropped = f"{where}{named}"
                    if not self._ignored(dropped):
                        present = sum(1 for o in objects if o and key in o)
                        self.problems.drop(dropped, present)
        return keyed

    def _ignored(self, path: str) -> bool:
        """Whether the dropped key at `path` is declared ignored: it, or a key it is inside
        (`payload.commits` covers `payload.commits.sha`; `payload.commit` does not)."""
        if not self.ignored:
            return False
        if path in self.ignored:
            return True
        end = path.find(".")
        while end != -1:
            if path[:end] in self.ignored:
                return True
            end = path.find(".", end + 1)
        return False

    def _put(
        self, keyed: dict[str, tuple[list, str]], name: str, found: tuple[list, str], path: str
    ) -> None:
        """Add a column's values; a column reached both by a flat key (`actor__login`) and
        through a nested object (`actor.login`) takes each record's one value, and is refused
        where a record holds both."""
        if name not in keyed:
            keyed[name] = found
            return
        (values, source), (more, other) = keyed[name], found
        clashes = sum(
            1 for a, b in zip(values, more, strict=True) if a is not None and b is not None
        )
        if clashes:
            self._clash(path, [source, other], clashes)
        keyed[name] = (
            [a if a is not None else b for a, b in zip(values, more, strict=True)],
            source,
        )

    def _clash(self, path: str, sources: list[str], records: int) -> None:
        spelled = " and ".join(repr(source) for source in sorted(sources))
        old = self._old_name(path)
        how = f"renamed_from {old!r} (the column's old name)" if old else "dlt's naming convention"
        self.problems.refuse(
            path,
            f"record(s) hold both {spelled}, which both become this column through {how}: "
            "which one is meant is unknown",
            count=records,
        )

    def _old_name(self, path: str) -> str | None:
        return next((old for old, new in self.renamed.items() if new == path), None)

    def _field_name(
        self, key: str, fields: dict[str, NestedField], parents: tuple[str, ...]
    ) -> str:
        if not parents and key in fields:
            return key
        normalized = self._normalize(key)
        if parents:
            return self.naming.shorten_fragments(*parents, normalized)
        if fields is self.columns:
            return self.renamed.get(normalized, normalized)
        return normalized

    def _normalize(self, key: object) -> str:
        """dlt's name for `key`; a key that names nothing (not text, or empty: dlt's naming
        convention refuses it) gets a name no column has, so it is dropped and reported."""
        if (name := self._normalized.get(key)) is None:
            if isinstance(key, str) and key.strip():
                name = self.naming.normalize_identifier(key)
            else:
                name = f"\0{key!r}"
            self._normalized[key] = name
        return name

    def _values(
        self, objects: Sequence[dict | None], keys: list[str], path: str, where: str
    ) -> list:
        """Each object's value for the field at `path`, which `keys` all become; refused where
        one object holds more than one of them."""
        if len(keys) == 1:
            [key] = keys
            if None not in objects:  # the common case, without a test per object
                return [o.get(key) for o in cast("Sequence[dict]", objects)]
            return [o.get(key) if o is not None else None for o in objects]
        values: list = []
        clashes = 0
        for o in objects:
            found = [key for key in keys if o is not None and key in o]
            clashes += len(found) > 1
            values.append(o[found[0]] if o is not None and found else None)
        if clashes:
            self._clash(path, [f"{where}{key}" for key in keys], clashes)
        return values

    def _objects(self, values: list, path: str) -> list[dict | None]:
        """`values` as objects (dicts or None); anything else is refused."""
        objects = []
        for value in values:
            if value is None or isinstance(value, dict):
                objects.append(value)
            else:
                objects.append(None)
                self.problems.refuse(path, "value(s) are not objects", _show(value))
        return objects

    def _column(self, values: list, column: NestedField, path: str) -> pa.Array:
        if column.required:
            self._require(values, path, "row(s) are null or absent, but the column is required")
        return self._array(values, column.field_type, path)

    def _require(self, values: list, path: str, what: str, owners: list | None = None) -> None:
        """Refuse the nulls among `values` (only where `owners`, the structs holding them, are
        not null themselves: a null struct has no fields)."""
        if owners is None:
            nulls = sum(1 for value in values if value is None)
        else:
            nulls = sum(
                1 for v, o in zip(values, owners, strict=True) if v is None and o is not None
            )
        if nulls:
            self.problems.refuse(path, what, count=nulls)

    def _array(self, values: list, field_type: IcebergType, path: str) -> pa.Array:
        """`values` (Python values, None for null) as an Arrow array of `field_type`'s storage
        type; a value that does not fit is refused and becomes null."""
        if isinstance(field_type, StructType):
            return self._struct(values, field_type, path)
        if isinstance(field_type, ListType):
            return self._list(values, field_type, path)
        if isinstance(field_type, MapType):
            return self._map(values, field_type, path)
        return self._primitives(values, field_type, path)

    def _struct(self, values: list, struct: StructType, path: str) -> pa.Array:
        objects = self._objects(values, path)
        fields = {f.name: f for f in struct.fields}
        keyed = self._keyed(objects, fields, path, where=path + ".")
        absent = [o is None for o in objects]
        children = []
        for f in struct.fields:
            values = keyed[f.name][0] if f.name in keyed else [None] * len(objects)
            if f.required:
                what = "value(s) are null or absent, but the field is required"
                self._require(values, f"{path}.{f.name}", what, objects)
                # A null struct still has a slot in each field, and a required field's slot
                # must hold a value (Arrow's cast and parquet writer refuse a null there, even
                # under a null struct): the field's empty value, never read.
                if any(absent):
                    unread = empty(f.field_type)
                    values = [unread if gone else v for v, gone in zip(values, absent, strict=True)]
            children.append(self._array(values, f.field_type, f"{path}.{f.name}"))
        storage = self._storage(struct)
        return pa.StructArray.from_arrays(
            children, fields=list(storage), mask=pa.array(absent, pa.bool_())
        )

    def _list(self, values: list, list_type: ListType, path: str) -> pa.Array:
        offsets: list[int] = [0]
        items: list = []
        nulls: list[bool] = []
        for value in values:
            if value is None:
                nulls.append(True)
            elif isinstance(value, list | tuple):
                items.extend(value)
                nulls.append(False)
            else:
                nulls.append(True)
                self.problems.misfit(path, list_type, value, "not a list")
            offsets.append(len(items))
        element_path = f"{path}[]"
        elements = self._array(items, list_type.element_type, element_path)
        if list_type.element_required:
            self._require(items, element_path, "element(s) are null, but elements are required")
        return pa.ListArray.from_arrays(
            pa.array(offsets, pa.int32()),
            elements,
            type=self._storage(list_type),
            mask=pa.array(nulls, pa.bool_()),
        )

    def _map(self, values: list, map_type: MapType, path: str) -> pa.Array:
        offsets: list[int] = [0]
        keys: list = []
        items: list = []
        nulls: list[bool] = []
        for value in values:
            if value is None:
                nulls.append(True)
            elif isinstance(value, dict):
                keys.extend(value.keys())
                items.extend(value.values())
                nulls.append(False)
            else:
                nulls.append(True)
                self.problems.misfit(path, map_type, value, "not an object")
            offsets.append(len(keys))
        key_array = self._map_keys(keys, map_type.key_type, f"{path}.key")
        item_array = self._array(items, map_type.value_type, f"{path}.value")
        self._require(keys, f"{path}.key", "key(s) are null; map keys never are")
        if map_type.value_required:
            self._require(items, f"{path}.value", "value(s) are null, but values are required")
        storage = self._storage(map_type)
        if key_array.null_count:  # refused above: Arrow builds no map with a null key
            return pa.nulls(len(values), storage)
        self._unique_keys(key_array, offsets, f"{path}.key")
        return pa.MapArray.from_arrays(
            pa.array(offsets, pa.int32()),
            key_array,
            item_array,
            type=storage,
            mask=pa.array(nulls, pa.bool_()),
        )

    def _unique_keys(self, keys: pa.Array, offsets: list[int], path: str) -> None:
        """Refuse maps holding a key twice once keys are converted (`"1"` and `"01"` both
        become 1): Iceberg's maps have unique keys, and readers refuse the file otherwise."""
        converted = keys.to_pylist()
        for start, end in zip(offsets, offsets[1:], strict=False):
            own = converted[start:end]
            if len(set(own)) < len(own):
                twice = sorted({k for k in own if own.count(k) > 1}, key=repr)
                self.problems.refuse(path, "map(s) hold a key twice", ", ".join(map(repr, twice)))

    def _map_keys(self, keys: list, key_type: IcebergType, path: str) -> pa.Array:
        # JSON object keys are always text: an integer key type takes their digits.
        if isinstance(key_type, IntegerType | LongType):
            keys = [key_from_text(key) for key in keys]
        return self._primitives(keys, key_type, path)

    def _primitives(self, values: list, field_type: IcebergType, path: str) -> pa.Array:
        storage = self._storage(field_type)
        fast = by_arrow(values, field_type, storage)
        if fast is not None:
            return fast
        converted: list = []
        for value in values:
            if value is None:
                converted.append(None)
                continue
            try:
                converted.append(convert(value, field_type))
            except Misfit as misfit:
                converted.append(None)
                self.problems.misfit(path, field_type, value, str(misfit))
        return pa.array(converted, storage)

    # Arrow tables and data frames.

    def _from_frame(self, frame: object) -> pa.Table | None:
        """An Arrow table or a data frame as a table of the staging schema: a column whose Arrow
        type casts exactly to its column's is cast; the other columns are judged as records."""
        if objects := _polars_objects(frame):
            # Arrow sees such a column as the objects' addresses, not their values.
            self.problems.refuse(
                "(records)",
                "frame(s) hold polars Object columns, which Arrow cannot read",
                ", ".join(objects),
            )
            return None
        names, columns, rows = _frame_columns(frame)
        if not rows:
            return None
        if twice := sorted({str(name) for name in names if names.count(name) > 1}):
            self.problems.refuse("(records)", "frame(s) name a column twice", ", ".join(twice))
            return None
        targets = [self._field_name(name, self.columns, ()) for name in names]
        flattening = [target + "__" for target in targets if target in self.prefixes]
        cast: dict[str, pa.Array] = {}
        for name, values in zip(targets, columns, strict=True):
            column = self.columns.get(name)
            if (
                column is None
                or not column.field_type.is_primitive
                or not isinstance(values, pa.ChunkedArray)
                or targets.count(name) > 1
                or any(name.startswith(prefix) for prefix in flattening)
            ):
                continue
            array = values.combine_chunks()
            exact = exact_cast(array, self._storage(column.field_type))
            if exact is None and (finer := finer_than_microseconds(array)):
                # Their Python values would drop the nanoseconds: refused here, as text.
                for text in finer:
                    self.problems.misfit(name, column.field_type, text, "finer than microseconds")
                exact = pa.nulls(rows, self._storage(column.field_type))
            if exact is not None:
                if column.required and exact.null_count:
                    what = "row(s) are null or absent, but the column is required"
                    self.problems.refuse(name, what, count=exact.null_count)
                cast[name] = exact
        judged = {
            name: values
            for name, target, values in zip(names, targets, columns, strict=True)
            if target not in cast
        }
        return self._from_records(_records(judged, rows), cast)


def _arrow_type(field_type: IcebergType) -> pa.DataType:
    """The Arrow type pyiceberg gives an Iceberg type (one column schema, converted)."""
    return Schema(NestedField(1, "value", field_type, required=False)).as_arrow().field(0).type


def _storage(data_type: pa.DataType) -> pa.DataType:
    """What dlt stages for `data_type`: extension types (UUID) as their storage, 32-bit offsets
    where pyiceberg reads with 64-bit ones (`large_string`, `large_list`). `batch.conform`
    casts the staged rows to the table's own types."""
    if isinstance(data_type, pa.BaseExtensionType):
        return data_type.storage_type
    if pa.types.is_large_string(data_type):
        return pa.string()
    if pa.types.is_large_binary(data_type):
        return pa.binary()
    if pa.types.is_map(data_type):
        return pa.map_(
            data_type.key_field.with_type(_storage(data_type.key_type)),
            data_type.item_field.with_type(_storage(data_type.item_type)),
        )
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        element = data_type.value_field
        return pa.list_(element.with_type(_storage(element.type)))
    if pa.types.is_struct(data_type):
        return pa.struct([f.with_type(_storage(f.type)) for f in data_type])
    return data_type


def _is_frame(item: object) -> bool:
    if isinstance(item, pa.Table | pa.RecordBatch):
        return True
    module = type(item).__module__
    return type(item).__name__ == "DataFrame" and module.split(".")[0] in ("pandas", "polars")


def _frame_columns(frame: Any) -> tuple[list, list[pa.ChunkedArray | list], int]:
    """A frame's column names, its columns (Arrow, or Python values where Arrow would decide
    them) and its row count.

    pandas: a column of Python objects is taken value by value (Arrow would turn `True` among
    floats into 1.0), after pandas' own convention that NaN, None, NaT and NA in it are missing
    values; other columns through `pa.Table.from_pandas`, which applies that convention too
    (nullable and Arrow-backed dtypes keep NaN apart from null), and an index that holds data
    (not a plain range) is a column. polars frames and Arrow data keep NaN apart from null.
    """
    if isinstance(frame, pa.RecordBatch):
        frame = pa.Table.from_batches([frame])
    elif type(frame).__module__.startswith("polars"):
        frame = frame.to_arrow()
    if isinstance(frame, pa.Table):
        return list(frame.column_names), list(frame.columns), frame.num_rows
    names = list(frame.columns)
    if len(set(names)) != len(names):
        return names, [[]] * len(names), len(frame)  # refused by the caller, which names them
    objects = [name for name, dtype in frame.dtypes.items() if dtype.kind == "O"]
    typed = pa.Table.from_pandas(frame.drop(columns=objects), preserve_index=None)
    values = [[None if _pandas_missing(v) else v for v in frame[name].tolist()] for name in objects]
    return [*typed.column_names, *objects], [*typed.columns, *values], len(frame)


def _polars_objects(frame: Any) -> list[str]:
    if not type(frame).__module__.startswith("polars"):
        return []
    return [str(name) for name, dtype in frame.schema.items() if str(dtype) == "Object"]


def _pandas_missing(value: object) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    import pandas  # only frames from pandas get here

    return value is pandas.NaT or value is pandas.NA


def _records(columns: dict[object, pa.ChunkedArray | list], rows: int) -> list[dict]:
    """Columns as records, maps as dicts."""
    arrow = {
        name: values for name, values in columns.items() if isinstance(values, pa.ChunkedArray)
    }
    records = (
        pa.table(arrow).to_pylist(maps_as_pydicts="strict") if arrow else [{} for _ in range(rows)]
    )
    for name, values in columns.items():
        if not isinstance(values, pa.ChunkedArray):
            for record, value in zip(records, values, strict=True):
                record[name] = value
    return records


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:120] + "..."
