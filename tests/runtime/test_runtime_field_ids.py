"""A new table gets exactly the generated field ids, however many generations they went through.

pyiceberg's create_table renumbers a schema from 1, so the runtime steers its numbering (see
cascade.runtime.field_ids). The property test below replays random schema histories through
pyiceberg itself (create, add, delete, move) and checks that a fresh table created from the
result has the same ids, order and last_column_id.
"""

import itertools
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import (
    DoubleType,
    IcebergType,
    ListType,
    LongType,
    MapType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
)

from cascade.runtime import TableMismatchError
from cascade.runtime.contract import TableContract
from cascade.runtime.table import prepare_table
from tests.duckdb_reader import query_iceberg

IDENTIFIER = "raw.events"


def sql_catalog(folder: Path, database: str = "catalog.db") -> Catalog:
    folder.mkdir(exist_ok=True)
    uri = "sqlite:///:memory:" if database == ":memory:" else f"sqlite:///{folder / database}"
    return SqlCatalog("test", uri=uri, warehouse=folder.as_uri())


def test_a_new_table_gets_ids_with_gaps_and_out_of_order(catalog: Catalog) -> None:
    # Id 4 was retired, 6 too; `at` (5) was added after `value` (3) and moved before it.
    schema = Schema(
        NestedField(1, "device", StringType(), required=True, doc="the device"),
        NestedField(2, "seq", LongType(), required=True),
        NestedField(5, "at", TimestamptzType(), required=True),
        NestedField(3, "value", LongType(), required=False),
    )
    # Partition field 1000 was retired as well.
    spec = PartitionSpec(PartitionField(5, 1001, DayTransform(), "at_day"))

    prepared = prepare_table(
        catalog,
        TableContract(
            IDENTIFIER,
            schema,
            spec,
            retired_field_ids={4: "old", 6: "older"},
            last_column_id=6,
            last_partition_id=1001,
        ),
    )

    table = catalog.load_table(IDENTIFIER)
    assert prepared.created
    assert table.schema().as_struct() == schema.as_struct()
    assert table.metadata.last_column_id == 6
    assert table.spec().fields == spec.fields
    assert table.metadata.last_partition_id == 1001
    # One commit, and what pyiceberg adds later gets the ids the compiler gives it.
    assert len(table.metadata.metadata_log) == 0
    with table.update_schema() as update:
        update.add_column("note", StringType())
    with table.update_spec() as update:
        update.add_field("device", IdentityTransform(), "device")
    assert table.schema().find_field("note").field_id == 7
    assert table.spec().fields[-1].field_id == 1002
    # Written and read back by another reader despite the placeholders in its history.
    at = datetime(2024, 1, 2, tzinfo=UTC)
    row = {"device": "d1", "seq": 1, "at": at, "value": 5, "note": "n"}
    table.append(pa.Table.from_pylist([row], schema=table.schema().as_arrow()))
    location = catalog.load_table(IDENTIFIER).metadata_location
    sql = "SELECT device, seq, value, note FROM {table}"
    assert query_iceberg(location, sql) == [("d1", 1, 5, "n")]


def test_a_partition_column_that_comes_later_is_partitioned_after_it_is_added(
    catalog: Catalog,
) -> None:
    # `day` was added after the list, so create_table would number it before the element.
    schema = Schema(
        NestedField(1, "tags", ListType(2, StringType(), element_required=False)),
        NestedField(3, "day", TimestamptzType(), required=True),
    )
    spec = PartitionSpec(PartitionField(3, 1000, DayTransform(), "day_day"))

    prepare_table(
        catalog, TableContract(IDENTIFIER, schema, spec, last_column_id=3, last_partition_id=1000)
    )

    table = catalog.load_table(IDENTIFIER)
    assert table.schema().as_struct() == schema.as_struct()
    assert table.spec().fields == spec.fields


def test_ids_pyiceberg_cannot_give_are_refused_before_anything_is_created(
    catalog: Catalog,
) -> None:
    # pyiceberg numbers a map's key and value one after the other.
    schema = Schema(
        NestedField(1, "counts", MapType(2, StringType(), 4, LongType())),
        NestedField(3, "note", StringType()),
    )

    with pytest.raises(
        TableMismatchError, match="counts.value: generated with id 4, but pyiceberg"
    ):
        prepare_table(catalog, TableContract(IDENTIFIER, schema, PartitionSpec(), last_column_id=4))

    assert not catalog.table_exists(IDENTIFIER)


# Existing tables: the generated schema gained fields.

BASE = Schema(
    NestedField(1, "device", StringType(), required=True),
    NestedField(2, "origin", StructType(NestedField(4, "site", StringType())), required=False),
    NestedField(3, "value", LongType(), required=False),
)


def test_an_existing_table_gains_fields_with_gaps_nested_fields_and_a_new_order(
    catalog: Catalog,
) -> None:
    prepare_table(catalog, TableContract(IDENTIFIER, BASE, PartitionSpec()))
    # Id 5 went to a column removed before this table saw it; `value` moved first.
    grown = Schema(
        NestedField(3, "value", LongType(), required=False),
        NestedField(1, "device", StringType(), required=True),
        NestedField(
            2,
            "origin",
            StructType(NestedField(4, "site", StringType()), NestedField(9, "zone", StringType())),
            required=False,
        ),
        NestedField(6, "tags", ListType(7, StringType(), element_required=True)),
        NestedField(8, "note", StringType()),
    )

    prepared = prepare_table(
        catalog,
        TableContract(
            IDENTIFIER, grown, PartitionSpec(), retired_field_ids={5: "gone"}, last_column_id=9
        ),
    )

    assert {c.subject for c in prepared.changes if c.code == "CAS101"} == {
        "origin.zone",
        "tags",
        "note",
    }
    table = catalog.load_table(IDENTIFIER)
    assert table.schema().as_struct() == grown.as_struct()
    assert table.metadata.last_column_id == 9


def test_new_fields_numbered_level_by_level_cannot_be_added(catalog: Catalog) -> None:
    prepare_table(catalog, TableContract(IDENTIFIER, BASE, PartitionSpec()))
    before = catalog.load_table(IDENTIFIER).metadata_location
    # add_column numbers a list's element right after the list (6), before `note`.
    grown = Schema(
        *BASE.fields,
        NestedField(5, "tags", ListType(7, StringType(), element_required=True)),
        NestedField(6, "note", StringType()),
    )

    with pytest.raises(TableMismatchError) as raised:
        prepare_table(catalog, TableContract(IDENTIFIER, grown, PartitionSpec()))

    message = str(raised.value)
    assert (
        "cannot add the new fields with the generated ids: tags.element: generated with id 7"
        in (message)
    )
    assert "tags: generated with id 5, not in the table" in message
    assert catalog.load_table(IDENTIFIER).metadata_location == before


def test_a_retired_column_is_dropped_only_when_the_decorator_allows_it(catalog: Catalog) -> None:
    prepare_table(catalog, TableContract(IDENTIFIER, BASE, PartitionSpec()))
    before = catalog.load_table(IDENTIFIER).metadata_location
    shrunk = Schema(*BASE.fields[:2])

    with pytest.raises(TableMismatchError) as refused:
        prepare_table(
            catalog,
            TableContract(IDENTIFIER, shrunk, PartitionSpec(), retired_field_ids={3: "value"}),
        )
    assert "CAS201 column-dropped: value (id 3) is dropped" in str(refused.value)
    assert "allow_breaking=('CAS201:value',)" in str(refused.value)
    assert catalog.load_table(IDENTIFIER).metadata_location == before

    prepare_table(
        catalog,
        TableContract(
            IDENTIFIER,
            shrunk,
            PartitionSpec(),
            retired_field_ids={3: "value"},
            allowed_breaking=("CAS201:value",),
        ),
    )
    assert catalog.load_table(IDENTIFIER).schema() == shrunk


# Random schema histories, replayed through pyiceberg.

PRIMITIVES = {"s": StringType(), "l": LongType(), "d": DoubleType(), "t": TimestamptzType()}
shapes = st.recursive(
    st.sampled_from(sorted(PRIMITIVES)),
    lambda inner: st.one_of(
        st.tuples(st.just("list"), inner, st.booleans()),
        st.tuples(st.just("map"), inner),
        # pyiceberg cannot number a list or map of an empty struct (`element or ...` in
        # ListType takes it for a missing one), so structs have fields.
        st.tuples(
            st.just("struct"), st.lists(st.tuples(inner, st.booleans()), min_size=1, max_size=3)
        ),
    ),
    max_leaves=5,
)
operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "delete", "move"]),
        st.integers(0, 50),
        shapes,
        st.booleans(),
    ),
    max_size=8,
)


def iceberg_type(shape: object, ids: itertools.count, names: itertools.count) -> IcebergType:
    """Ids here are placeholders: pyiceberg renumbers whatever it is given."""
    if isinstance(shape, str):
        return PRIMITIVES[shape]
    # Keywords: pyiceberg takes a positional empty struct (falsy) for a missing one.
    if shape[0] == "list":
        element = iceberg_type(shape[1], ids, names)
        return ListType(element_id=next(ids), element_type=element, element_required=shape[2])
    if shape[0] == "map":
        key_id, value_id = next(ids), next(ids)
        value = iceberg_type(shape[1], ids, names)
        return MapType(key_id=key_id, key_type=StringType(), value_id=value_id, value_type=value)
    return StructType(
        *(
            NestedField(next(ids), f"f{next(names)}", iceberg_type(s, ids, names), required=r)
            for s, r in shape[1]
        )
    )


def struct_paths(field_type: IcebergType, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Paths of the structs under `field_type`, which `add_column` can add to."""
    if isinstance(field_type, StructType):
        return [path] + [
            p for f in field_type.fields for p in struct_paths(f.field_type, path + (f.name,))
        ]
    if isinstance(field_type, ListType):
        return struct_paths(field_type.element_type, path + ("element",))
    if isinstance(field_type, MapType):
        return struct_paths(field_type.value_type, path + ("value",))
    return []


def field_paths(schema: Schema, siblings: int = 0) -> list[tuple[str, ...]]:
    """Paths of the struct fields that have more than `siblings` siblings."""
    paths = []
    for parent in struct_paths(schema.as_struct(), ()):
        fields = (schema.find_field(".".join(parent)).field_type if parent else schema).fields
        if len(fields) > siblings:
            paths.extend(parent + (f.name,) for f in fields)
    return paths


def replay(catalog: Catalog, first: list, history: list) -> tuple[Schema, int]:
    """Create a table from `first`, apply `history`; return its schema and last_column_id."""
    ids, names = itertools.count(1000), itertools.count()
    initial = Schema(
        *(NestedField(next(ids), f"c{next(names)}", iceberg_type(s, ids, names)) for s in first)
    )
    catalog.create_namespace("raw")
    table = catalog.create_table(IDENTIFIER, schema=initial)
    for kind, pick, shape, required in history:
        schema = table.schema()
        with table.update_schema(allow_incompatible_changes=True) as update:
            if kind == "add":
                parents = struct_paths(schema.as_struct(), ())
                parent = parents[pick % len(parents)]
                field_type = iceberg_type(shape, ids, names)
                update.add_column(parent + (f"c{next(names)}",), field_type, required=required)
            # A struct keeps a field: pyiceberg fails to number a list of an empty struct.
            elif kind == "delete" and (paths := field_paths(schema, siblings=1)):
                update.delete_column(paths[pick % len(paths)])
            elif kind == "move":
                paths = field_paths(schema)
                update.move_first(paths[pick % len(paths)])
    return table.schema(), table.metadata.last_column_id


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=st.lists(shapes, min_size=1, max_size=4), history=operations)
def test_any_schema_history_is_recreated_with_its_ids(first: list, history: list) -> None:
    with tempfile.TemporaryDirectory() as folder:
        # In memory: a catalog file's commits would take most of the time.
        source = sql_catalog(Path(folder) / "a", ":memory:")
        generated, last_column_id = replay(source, first, history)
        catalog = sql_catalog(Path(folder) / "b", ":memory:")

        prepare_table(
            catalog,
            TableContract(IDENTIFIER, generated, PartitionSpec(), last_column_id=last_column_id),
        )

        table = catalog.load_table(IDENTIFIER)
        assert table.schema().as_struct() == generated.as_struct()
        assert table.metadata.last_column_id == last_column_id


later_operations = st.lists(
    st.tuples(st.sampled_from(["add", "add", "move"]), st.integers(0, 50), shapes), max_size=5
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=st.lists(shapes, min_size=1, max_size=3), history=operations, later=later_operations)
def test_a_table_created_from_any_history_follows_later_additions(
    first: list, history: list, later: list
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = sql_catalog(Path(folder) / "a", ":memory:")
        generated, last_column_id = replay(source, first, history)
        catalog = sql_catalog(Path(folder) / "b", ":memory:")
        spec = PartitionSpec()
        prepare_table(
            catalog, TableContract(IDENTIFIER, generated, spec, last_column_id=last_column_id)
        )
        # Later generations add optional fields (anywhere) and move fields.
        evolving = source.load_table(IDENTIFIER)
        ids, names = itertools.count(5000), itertools.count(500)
        for kind, pick, shape in later:
            schema = evolving.schema()
            with evolving.update_schema() as update:
                if kind == "add":
                    parents = struct_paths(schema.as_struct(), ())
                    parent = parents[pick % len(parents)]
                    field_type = iceberg_type(shape, ids, names)
                    update.add_column(parent + (f"n{next(names)}",), field_type)
                else:
                    paths = field_paths(schema)
                    update.move_first(paths[pick % len(paths)])

            prepare_table(catalog, TableContract(IDENTIFIER, evolving.schema(), PartitionSpec()))

            table = catalog.load_table(IDENTIFIER)
            assert table.schema().as_struct() == evolving.schema().as_struct()
