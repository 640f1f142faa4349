"""`ChunkedValidation`: a batch checked chunk by chunk refuses what `validate_batch` refuses on
the whole batch, with the same lines, for Pandera's pandas API and its polars API."""

from types import ModuleType

import numpy as np
import pandera.pandas
import pandera.polars
import pyarrow as pa
import pytest

from cascade.runtime import ValidationFailed
from cascade.runtime.validation import ChunkedValidation, validate_batch

APIS = [pandera.pandas, pandera.polars]
NAN = float("nan")


def api_id(api: ModuleType) -> str:
    return api.__name__.rsplit(".", 1)[-1]


def whole_lines(batch: pa.Table, model: type) -> list[str]:
    try:
        validate_batch(batch, model, "raw.t")
    except ValidationFailed as failure:
        return str(failure).splitlines()[1:]
    return []


def chunked_lines(
    batch: pa.Table, model: type, rows: int, unique_key: tuple[str, ...] = ("id",)
) -> list[str]:
    validation = ChunkedValidation(model, "raw.t", unique_key)
    for start in range(0, batch.num_rows, rows):
        chunk = batch.slice(start, rows)
        validation.add(chunk, np.arange(start, start + chunk.num_rows))
    try:
        validation.finish()
    except ValidationFailed as failure:
        lines = str(failure).splitlines()
        assert lines[0] == f"{model.__name__} rejected the batch for raw.t; nothing was written."
        assert failure.metadata["failed_checks"].value == len(lines) - 1
        return lines[1:]
    return []


def contacts(api: ModuleType) -> type:
    class Contacts(api.DataFrameModel):
        id: int = api.Field(unique=True)
        email: str | None = api.Field(nullable=True, unique=True)
        score: float | None = api.Field(nullable=True, ge=0, le=100)
        name: str = api.Field(str_startswith="n-")
        tier: str | None = api.Field(nullable=True, isin=["a", "b"])

    return Contacts


def contacts_batch() -> pa.Table:
    n = 23
    emails = [f"{i}@x" for i in range(n)]
    emails[1] = emails[20] = "same@x"  # in the first and the last chunk of 7
    emails[5] = emails[9] = None  # nulls repeat too
    scores = [float(i) for i in range(n)]
    scores[3], scores[11], scores[22] = 101.0, NAN, -1.0
    names = [f"n-{i}" for i in range(n)]
    names[8] = "x-8"
    tiers = ["a", "b", None, "c"] * 5 + ["a", "a", "z"]
    return pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "email": emails,
            "score": pa.array(scores, pa.float64()),
            "name": names,
            "tier": tiers,
        }
    )


@pytest.mark.parametrize("rows", [1, 4, 7, 23, 100])
@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_chunks_refuse_with_the_lines_of_the_whole_batch(api: ModuleType, rows: int) -> None:
    batch, model = contacts_batch(), contacts(api)
    expected = whole_lines(batch, model)

    assert "email: field_uniqueness failed for 4 row(s): 'same@x', None, None, 'same@x'" in expected
    assert sorted(chunked_lines(batch, model, rows)) == sorted(expected)


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_uniqueness_the_key_guarantees_is_not_gathered(api: ModuleType) -> None:
    class Visits(api.DataFrameModel):
        user: str
        day: int
        note: str | None = api.Field(nullable=True, unique=True)

        class Config:
            unique = ["user", "day"]

    # A key within the group makes its rows unique; the key's only column is unique.
    assert ChunkedValidation(Visits, "raw.t", ("user", "day")).whole_columns == ["note"]
    assert ChunkedValidation(Visits, "raw.t", ("user",)).whole_columns == ["note"]
    assert ChunkedValidation(Visits, "raw.t", ("note",)).whole_columns == ["user", "day"]
    assert ChunkedValidation(contacts(api), "raw.t", ("id",)).whole_columns == ["email"]
    assert ChunkedValidation(contacts(api), "raw.t", ("id", "name")).whole_columns == [
        "id",
        "email",
    ]


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_model_wide_uniqueness_across_chunks(api: ModuleType) -> None:
    class Visits(api.DataFrameModel):
        id: int
        user: str | None = api.Field(nullable=True)
        day: int | None = api.Field(nullable=True)

        class Config:
            unique = ["user", "day"]

    batch = pa.table(
        {
            "id": pa.array(range(6), pa.int64()),
            "user": ["u", "v", None, "w", None, "u"],
            "day": pa.array([1, 2, None, 3, None, 1], pa.int64()),
        }
    )
    expected = whole_lines(batch, Visits)

    assert expected == [
        "user, day: multiple_fields_uniqueness failed for 4 row(s): "
        "('u', 1), (None, None), (None, None), ('u', 1)"
    ]
    assert chunked_lines(batch, Visits, 2) == expected


def test_a_vectorized_check_of_the_models_own_sees_the_whole_column() -> None:
    class Small(pandera.pandas.DataFrameModel):
        id: int
        value: int = pandera.pandas.Field(ge=0)

        @pandera.pandas.check("value")
        def total_below_100(cls, values):
            return values.sum() < 100

        @pandera.pandas.check("value", element_wise=True)
        def not_13(cls, value):
            return value != 13

    batch = pa.table({"id": pa.array(range(12), pa.int64()), "value": pa.array([10] * 12)})
    validation = ChunkedValidation(Small, "raw.t", ("id",))
    assert validation.whole_columns == ["value"]

    assert (
        chunked_lines(batch, Small, 5)
        == whole_lines(batch, Small)
        == ["value: total_below_100 failed: False"]
    )
    batch = pa.table({"id": pa.array(range(3), pa.int64()), "value": pa.array([13, 1, 13])})
    assert chunked_lines(batch, Small, 1) == ["value: not_13 failed for 2 row(s): 13, 13"]


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_a_frame_wide_check_validates_the_whole_batch(api: ModuleType) -> None:
    class Pairs(api.DataFrameModel):
        id: int
        a: int
        b: int

        @api.dataframe_check
        def a_below_b_somewhere(cls, frame):
            if api is pandera.polars:
                import polars

                return frame.lazyframe.select((polars.col("a") < polars.col("b")).any())
            return bool((frame["a"] < frame["b"]).any())

    validation = ChunkedValidation(Pairs, "raw.t", ("id",))
    assert validation.whole_batch
    # Only the last chunk of 2 holds a row with a < b: the batch passes.
    batch = pa.table(
        {
            "id": pa.array(range(6), pa.int64()),
            "a": pa.array([5, 5, 5, 5, 5, 1]),
            "b": pa.array([1, 1, 1, 1, 1, 9]),
        }
    )
    assert chunked_lines(batch, Pairs, 2) == whole_lines(batch, Pairs) == []


@pytest.mark.parametrize("api", APIS, ids=api_id)
def test_ints_beyond_a_narrower_dtype_are_counted_over_chunks(api: ModuleType) -> None:
    narrow = pandera.pandas.Int8 if api is pandera.pandas else __import__("polars").Int8

    class Counters(api.DataFrameModel):
        id: int
        small: narrow = api.Field(nullable=True)  # type: ignore[valid-type]

    batch = pa.table(
        {"id": pa.array(range(5), pa.int64()), "small": pa.array([1, 1000, None, -129, 127])}
    )

    assert (
        chunked_lines(batch, Counters, 2)
        == whole_lines(batch, Counters)
        == ["small: dtype('int8') failed for 2 row(s): 1000, -129"]
    )
