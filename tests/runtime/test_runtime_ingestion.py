"""End-to-end loads through Dagster: a real dlt resource, a real SqlCatalog, real Iceberg files.

Each test builds an asset the way generated code does (an `@dg.asset` calling `run_ingestion`)
around a handwritten equivalent of a generated schema module.
"""

import functools
import glob
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import dagster as dg
import dlt
import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg
import pandera.polars
import pytest
from pandera.pandas import DataFrameModel, Field
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema, index_by_name
from pyiceberg.transforms import DayTransform
from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

from cascade.runtime import IcebergResource, IngestionConfig, run_ingestion
from cascade.runtime.contract import TableContract
from tests.helpers import failure_message, metadata_of
from tests.helpers import materialize as run_asset

IDENTIFIER = "raw.readings"
PARTITION = "2024-01-02"
# Every test loads into the catalog `cascade` (tests/conftest.py), as a deployment configures it.
pytestmark = pytest.mark.usefixtures("catalog")

# The equivalent of a generated schema module for the model `Reading` below.
SCHEMA = Schema(
    NestedField(1, "_id", StringType(), required=True),
    NestedField(2, "value", LongType(), required=True),
    NestedField(3, "taken_at", TimestamptzType(), required=True),
    NestedField(4, "note", StringType(), required=False),
    NestedField(5, "_dlt_load_id", StringType(), required=True),
    NestedField(6, "_dlt_id", StringType(), required=True),
    NestedField(7, "_cascade_ingested_at", TimestamptzType(), required=True),
)
PARTITION_SPEC = PartitionSpec(
    PartitionField(source_id=3, field_id=1000, transform=DayTransform(), name="taken_at_day")
)


class Reading(DataFrameModel):
    reading_id: str = Field(alias="_id", nullable=False, unique=True)
    value: int = Field(ge=0, le=1000)
    taken_at: datetime = Field()
    note: str | None = Field(nullable=True)


def reading(key: str, value: int, hour: int = 10, **extra: object) -> dict:
    # camelCase as an API would send it; dlt's naming convention makes it taken_at.
    return {"_id": key, "value": value, "takenAt": f"{PARTITION}T{hour:02}:00:00Z", **extra}


def rows_source(rows: list[dict], calls: list[str] | None = None):
    """An ingestion function whose resource yields `rows`, recording the partitions asked for."""

    def readings(partition_date: str):
        if calls is not None:
            calls.append(partition_date)
        return dlt.resource(rows, name="readings")

    return readings


def ingestion_asset(
    source,
    *,
    schema: Schema = SCHEMA,
    partition_spec: PartitionSpec = PARTITION_SPEC,
    unique_key: tuple[str, ...] = ("_id",),
    model: type[DataFrameModel] | None = Reading,
    identifier: str = IDENTIFIER,
    validate: bool = True,
    max_runtime_seconds: int = 300,
    retry_policy: dg.RetryPolicy | None = None,
    renamed_columns: dict[str, str] | None = None,
) -> dg.AssetsDefinition:
    @dg.asset(
        name="dlt_readings",
        partitions_def=dg.DailyPartitionsDefinition(start_date="2024-01-01"),
        retry_policy=retry_policy,
    )
    def dlt_readings(
        context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from run_ingestion(
            context,
            config=config,
            iceberg=iceberg,
            source=source,
            validation_schema=model,
            table=TableContract(
                identifier=identifier,
                schema=schema,
                partition_spec=partition_spec,
                unique_key=unique_key,
                renamed_columns=renamed_columns or {},
            ),
            validate=validate,
            max_runtime_seconds=max_runtime_seconds,
        )

    return dlt_readings


materialize = functools.partial(run_asset, partition=PARTITION)


def table_rows(catalog: Catalog, branch: str = "main", identifier: str = IDENTIFIER) -> list:
    table = catalog.load_table(identifier)
    snapshot = table.snapshot_by_name(branch)
    data = table.scan(snapshot_id=snapshot.snapshot_id).to_arrow()
    return sorted(data.select(["_id", "value", "note"]).to_pylist(), key=lambda row: row["_id"])


def test_first_load_creates_the_table_with_the_generated_field_ids(catalog: Catalog) -> None:
    calls: list[str] = []
    rows = [reading("a", 1), reading("b", 2, note="x"), reading("c", 3)]
    result = materialize(ingestion_asset(rows_source(rows, calls)))

    meta = metadata_of(result)
    assert calls == [PARTITION]
    assert ("raw",) in catalog.list_namespaces()
    table = catalog.load_table(IDENTIFIER)
    assert index_by_name(table.schema()) == index_by_name(SCHEMA)
    assert [f.required for f in table.schema().fields] == [f.required for f in SCHEMA.fields]
    assert table.spec().fields == PARTITION_SPEC.fields
    assert table.format_version == 2
    assert table_rows(catalog) == [
        {"_id": "a", "value": 1, "note": None},
        {"_id": "b", "value": 2, "note": "x"},
        {"_id": "c", "value": 3, "note": None},
    ]
    data = table.scan().to_arrow()
    assert data.column("taken_at")[0].as_py() == datetime.fromisoformat(f"{PARTITION}T10:00Z")
    [ingested_at] = data.column("_cascade_ingested_at").unique().to_pylist()
    assert ingested_at.utcoffset().total_seconds() == 0
    assert (
        meta["rows_inserted"],
        meta["rows_updated"],
        meta["rows_unchanged"],
        meta["rows_deleted"],
    ) == (3, 0, 0, 0)
    assert meta["rows_deduplicated"] == 0
    assert meta["branch"] == "main"
    assert meta["partition_date"] == meta["partition"] == PARTITION
    assert meta["table_name"] == IDENTIFIER
    assert meta["unique_key"] == "_id"
    assert meta["snapshot_id"] == str(table.current_snapshot().snapshot_id)
    assert meta["metadata_location"] == table.metadata_location
    assert meta["dagster/row_count"] == 3
    assert [column.name for column in meta["dagster/column_schema"].columns] == [
        field.name for field in SCHEMA.fields
    ]
    elapsed = ("dlt", "conform", "validate", "merge")
    for key in (f"{step}_elapsed_seconds" for step in elapsed):
        assert 0 <= meta[key] <= meta["total_elapsed_seconds"]


def test_an_independent_reader_sees_the_loaded_rows(catalog: Catalog, tmp_path: Path) -> None:
    materialize(ingestion_asset(rows_source([reading("a", 1), reading("b", 2)])))
    materialize(ingestion_asset(rows_source([reading("b", 20), reading("c", 3)])))

    connection = duckdb.connect(config={"extension_directory": str(tmp_path / "duckdb")})
    for package in (duckdb_extension_avro, duckdb_extension_iceberg):
        [path] = glob.glob(f"{Path(package.__file__).parent}/extensions/*/*.duckdb_extension")
        connection.execute(f"INSTALL '{path}'")
        connection.execute(f"LOAD {Path(path).stem}")
    location = catalog.load_table(IDENTIFIER).metadata_location
    query = f"SELECT _id, value FROM iceberg_scan('{location}') ORDER BY _id"
    assert connection.execute(query).fetchall() == [("a", 1), ("b", 20), ("c", 3)]


def test_rerunning_a_partition_leaves_the_same_rows(catalog: Catalog) -> None:
    asset = ingestion_asset(rows_source([reading("a", 1), reading("b", 2)]))
    materialize(asset)
    before = table_rows(catalog)

    meta = metadata_of(materialize(asset))

    assert table_rows(catalog) == before
    # The same rows again: nothing inserted, updated or deleted, although every row was
    # rewritten with the new load's _dlt_load_id and _cascade_ingested_at.
    assert (
        meta["rows_inserted"],
        meta["rows_updated"],
        meta["rows_unchanged"],
        meta["rows_deleted"],
    ) == (0, 0, 2, 0)
    assert meta["dagster/row_count"] == 2


def test_new_keys_insert_and_changed_rows_replace_in_one_commit(catalog: Catalog) -> None:
    materialize(ingestion_asset(rows_source([reading("a", 1), reading("b", 2), reading("c", 3)])))
    before = catalog.load_table(IDENTIFIER).metadata

    result = materialize(ingestion_asset(rows_source([reading("b", 20), reading("d", 4)])))

    meta = metadata_of(result)
    after = catalog.load_table(IDENTIFIER).metadata
    assert table_rows(catalog) == [
        {"_id": "a", "value": 1, "note": None},
        {"_id": "b", "value": 20, "note": None},
        {"_id": "c", "value": 3, "note": None},
        {"_id": "d", "value": 4, "note": None},
    ]
    assert (
        meta["rows_inserted"],
        meta["rows_updated"],
        meta["rows_unchanged"],
        meta["rows_deleted"],
    ) == (1, 1, 0, 0)
    assert meta["dagster/row_count"] == 4
    # One catalog commit (the metadata log grows by one file) and one snapshot: an overwrite
    # that replaces the touched data file and adds the new rows, on top of the previous head.
    assert len(after.metadata_log) == len(before.metadata_log) + 1
    [snapshot] = after.snapshots[len(before.snapshots) :]
    assert snapshot.summary.operation.value == "overwrite"
    assert snapshot.parent_snapshot_id == before.current_snapshot_id
    assert after.current_snapshot_id == snapshot.snapshot_id == int(meta["snapshot_id"])


def test_duplicate_keys_in_a_batch_keep_the_last_row(catalog: Catalog) -> None:
    rows = [reading("a", 1), reading("b", 2), reading("a", 3), reading("a", 4, note="last")]

    meta = metadata_of(materialize(ingestion_asset(rows_source(rows))))

    assert table_rows(catalog) == [
        {"_id": "a", "value": 4, "note": "last"},
        {"_id": "b", "value": 2, "note": None},
    ]
    assert meta["rows_deduplicated"] == 2
    assert meta["rows_inserted"] == 2


def test_composite_unique_key_replaces_exactly_the_matching_rows(catalog: Catalog) -> None:
    schema = Schema(
        NestedField(1, "device", StringType(), required=True),
        NestedField(2, "seq", LongType(), required=True),
        NestedField(3, "value", LongType(), required=True),
        NestedField(4, "_dlt_load_id", StringType(), required=True),
        NestedField(5, "_dlt_id", StringType(), required=True),
        NestedField(6, "_cascade_ingested_at", TimestamptzType(), required=True),
    )

    class DeviceReading(DataFrameModel):
        device: str
        seq: int
        value: int

    def asset(rows: list[tuple[str, int, int]]) -> dg.AssetsDefinition:
        dicts = [{"device": d, "seq": s, "value": v} for d, s, v in rows]
        return ingestion_asset(
            rows_source(dicts),
            schema=schema,
            partition_spec=PartitionSpec(),
            unique_key=("device", "seq"),
            model=DeviceReading,
            identifier="raw.device_readings",
        )

    materialize(asset([("d1", 1, 10), ("d1", 2, 20), ("d2", 1, 30), ("d2", 2, 40)]))
    # An `In` per key column would match all four existing rows; only two keys are in the batch.
    meta = metadata_of(materialize(asset([("d1", 1, 11), ("d2", 2, 41), ("d3", 1, 50)])))

    table = catalog.load_table("raw.device_readings")
    rows = table.scan(selected_fields=("device", "seq", "value")).to_arrow().to_pylist()
    assert sorted((row["device"], row["seq"], row["value"]) for row in rows) == [
        ("d1", 1, 11),
        ("d1", 2, 20),
        ("d2", 1, 30),
        ("d2", 2, 41),
        ("d3", 1, 50),
    ]
    assert (
        meta["rows_inserted"],
        meta["rows_updated"],
        meta["rows_unchanged"],
        meta["rows_deleted"],
    ) == (1, 2, 0, 0)
    assert meta["unique_key"] == "device,seq"


def test_a_pandera_failure_writes_nothing(catalog: Catalog) -> None:
    bad = ingestion_asset(rows_source([reading("a", 1), reading("b", 5000), reading("c", -1)]))
    instance = dg.DagsterInstance.ephemeral()

    first = materialize(bad, instance=instance)

    message = failure_message(first)
    assert "value: less_than_or_equal_to(1000) failed for 1 row(s): 5000" in message
    assert "value: greater_than_or_equal_to(0) failed for 1 row(s): -1" in message
    assert first.failure_data_for_node("dlt_readings").user_failure_data.description in message
    logged = [entry.user_message for entry in instance.all_logs(first.run_id)]
    assert any("less_than_or_equal_to(1000) failed for 1 row(s): 5000" in m for m in logged)
    assert not catalog.table_exists(IDENTIFIER)

    materialize(ingestion_asset(rows_source([reading("a", 1)])))
    before = catalog.load_table(IDENTIFIER).metadata
    assert not materialize(bad).success
    after = catalog.load_table(IDENTIFIER).metadata
    assert after.current_snapshot_id == before.current_snapshot_id
    assert after.metadata_log == before.metadata_log
    assert table_rows(catalog) == [{"_id": "a", "value": 1, "note": None}]


class PolarsReading(pandera.polars.DataFrameModel):
    reading_id: str = pandera.polars.Field(alias="_id", unique=True)
    value: int = pandera.polars.Field(ge=0, le=1000)
    taken_at: datetime
    note: str | None = pandera.polars.Field(nullable=True)


def test_a_polars_model_validates_the_batch_as_polars(catalog: Catalog) -> None:
    bad = ingestion_asset(
        rows_source([reading("a", 1), reading("b", 5000), reading("c", -1)]), model=PolarsReading
    )

    message = failure_message(materialize(bad))

    assert "PolarsReading rejected the batch for raw.readings; nothing was written." in message
    assert "value: less_than_or_equal_to(1000) failed for 1 row(s): 5000" in message
    assert "value: greater_than_or_equal_to(0) failed for 1 row(s): -1" in message
    assert not catalog.table_exists(IDENTIFIER)

    good = rows_source([reading("a", 1), reading("b", 2, note="x")])
    assert (
        metadata_of(materialize(ingestion_asset(good, model=PolarsReading)))["rows_inserted"] == 2
    )


@pytest.mark.parametrize(
    "skip", [{"model": None}, {"validate": False}], ids=["no validation_schema", "validate=False"]
)
def test_without_validation_rows_the_model_would_reject_load(catalog: Catalog, skip: dict) -> None:
    rows = [reading("a", 1), reading("b", 5000)]
    instance = dg.DagsterInstance.ephemeral()

    result = materialize(ingestion_asset(rows_source(rows), **skip), instance=instance)

    assert metadata_of(result)["rows_inserted"] == 2
    assert [row["value"] for row in table_rows(catalog)] == [1, 5000]
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any(message.startswith("No Pandera validation for this table") for message in logged)


def test_keys_the_table_does_not_have_are_dropped_counted_and_logged(catalog: Catalog) -> None:
    rows = [
        reading("a", 1, tags=["x", "y"], meta={"source": "cgm"}),
        reading("b", 2, tags=[]),
    ]
    instance = dg.DagsterInstance.ephemeral()

    result = materialize(ingestion_asset(rows_source(rows)), instance=instance)

    meta = metadata_of(result)
    assert [row["_id"] for row in table_rows(catalog)] == ["a", "b"]
    assert meta["rows_inserted"] == 2
    # No child tables: a list or object the schema has no column for is a dropped key.
    assert meta["rows_dropped_columns"] == 2
    [warning] = [
        entry.user_message
        for entry in instance.all_logs(result.run_id)
        if entry.user_message.startswith("Dropped ")
    ]
    assert warning == (
        "Dropped 2 key(s) the table schema does not have: meta (1 record(s)), "
        "tags (2 record(s)). To keep them, declare them in the model; to drop them without "
        "this warning, add ignored_keys=('meta', 'tags') to the ingestion's decorator."
    )


def test_keys_inside_a_flattened_object_are_reported_by_their_dotted_path(
    catalog: Catalog,
) -> None:
    schema = Schema(
        *SCHEMA.fields[:4],
        NestedField(8, "meta__device", StringType(), required=False),
        *SCHEMA.fields[4:],
    )
    rows = [reading("a", 1, meta={"device": "g7", "source": "cgm"}), reading("b", 2, meta=None)]
    instance = dg.DagsterInstance.ephemeral()

    result = materialize(ingestion_asset(rows_source(rows), schema=schema), instance=instance)

    table = catalog.load_table(IDENTIFIER)
    devices = table.scan(selected_fields=("_id", "meta__device")).to_arrow().to_pylist()
    assert sorted(devices, key=lambda row: row["_id"]) == [
        {"_id": "a", "meta__device": "g7"},
        {"_id": "b", "meta__device": None},
    ]
    assert metadata_of(result)["rows_dropped_columns"] == 1
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert (
        "Dropped 1 key(s) the table schema does not have: meta.source (1 record(s)). "
        "To keep them, declare them in the model; to drop them without this warning, "
        "add ignored_keys=('meta.source',) to the ingestion's decorator."
    ) in logged


def test_a_missing_required_column_fails_clearly(catalog: Catalog) -> None:
    rows = [{"_id": "a", "takenAt": f"{PARTITION}T10:00:00Z"}]

    result = materialize(ingestion_asset(rows_source(rows)))

    assert result.failure_data_for_node("dlt_readings").user_failure_data.description == (
        "The records for raw.readings do not fit its schema; nothing was written.\n"
        "  value: 1 row(s) are null or absent, but the column is required"
    )
    assert not catalog.table_exists(IDENTIFIER)


def test_a_value_that_does_not_fit_fails_instead_of_vanishing(catalog: Catalog) -> None:
    rows = [reading("a", 1), reading("b", 2), {**reading("c", 3), "value": "three"}]

    result = materialize(ingestion_asset(rows_source(rows)))

    failure = result.failure_data_for_node("dlt_readings").user_failure_data
    assert failure.description == (
        "The records for raw.readings do not fit its schema; nothing was written.\n"
        "  value: 1 value(s) do not fit long: 'three' (not an integer)"
    )
    assert not catalog.table_exists(IDENTIFIER)


@pytest.mark.parametrize("returned", ["none", "empty resource"])
def test_no_data_is_reported_without_touching_the_catalog(catalog: Catalog, returned: str) -> None:
    def source(partition_date: str):
        return None if returned == "none" else dlt.resource([], name="readings")

    meta = metadata_of(materialize(ingestion_asset(source)))

    assert meta == {
        "status": "no_data",
        "branch": "main",
        "partition_date": PARTITION,
        "partition": PARTITION,
        "table_name": IDENTIFIER,
    }
    assert not catalog.table_exists(IDENTIFIER)


def test_a_branch_run_writes_the_branch_and_main_does_not_move(catalog: Catalog) -> None:
    materialize(ingestion_asset(rows_source([reading("a", 1), reading("b", 2)])))
    main_before = catalog.load_table(IDENTIFIER).metadata.current_snapshot_id
    changes = ingestion_asset(rows_source([reading("b", 20), reading("c", 3)]))

    meta = metadata_of(materialize(changes, tags={"branch": "dev"}))

    table = catalog.load_table(IDENTIFIER)
    assert table.metadata.current_snapshot_id == main_before
    assert [row["value"] for row in table_rows(catalog, "main")] == [1, 2]
    assert [row["value"] for row in table_rows(catalog, "dev")] == [1, 20, 3]
    assert meta["branch"] == "dev"
    assert meta["snapshot_id"] == str(table.snapshot_by_name("dev").snapshot_id)
    assert meta["dagster/row_count"] == 3
    assert (meta["rows_inserted"], meta["rows_updated"]) == (1, 1)

    # The run config names the branch when no tag does; the tag wins over it.
    config = {"ops": {"dlt_readings": {"config": {"branch_name": "staging"}}}}
    assert metadata_of(materialize(changes, run_config=config))["branch"] == "staging"
    tagged = materialize(changes, run_config=config, tags={"branch": "dev"})
    assert metadata_of(tagged)["branch"] == "dev"
    assert catalog.load_table(IDENTIFIER).metadata.current_snapshot_id == main_before


def test_a_branch_of_a_missing_table_is_refused_before_creating_it(catalog: Catalog) -> None:
    result = materialize(ingestion_asset(rows_source([reading("a", 1)])), tags={"branch": "dev"})

    assert "Cannot write branch 'dev': raw.readings does not exist yet" in failure_message(result)
    assert not catalog.table_exists(IDENTIFIER)


@pytest.mark.parametrize(
    ("branch", "rule"),
    [
        ("", "it is empty"),
        (" dev", "whitespace"),
        ("a..b", "'..'"),
        ("dev/", "ends with '/'"),
        ("dev.lock", "'.lock'"),
        ("HEAD", "reserved"),
    ],
)
@pytest.mark.parametrize("given_by", ["tag", "config"])
def test_an_invalid_branch_name_is_refused_before_anything_runs(
    catalog: Catalog, branch: str, rule: str, given_by: str
) -> None:
    calls: list[str] = []
    asset = ingestion_asset(rows_source([reading("a", 1)], calls))
    if given_by == "tag":
        result = materialize(asset, tags={"branch": branch})
    else:
        config = {"ops": {"dlt_readings": {"config": {"branch_name": branch}}}}
        result = materialize(asset, run_config=config)

    message = failure_message(result)
    assert f"{branch!r} is not a valid branch name: " in message
    assert rule in message
    assert calls == []  # the source never ran
    assert catalog.list_namespaces() == []


def test_a_table_with_other_field_ids_is_refused(catalog: Catalog) -> None:
    catalog.create_namespace("raw")
    # The same columns, created in another order: pyiceberg numbers them as they come.
    fields = [SCHEMA.find_field(name) for name in ("value", "_id", "taken_at", "note")]
    fields += SCHEMA.fields[4:]
    catalog.create_table(IDENTIFIER, schema=Schema(*fields), partition_spec=PARTITION_SPEC)

    message = failure_message(materialize(ingestion_asset(rows_source([reading("a", 1)]))))

    assert "Table raw.readings was not created by Cascade" in message
    assert "cascade adopt raw.readings" in message
    assert "_id: id 2 in the table, 1 generated" in message
    assert "value: id 1 in the table, 2 generated" in message
    assert catalog.load_table(IDENTIFIER).current_snapshot() is None


def test_a_load_past_max_runtime_is_stopped_and_writes_nothing(catalog: Catalog):
    def stalled(partition_date: str):
        @dlt.resource(name="readings")
        def readings():
            yield reading("a", 1)
            time.sleep(60)  # a source that stops answering
            yield reading("b", 2)

        return readings()

    started = time.monotonic()
    result = materialize(ingestion_asset(stalled, max_runtime_seconds=2))
    assert time.monotonic() - started < 30
    message = failure_message(result)
    assert "exceeded max_runtime_seconds=2" in message
    assert "nothing was written" in message
    assert not catalog.table_exists(IDENTIFIER)


RETRY = dg.RetryPolicy(max_retries=3, delay=0)


def step_attempts(result: dg.ExecuteInProcessResult) -> tuple[int, int]:
    """How many times the run's step was started, and how many of them were retries."""
    types = [event.event_type for event in result.all_events]
    started = types.count(dg.DagsterEventType.STEP_START)
    restarted = types.count(dg.DagsterEventType.STEP_RESTARTED)
    return started + restarted, types.count(dg.DagsterEventType.STEP_UP_FOR_RETRY)


class Unbuildable(DataFrameModel):
    value: int

    @pandera.pandas.check("valeu")  # a typo: Pandera refuses to build the model
    def positive(cls, series):
        return series > 0


class ParserRaises(DataFrameModel):
    value: int

    @pandera.pandas.parser("value")
    def clip(cls, series):
        raise ValueError("cannot clip")


@pytest.mark.parametrize(
    ("model", "what", "reason"),
    [
        (
            Unbuildable,
            "cannot be built",
            "SchemaInitError: Check positive is assigned to a non-existing field 'valeu'",
        ),
        (ParserRaises, "cannot run on the batch", "ValueError: cannot clip"),
    ],
)
def test_a_model_pandera_cannot_run_fails_once_without_retries(
    catalog: Catalog, model: type[DataFrameModel], what: str, reason: str
) -> None:
    calls: list[str] = []
    asset = ingestion_asset(rows_source([reading("a", 1)], calls), model=model, retry_policy=RETRY)

    result = materialize(asset)

    assert not result.success
    assert step_attempts(result) == (1, 0)
    assert calls == [PARTITION]
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_failure_data.error.cls_name == "ModelError"  # allow_retries=False
    message = failure_message(result)
    assert f"The Pandera model {model.__module__}.{model.__qualname__} {what}" in message
    assert reason in message
    assert not catalog.table_exists(IDENTIFIER)


def flaky_source(calls: list[str], *, in_the_resource: bool):
    """An ingestion function whose first call fails with ConnectionError: when it is called, or
    while dlt runs its resource."""

    def readings(partition_date: str):
        calls.append(partition_date)
        first = len(calls) == 1
        if first and not in_the_resource:
            raise ConnectionError("connection reset by peer")

        @dlt.resource(name="readings")
        def rows():
            if first:
                raise ConnectionError("connection reset by peer")
            yield reading("a", 1)

        return rows()

    return readings


@pytest.mark.parametrize("in_the_resource", [False, True])
def test_a_network_error_is_retried_by_the_policy_and_the_retry_loads(
    catalog: Catalog, in_the_resource: bool
) -> None:
    calls: list[str] = []
    asset = ingestion_asset(
        flaky_source(calls, in_the_resource=in_the_resource), retry_policy=RETRY
    )

    result = materialize(asset)

    assert result.success, failure_message(result)
    assert step_attempts(result) == (2, 1)
    assert calls == [PARTITION, PARTITION]
    assert table_rows(catalog) == [{"_id": "a", "value": 1, "note": None}]


@pytest.mark.parametrize("when", ["called", "extracted"])
def test_a_missing_dlt_secret_fails_once_without_retries(catalog: Catalog, when: str) -> None:
    @dlt.source(name="cascade_test_readings")
    def with_a_secret(api_key: str = dlt.secrets.value):
        return dlt.resource([reading("a", 1)], name="readings")

    @dlt.resource(name="readings")
    def resource_with_a_secret(api_key: str = dlt.secrets.value):
        yield reading("a", 1)

    def readings(partition_date: str):
        # A source asks for its secrets when called; a resource's generator when dlt runs it.
        return with_a_secret() if when == "called" else resource_with_a_secret

    result = materialize(ingestion_asset(readings, retry_policy=RETRY))

    assert step_attempts(result) == (1, 0)
    message = failure_message(result)
    assert "The dlt source for raw.readings is missing configuration" in message
    assert "api_key" in message
    assert not catalog.table_exists(IDENTIFIER)


def test_a_source_still_sending_a_renamed_columns_old_key_keeps_its_value(
    catalog: Catalog,
) -> None:
    # The model renamed `remark` to `note` (renamed_from); the source was not changed. A rerun
    # must not set the stored notes to null: the old key fills the renamed column.
    asset = ingestion_asset(rows_source([reading("a", 1, note="first")]))
    assert materialize(asset).success
    renamed = ingestion_asset(
        rows_source([reading("a", 1, remark="still sent as remark")]),
        renamed_columns={"remark": "note"},
    )
    result = materialize(renamed)
    assert result.success, failure_message(result)
    assert metadata_of(result)["rows_dropped_columns"] == 0
    rows = catalog.load_table(IDENTIFIER).scan().to_arrow().to_pylist()
    assert [(r["_id"], r["note"]) for r in rows] == [("a", "still sent as remark")]
