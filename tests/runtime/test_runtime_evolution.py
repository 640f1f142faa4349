"""The runtime evolves a live table to the generated schema by field id (runtime/evolution.py
classifies, runtime/table.py applies), on a real SQLite catalog and warehouse."""

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import (
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
)

from cascade.runtime.contract import TableContract
from cascade.runtime.errors import TableMismatchError
from cascade.runtime.evolution import TableShape, classify
from cascade.runtime.table import prepare_table

IDENTIFIER = "raw.events"
BEFORE = Schema(
    NestedField(1, "id", StringType(), required=True, doc="Event id"),
    NestedField(2, "count", IntegerType(), required=True),
    NestedField(3, "score", FloatType(), required=False),
    NestedField(4, "amount", DecimalType(9, 2), required=False),
    NestedField(5, "at", TimestamptzType(), required=True),
    NestedField(6, "origin", StructType(NestedField(7, "site", StringType())), required=False),
)
BEFORE_SPEC = PartitionSpec(
    PartitionField(source_id=5, field_id=1000, transform=DayTransform(), name="at_day")
)
# Every safe change at once: rename (2 -> total), int -> long, float -> double, more decimal
# digits, required -> optional, a new description, a new column and a new struct field,
# another order, and a new partition field.
AFTER = Schema(
    NestedField(1, "id", StringType(), required=True, doc="Event id, as the API gives it"),
    NestedField(5, "at", TimestamptzType(), required=True),
    NestedField(2, "total", LongType(), required=False),
    NestedField(3, "score", DoubleType(), required=False),
    NestedField(4, "amount", DecimalType(18, 2), required=False),
    NestedField(
        6,
        "origin",
        StructType(NestedField(7, "site", StringType()), NestedField(9, "region", StringType())),
        required=False,
    ),
    NestedField(8, "note", StringType(), required=False),
)
AFTER_SPEC = PartitionSpec(
    PartitionField(source_id=5, field_id=1000, transform=DayTransform(), name="at_day"),
    PartitionField(source_id=1, field_id=1001, transform=IdentityTransform(), name="id"),
)


AT = datetime(2024, 1, 1, tzinfo=UTC)
ROW = {
    "id": "a",
    "count": 1,
    "score": 0.5,
    "amount": Decimal("1.25"),
    "at": AT,
    "origin": {"site": "x"},
}


def rows(schema: Schema, values: dict) -> pa.Table:
    return pa.Table.from_pylist([values], schema=schema.as_arrow())


def test_safe_changes_are_applied_by_id_and_old_rows_stay_readable(catalog: Catalog) -> None:
    table = prepare_table(catalog, TableContract(IDENTIFIER, BEFORE, BEFORE_SPEC)).table
    table.append(rows(BEFORE, ROW))

    prepared = prepare_table(
        catalog, TableContract(IDENTIFIER, AFTER, AFTER_SPEC, last_column_id=9)
    )

    live = catalog.load_table(IDENTIFIER)
    assert live.schema() == AFTER  # ids, names, types, required flags, docs and order
    assert [(f.field_id, f.name, str(f.transform)) for f in live.spec().fields] == [
        (1000, "at_day", "day"),
        (1001, "id", "identity"),
    ]
    assert {c.subject for c in prepared.changes if c.code == "CAS101"} == {"origin.region", "note"}
    read = live.scan().to_arrow().to_pylist()
    assert read == [
        {
            "id": "a",
            "at": AT,
            "total": 1,
            "score": 0.5,
            "amount": Decimal("1.25"),
            "origin": {"site": "x", "region": None},
            "note": None,
        }
    ]


@pytest.mark.parametrize(
    ("generated", "code"),
    [
        (Schema(*BEFORE.fields[:5]), "CAS201"),  # origin dropped
        (
            Schema(NestedField(1, "id", LongType(), required=True), *BEFORE.fields[1:]),
            "CAS202",
        ),
        (
            Schema(
                *BEFORE.fields[:2],
                NestedField(3, "score", FloatType(), required=True),
                *BEFORE.fields[3:],
            ),
            "CAS203",
        ),
        (Schema(*BEFORE.fields, NestedField(8, "must", StringType(), required=True)), "CAS204"),
    ],
)
def test_a_breaking_change_is_refused_and_the_table_is_unchanged(
    catalog: Catalog, generated: Schema, code: str
) -> None:
    table = prepare_table(catalog, TableContract(IDENTIFIER, BEFORE, BEFORE_SPEC)).table
    table.append(rows(BEFORE, ROW))
    before = catalog.load_table(IDENTIFIER).metadata_location

    with pytest.raises(TableMismatchError, match=f"{code} "):
        prepare_table(catalog, TableContract(IDENTIFIER, generated, BEFORE_SPEC))

    assert catalog.load_table(IDENTIFIER).metadata_location == before


def test_a_table_without_rows_takes_a_required_column(catalog: Catalog) -> None:
    prepare_table(catalog, TableContract(IDENTIFIER, BEFORE, BEFORE_SPEC))
    grown = Schema(*BEFORE.fields, NestedField(8, "must", StringType(), required=True))

    prepared = prepare_table(catalog, TableContract(IDENTIFIER, grown, BEFORE_SPEC))

    assert [c.subject for c in prepared.changes if c.code == "CAS101"] == ["must"]
    assert catalog.load_table(IDENTIFIER).schema() == grown


def test_the_classifier_sees_each_safe_change_of_the_evolution_above() -> None:
    changes = classify(TableShape(BEFORE, BEFORE_SPEC), TableShape(AFTER, AFTER_SPEC))
    assert sorted({c.code for c in changes}) == [
        "CAS101",
        "CAS102",
        "CAS103",
        "CAS104",
        "CAS105",
        "CAS106",
        "CAS107",
    ]
    assert not any(c.breaking for c in changes)


@pytest.mark.parametrize("score", [None, 0.5], ids=["with-nulls", "without-nulls"])
def test_an_allowed_made_required_change_needs_a_column_without_nulls(
    catalog: Catalog, score: float | None
) -> None:
    table = prepare_table(catalog, TableContract(IDENTIFIER, BEFORE, BEFORE_SPEC)).table
    table.append(rows(BEFORE, ROW))
    table.append(rows(BEFORE, {**ROW, "id": "b", "score": score}))
    required = Schema(
        *(
            NestedField(3, "score", FloatType(), required=True) if f.field_id == 3 else f
            for f in BEFORE.fields
        )
    )
    before = catalog.load_table(IDENTIFIER).metadata_location

    def evolve() -> None:
        prepare_table(
            catalog,
            TableContract(IDENTIFIER, required, BEFORE_SPEC, allowed_breaking=("CAS203:score",)),
        )

    if score is None:
        with pytest.raises(TableMismatchError, match=r"score becomes required, but 1 row\(s\)"):
            evolve()
        assert catalog.load_table(IDENTIFIER).metadata_location == before
    else:
        evolve()
        assert catalog.load_table(IDENTIFIER).schema().find_field("score").required


def test_a_rename_is_seen_by_the_field_name_even_when_names_hold_dots() -> None:
    # Adopted tables may have dotted names; the dotted path's last part is not the name.
    before = Schema(NestedField(1, "a.b", StringType(), required=False))
    after = Schema(NestedField(1, "c.b", StringType(), required=False))
    changes = classify(TableShape(before, PartitionSpec()), TableShape(after, PartitionSpec()))
    assert [(c.code, c.reason) for c in changes] == [("CAS105", "a.b is renamed c.b (id 1)")]
