"""The table step and the merge on their own, against a real SqlCatalog in a temp folder."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema, index_by_name
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import (
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
)

from cascade.runtime import BatchError, BranchError, TableMismatchError, merge_batch
from cascade.runtime.contract import TableContract
from cascade.runtime.table import prepare_table

IDENTIFIER = "raw.events"
START = datetime(2024, 1, 2, tzinfo=UTC)

# Key (device, at): a composite key with a timestamp in it.
SCHEMA = Schema(
    NestedField(1, "device", StringType(), required=True),
    NestedField(2, "at", TimestamptzType(), required=True),
    NestedField(3, "value", LongType(), required=False),
    NestedField(
        4, "labels", ListType(element_id=6, element_type=StringType(), element_required=False)
    ),
    NestedField(5, "_cascade_ingested_at", TimestamptzType(), required=True),
)
SPEC = PartitionSpec(
    PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="at_day")
)
KEY = ("device", "at")


def batch(*rows: tuple[str, int, int], schema: Schema = SCHEMA) -> pa.Table:
    """Rows (device, minutes after START, value) as a batch of `schema`."""
    return pa.Table.from_pylist(
        [
            {
                "device": device,
                "at": START + timedelta(minutes=minutes),
                "value": value,
                "labels": [f"v{value}"],
                "_cascade_ingested_at": START,
            }
            for device, minutes, value in rows
        ],
        schema=schema.as_arrow(),
    )


def content(catalog: Catalog, branch: str = "main") -> list[tuple[str, int, int]]:
    table = catalog.load_table(IDENTIFIER)
    data = table.scan(snapshot_id=table.snapshot_by_name(branch).snapshot_id).to_arrow()
    return sorted(
        (row["device"], int((row["at"] - START).total_seconds() // 60), row["value"])
        for row in data.to_pylist()
    )


def test_prepare_creates_namespace_and_table_with_the_generated_ids(catalog: Catalog) -> None:
    prepared = prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC))

    assert prepared.created
    assert index_by_name(prepared.table.schema()) == index_by_name(SCHEMA)
    assert prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC)).created is False


def test_prepare_lists_every_difference_of_an_existing_table(catalog: Catalog) -> None:
    catalog.create_namespace("raw")
    other = Schema(
        NestedField(1, "device", StringType(), required=False),
        NestedField(2, "at", TimestamptzType(), required=True),
        NestedField(3, "value", StringType(), required=False),
        NestedField(4, "labels", ListType(6, StringType(), element_required=False)),
        NestedField(5, "_cascade_ingested_at", TimestamptzType(), required=True),
    )
    identity = PartitionField(source_id=1, field_id=1000, transform=IdentityTransform(), name="d")
    table = catalog.create_table(IDENTIFIER, schema=other, partition_spec=PartitionSpec(identity))
    with table.update_schema() as update:
        update.add_column("retired", StringType())

    before = catalog.load_table(IDENTIFIER).metadata_location

    with pytest.raises(TableMismatchError) as raised:
        prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC))

    # Classified by id; the partitioning change alone would be safe (CAS106).
    assert str(raised.value).splitlines()[1:-1] == [
        "  CAS203 made-required: device becomes required, but rows written before may hold nulls"
        " (keep it optional and check for nulls in the Pandera model)",
        "  CAS202 type-changed: value: string -> long"
        " (add a column of the new type under a new name instead)",
        "  CAS201 column-dropped: retired (id 7) is dropped (keep the field (optional) or allow"
        " the drop)",
    ]
    assert "allow_breaking=('CAS203:device', 'CAS201:retired')" in str(raised.value)
    assert catalog.load_table(IDENTIFIER).metadata_location == before


def test_prepare_adds_optional_columns_with_the_ids_the_compiler_reserved(
    catalog: Catalog,
) -> None:
    catalog.create_namespace("raw")
    catalog.create_table(IDENTIFIER, schema=Schema(*SCHEMA.fields), partition_spec=SPEC)
    grown = Schema(
        *SCHEMA.fields,
        NestedField(7, "note", StringType(), required=False),
        NestedField(8, "origin", StructType(NestedField(9, "site", StringType())), required=False),
    )

    prepared = prepare_table(catalog, TableContract(IDENTIFIER, grown, SPEC))

    assert {c.subject for c in prepared.changes if c.code == "CAS101"} == {"note", "origin"}
    assert index_by_name(catalog.load_table(IDENTIFIER).schema()) == index_by_name(grown)


def test_prepare_refuses_a_new_required_column(catalog: Catalog) -> None:
    # Rows written before have no value for it (a table without rows could take it).
    prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC)).table.append(batch(("a", 0, 1)))
    grown = Schema(*SCHEMA.fields, NestedField(7, "note", StringType(), required=True))

    with pytest.raises(TableMismatchError, match=r"CAS204 .*add it as optional \(`X \| None`"):
        prepare_table(catalog, TableContract(IDENTIFIER, grown, SPEC))

    assert "note" not in catalog.load_table(IDENTIFIER).schema().column_names


def test_prepare_checks_ids_before_committing_an_evolution(catalog: Catalog) -> None:
    table = prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC)).table
    # The table used id 7 for a column since dropped: Iceberg never gives it again.
    with table.update_schema() as update:
        update.add_column("dropped", StringType())
    with table.update_schema() as update:
        update.delete_column("dropped")
    grown = Schema(*SCHEMA.fields[:4], NestedField(7, "note", StringType()), SCHEMA.fields[4])
    before = catalog.load_table(IDENTIFIER).metadata_location

    with pytest.raises(TableMismatchError, match="note: generated with id 7, not in the table"):
        prepare_table(catalog, TableContract(IDENTIFIER, grown, SPEC))

    assert catalog.load_table(IDENTIFIER).metadata_location == before


def test_merge_into_a_new_table_appends(catalog: Catalog) -> None:
    table = prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC)).table

    outcome = merge_batch(table, batch(("d1", 0, 1), ("d1", 1, 2)), KEY)

    assert (
        outcome.rows_inserted,
        outcome.rows_updated,
        outcome.rows_unchanged,
        outcome.rows_deleted,
    ) == (2, 0, 0, 0)
    assert outcome.snapshot_id == catalog.load_table(IDENTIFIER).current_snapshot().snapshot_id
    assert content(catalog) == [("d1", 0, 1), ("d1", 1, 2)]


def test_merge_on_a_timestamp_key_replaces_only_matching_rows(catalog: Catalog) -> None:
    table = prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC)).table
    merge_batch(table, batch(("d1", 0, 1), ("d1", 1, 2), ("d2", 0, 3)), KEY)

    outcome = merge_batch(table, batch(("d1", 1, 20), ("d2", 1, 4)), KEY)

    assert (
        outcome.rows_inserted,
        outcome.rows_updated,
        outcome.rows_unchanged,
        outcome.rows_deleted,
    ) == (1, 1, 0, 0)
    assert content(catalog) == [("d1", 0, 1), ("d1", 1, 20), ("d2", 0, 3), ("d2", 1, 4)]


def test_a_snapshot_lists_only_manifests_with_live_files_or_its_own_deletes(
    catalog: Catalog,
) -> None:
    """Each merge below rewrites the file of the one before, so the deleted entries it writes
    would pile up, one manifest per merge, if they were carried forward (pyiceberg 0.12 does
    carry them: `pyiceberg_compat.overwrite_files`). Iceberg's rule: a snapshot keeps the
    manifests with added or existing files, and the one of its own deletes."""
    table = prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC)).table
    snapshots = []
    for value in range(12):
        snapshots.append(merge_batch(table, batch(("d1", 0, value)), KEY).snapshot_id)

    table = catalog.load_table(IDENTIFIER)
    head = table.current_snapshot()
    manifests = head.manifests(table.io)
    assert sorted(
        (m.added_files_count, m.existing_files_count, m.deleted_files_count) for m in manifests
    ) == [(0, 0, 1), (1, 0, 0)]
    assert {m.added_snapshot_id for m in manifests} == {head.snapshot_id}
    # Earlier snapshots still list theirs: time travel reads each merge's row.
    for value, snapshot_id in enumerate(snapshots):
        rows = table.scan(snapshot_id=snapshot_id).to_arrow()
        assert rows.column("value").to_pylist() == [value]


def test_a_partition_value_too_long_for_a_folder_name_is_refused_naming_it(
    catalog: Catalog, tmp_path: Path
) -> None:
    """pyiceberg names an identity partition's folder `column=value`; past the file system's
    255 bytes the write fails, which no retry changes: a refusal, nothing written."""
    schema = Schema(
        NestedField(1, "id", StringType(), required=True),
        NestedField(2, "site", StringType(), required=False),
    )
    spec = PartitionSpec(
        PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="site")
    )
    table = prepare_table(catalog, TableContract("raw.sites", schema, spec, ("id",))).table
    rows = [{"id": "a", "site": "short"}]
    merge_batch(table, pa.Table.from_pylist(rows, schema=schema.as_arrow()), ("id",))
    before = catalog.load_table("raw.sites").metadata
    files_before = sorted(p for p in tmp_path.rglob("*.parquet"))

    long_rows = [{"id": "b", "site": "é" * 200}]
    with pytest.raises(BatchError) as refusal:
        merge_batch(table, pa.Table.from_pylist(long_rows, schema=schema.as_arrow()), ("id",))

    assert str(refusal.value).startswith(
        "site: a partition value of 200 characters makes a folder name the file system "
        f"refuses (File name too long): {'é' * 57 + '...'!r}; nothing was written."
    )
    after = catalog.load_table("raw.sites").metadata
    assert after.current_snapshot_id == before.current_snapshot_id
    assert sorted(p for p in tmp_path.rglob("*.parquet")) == files_before


def test_merge_creates_a_branch_in_the_same_commit(catalog: Catalog) -> None:
    table = prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC)).table
    merge_batch(table, batch(("d1", 0, 1)), KEY)
    before = catalog.load_table(IDENTIFIER).metadata

    outcome = merge_batch(table, batch(("d1", 0, 10), ("d1", 5, 2)), KEY, branch="dev")

    after = catalog.load_table(IDENTIFIER).metadata
    assert len(after.metadata_log) == len(before.metadata_log) + 1
    assert after.current_snapshot_id == before.current_snapshot_id
    assert after.refs["dev"].snapshot_id == outcome.snapshot_id
    assert (outcome.rows_inserted, outcome.rows_updated) == (1, 1)
    assert content(catalog, "dev") == [("d1", 0, 10), ("d1", 5, 2)]
    assert content(catalog, "main") == [("d1", 0, 1)]


def test_merge_refuses_a_branch_when_main_has_no_snapshot(catalog: Catalog) -> None:
    table = prepare_table(catalog, TableContract(IDENTIFIER, SCHEMA, SPEC)).table

    with pytest.raises(BranchError, match="main has no snapshot yet"):
        merge_batch(table, batch(("d1", 0, 1)), KEY, branch="dev")

    assert catalog.load_table(IDENTIFIER).metadata.snapshots == []
