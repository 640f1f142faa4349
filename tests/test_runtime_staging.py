"""Staging through a real dlt pipeline: which resource is run, hints, and the working folder."""

import tempfile
from pathlib import Path

import dlt
import pytest

from cascade.runtime import SourceError
from cascade.runtime.staging import stage

HINTS = {"id": {"data_type": "text"}, "some_value": {"data_type": "bigint"}}


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


def test_the_resource_named_like_the_table_is_staged_with_the_hints(temp_and_home: Path) -> None:
    rows = stage(two_resources(), "things", HINTS).rows

    assert rows.column("id").to_pylist() == ["1", "2"]
    assert rows.column("some_value").to_pylist() == [5, 6]
    # The work folder is gone and nothing was written to the home folder.
    assert list((temp_and_home / "tmp").iterdir()) == []
    assert not (temp_and_home / "home").exists()


def test_a_single_selected_resource_is_the_root_whatever_its_name() -> None:
    rows = stage(two_resources().with_resources("things"), "readings", HINTS).rows

    assert rows.column_names[:2] == ["id", "some_value"]
    assert rows.num_rows == 2


def test_a_source_without_a_clear_root_is_refused() -> None:
    with pytest.raises(SourceError, match=r"2 selected resources \(other, things\)"):
        stage(two_resources(), "readings", HINTS)


def test_something_else_than_dlt_is_refused() -> None:
    with pytest.raises(SourceError, match="returned list; it must return a dlt source"):
        stage([{"id": 1}], "readings", HINTS)


def test_a_resource_without_rows_stages_nothing() -> None:
    assert stage(dlt.resource([], name="things"), "things", HINTS) is None


def test_json_hinted_columns_stay_in_the_row_as_json_text() -> None:
    # What the runtime's nested conversion starts from: dlt writes each value as JSON text and
    # leaves the keys inside as the source sent them; only column names are normalised.
    rows = [{"id": 1, "tags": ["a"], "origin": {"siteName": "x", "weird key": 2}}]
    hints = {"tags": {"data_type": "json"}, "origin": {"data_type": "json"}}

    staged = stage(dlt.resource(rows, name="things"), "things", hints)

    assert staged.rows.column("tags").to_pylist() == ['["a"]']
    assert staged.rows.column("origin").to_pylist() == ['{"siteName":"x","weird key":2}']
    assert staged.normalize_key("siteName") == "site_name"


def test_a_resource_yielding_arrow_tables_gets_dlt_lineage_columns() -> None:
    import pyarrow as pa

    @dlt.resource(name="readings")
    def readings():
        yield pa.table({"reading_id": ["a", "b"], "value": [1, 2]})

    staged = stage(readings(), "readings", {})

    assert staged is not None
    rows = staged.rows.to_pylist()
    assert [r["reading_id"] for r in rows] == ["a", "b"]
    assert all(r["_dlt_load_id"] and r["_dlt_id"] for r in rows)
    assert len({r["_dlt_id"] for r in rows}) == 2
