"""Staging through a real dlt pipeline: which resource is run, the values it stages, refusals,
and the working folder."""

import logging
import math
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import dlt
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import (
    DoubleType,
    ListType,
    LongType,
    NestedField,
    StringType,
    StructType,
    TimestamptzType,
)

from cascade.runtime import BatchError, SourceError
from cascade.runtime.staging import stage

IDENTIFIER = "raw.things"
LOAD_COLUMNS = (
    NestedField(90, "_dlt_load_id", StringType(), required=True),
    NestedField(91, "_dlt_id", StringType(), required=True),
    NestedField(92, "_cascade_ingested_at", TimestamptzType(), required=True),
)
SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "some_value", StringType(), required=False),
    NestedField(3, "tags", ListType(4, StringType(), element_required=False), required=False),
    *LOAD_COLUMNS,
)


@pytest.fixture(autouse=True)
def temp_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path


@dlt.source
def two_resources():
    @dlt.resource(name="things")
    def things():
        yield [{"id": 1, "someValue": "5"}, {"id": 2, "someValue": "6", "tags": ["a"]}]

    @dlt.resource(name="other")
    def other():
        raise AssertionError("only the root resource may run")
        yield

    return things, other


def test_the_resource_named_like_the_table_is_staged(temp_and_home: Path) -> None:
    staged = stage(two_resources(), IDENTIFIER, SCHEMA)

    rows = staged.rows
    assert rows.column_names == ["id", "some_value", "tags", "_dlt_load_id", "_dlt_id"]
    assert rows.column("id").to_pylist() == [1, 2]
    assert rows.column("some_value").to_pylist() == ["5", "6"]
    assert rows.column("tags").to_pylist() == [None, ["a"]]
    assert staged.dropped_keys == {}
    # The work folder is gone and nothing was written to the home folder.
    assert list((temp_and_home / "tmp").iterdir()) == []
    assert not (temp_and_home / "home").exists()


def test_a_single_selected_resource_is_the_root_whatever_its_name() -> None:
    rows = stage(two_resources().with_resources("things"), "raw.readings", SCHEMA).rows

    assert rows.column_names[:2] == ["id", "some_value"]
    assert rows.num_rows == 2


def test_a_source_without_a_clear_root_is_refused() -> None:
    with pytest.raises(SourceError, match=r"2 selected resources \(other, things\)"):
        stage(two_resources(), "raw.readings", SCHEMA)


def test_something_else_than_dlt_is_refused() -> None:
    with pytest.raises(SourceError, match="returned list; it must return a dlt source"):
        stage([{"id": 1}], "raw.readings", SCHEMA)


def test_a_resource_without_rows_stages_nothing() -> None:
    assert stage(dlt.resource([], name="things"), IDENTIFIER, SCHEMA) is None


def test_values_are_staged_by_cascades_rules_not_dlts() -> None:
    # dlt's own normalizer would null NaN and the infinities, write `[]` like null, and let a
    # resource's column hint decide the type; the converter decides instead.
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "ratio", DoubleType(), required=False),
        NestedField(3, "tags", ListType(4, StringType(), element_required=False)),
        *LOAD_COLUMNS,
    )
    rows = [
        {"id": 1, "ratio": math.nan, "tags": []},
        {"id": 2, "ratio": -math.inf, "tags": None},
        {"id": 3, "ratio": -0.0},
    ]
    resource = dlt.resource(rows, name="things", columns={"id": {"data_type": "text"}})

    staged = stage(resource, IDENTIFIER, schema)

    assert staged.rows.schema.field("id").type == pa.int64()
    ratios = staged.rows.column("ratio").to_pylist()
    assert math.isnan(ratios[0]) and ratios[1] == -math.inf
    assert math.copysign(1, ratios[2]) == -1
    assert staged.rows.column("tags").to_pylist() == [[], None, None]


def test_nested_objects_stage_as_structs_and_unknown_keys_are_reported() -> None:
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(
            2,
            "origin",
            StructType(NestedField(3, "site_name", StringType(), required=True)),
            required=False,
        ),
        *LOAD_COLUMNS,
    )
    rows = [
        {"id": 1, "origin": {"siteName": "x", "weird key": 2}, "extra": True},
        {"id": 2, "origin": None, "extra": None},
    ]

    staged = stage(dlt.resource(rows, name="things"), IDENTIFIER, schema)

    assert staged.rows.column("origin").to_pylist() == [{"site_name": "x"}, None]
    assert staged.dropped_keys == {"origin.weird key": 1, "extra": 2}


def test_values_that_do_not_fit_refuse_the_load_naming_each_column() -> None:
    rows = [
        {"id": "one", "someValue": 5},
        {"id": 2, "some_value": True, "someValue": "x"},
        {"tags": "a"},
    ]

    with pytest.raises(BatchError) as raised:
        stage(dlt.resource(rows, name="things"), IDENTIFIER, SCHEMA)

    assert str(raised.value).splitlines() == [
        "The records for raw.things do not fit its schema; nothing was written.",
        "  id: 1 row(s) are null or absent, but the column is required",
        "  id: 1 value(s) do not fit long: 'one' (not an integer)",
        "  some_value: 1 record(s) hold both 'someValue' and 'some_value', which both become "
        "this column through dlt's naming convention: which one is meant is unknown",
        "  some_value: 1 value(s) do not fit string: 5 (an int, not text)",
        "  tags: 1 value(s) do not fit list<string>: 'a' (not a list)",
    ]
    assert raised.value.metadata["refused_columns"].value == 5
    assert raised.value.allow_retries is False


def test_a_refusal_in_a_later_page_refuses_the_whole_load() -> None:
    @dlt.resource(name="things")
    def pages():
        yield [{"id": 1}, {"id": 2}]
        yield [{"id": 3}, {"id": None}]

    with pytest.raises(BatchError, match="id: 1 row\\(s\\) are null or absent"):
        stage(pages(), IDENTIFIER, SCHEMA)


@pytest.mark.parametrize(
    "page",
    [
        pa.table({"id": [1, 2], "someValue": ["a", None]}),
        pd.DataFrame({"id": [1, 2], "someValue": ["a", None]}),
        pl.DataFrame({"id": [1, 2], "someValue": ["a", None]}),
    ],
    ids=lambda page: type(page).__module__.split(".")[0],
)
def test_a_resource_yielding_frames_gets_dlt_lineage_columns(page: object) -> None:
    @dlt.resource(name="readings")
    def readings():
        yield page

    staged = stage(readings(), "raw.readings", SCHEMA)

    assert staged is not None
    rows = staged.rows.to_pylist()
    assert [(r["id"], r["some_value"]) for r in rows] == [(1, "a"), (2, None)]
    assert all(r["_dlt_load_id"] and r["_dlt_id"] for r in rows)
    assert len({r["_dlt_id"] for r in rows}) == 2


def test_the_users_resource_is_left_as_it_was() -> None:
    # The conversion step and the hints go on a copy: a module may hand out the same resource
    # again, and staging it twice gives the same rows.
    resource = dlt.resource([{"id": 1}], name="things", write_disposition="merge")
    steps = list(resource._pipe.steps)

    first = stage(resource, IDENTIFIER, SCHEMA)
    second = stage(resource, IDENTIFIER, SCHEMA)

    assert first.rows.column("id").to_pylist() == second.rows.column("id").to_pylist() == [1]
    assert resource._pipe.steps == steps
    assert resource.write_disposition == "merge"


@pytest.mark.parametrize("built_by", ["records", "the resource's own Arrow table"])
def test_an_aware_datetime_is_staged_as_its_utc_instant(
    monkeypatch: pytest.MonkeyPatch, built_by: str
) -> None:
    # Importing Pandera sets PYARROW_IGNORE_TIMEZONE=1 (for pyspark), and pyarrow then reads a
    # zoned datetime's wall time as UTC: 10:00+01:00 would be staged as 10:00Z.
    monkeypatch.setenv("PYARROW_IGNORE_TIMEZONE", "1")
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "at", TimestamptzType(), required=False),
        *LOAD_COLUMNS,
    )
    at = datetime(2024, 1, 2, 10, tzinfo=timezone(timedelta(hours=1)))

    @dlt.resource(name="things")
    def things():
        rows = [{"id": 1, "at": at}]
        yield rows if built_by == "records" else pa.Table.from_pylist(rows)

    staged = stage(things(), IDENTIFIER, schema)

    assert staged.rows.column("at").to_pylist() == [datetime(2024, 1, 2, 9, tzinfo=UTC)]


def test_rows_keep_the_order_the_resource_yielded_them_across_staged_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # dlt splits the load into files listed in no particular order; "the last row of a
    # repeated key wins" needs the resource's order back.
    monkeypatch.setenv("NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS", "2500")
    schema = Schema(NestedField(1, "id", LongType(), required=True), *LOAD_COLUMNS)
    pages = [[{"id": page * 1000 + i} for i in range(1000)] for page in range(12)]

    staged = stage(dlt.resource(pages, name="things"), IDENTIFIER, schema)

    assert staged.rows.column("id").to_pylist() == list(range(12_000))
    assert "_cascade_position" not in staged.rows.column_names


def test_the_resources_own_keys_do_not_make_dlt_warn() -> None:
    # dlt marks primary-key columns non-null and warned that Cascade's Arrow pages differ; the
    # merge key is Cascade's unique key, so the resource's keys are not staging hints. dlt's
    # logger does not propagate, so its records are collected at the logger itself.
    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    collect = Collect()
    resource = dlt.resource([{"id": 1}, {"id": 2}], name="things", primary_key="id")
    logging.getLogger("dlt").addHandler(collect)
    try:
        staged = stage(resource, IDENTIFIER, SCHEMA)
    finally:
        logging.getLogger("dlt").removeHandler(collect)
    assert staged is not None and staged.rows.column("id").to_pylist() == [1, 2]
    assert [m for m in collect.messages if "hints were different" in m] == []
