"""What the compiler reads statically from each example model equals what Pandera itself
reports when the model is imported (`Model.to_schema()`)."""

from __future__ import annotations

import importlib
import re

import pytest

from cascade.compiler import analyze_project, load_config
from cascade.compiler.ir import Column, DecimalType, Ingestion, PrimitiveType
from tests.helpers import REPO_ROOT

# Field(...) keyword -> the name of the Pandera check it builds.
CHECK_NAMES = {
    "ge": "greater_than_or_equal_to",
    "gt": "greater_than",
    "le": "less_than_or_equal_to",
    "lt": "less_than",
    "eq": "equal_to",
    "ne": "not_equal_to",
}
# Pandera's dtype (as text) -> the Iceberg types that hold its values.
DTYPE_TYPES = [
    (r"u?int(8|16|32)|U?Int(8|16|32)", {"int"}),
    (r"int64|Int64|uint32|UInt32", {"long"}),
    (r"float32|Float32", {"float"}),
    (r"float64|Float64", {"double"}),
    (r"str|string(\[pyarrow\]|\[python\])?", {"string"}),
    (r"bool|boolean", {"boolean"}),
    (r"date", {"date"}),
    # A plain `datetime` is naive to Pandera; the seed maps it to a UTC timestamp.
    (r"datetime64\[ns\]", {"timestamp", "timestamptz"}),
    (r"datetime64\[(ns|us), UTC\]", {"timestamptz"}),
]

INGESTIONS, DIAGNOSTICS = analyze_project(load_config(REPO_ROOT))


def test_the_example_project_compiles_cleanly():
    assert DIAGNOSTICS == []
    assert {i.table_name for i in INGESTIONS} >= {"glucose_entries"}


def iceberg_names(column: Column) -> set[str]:
    if isinstance(column.type, PrimitiveType):
        return {column.type.name}
    if isinstance(column.type, DecimalType):
        return {f"decimal({column.type.precision}, {column.type.scale})"}
    return {type(column.type).__name__}


def expected_types(dtype: str) -> set[str]:
    decimal = re.fullmatch(r"Decimal\((\d+), (\d+)\)", dtype)
    if decimal:
        return {f"decimal({decimal[1]}, {decimal[2]})"}
    for pattern, types in DTYPE_TYPES:
        if re.fullmatch(pattern, dtype):
            return types
    raise AssertionError(f"no expectation for Pandera dtype {dtype!r}: extend DTYPE_TYPES")


def check_matches(keyword: str, value: object, check) -> bool:
    if check.name != CHECK_NAMES.get(keyword, keyword):
        return False
    if value is None:  # an argument the compiler could not read statically
        return True
    statistics = check.statistics
    if isinstance(value, dict):
        return all(statistics.get(k) == v for k, v in value.items())
    expected = list(value) if isinstance(value, tuple) else value
    return expected in statistics.values()


@pytest.mark.parametrize("ingestion", INGESTIONS, ids=lambda i: i.table_name)
def test_static_model_equals_pandera_schema(ingestion: Ingestion):
    model = ingestion.model
    assert model is not None
    cls = getattr(importlib.import_module(model.module), model.class_name)
    schema = cls.to_schema()
    assert [c.name for c in model.columns] == list(schema.columns)
    for column in model.columns:
        pandera = schema.columns[column.name]
        where = f"{model.class_name}.{column.attribute} ({column.name})"
        assert column.nullable == pandera.nullable, where
        assert (not column.optional) == pandera.required, where
        assert column.unique == pandera.unique, where
        assert column.doc == (pandera.description or ""), where
        assert iceberg_names(column) <= expected_types(str(pandera.dtype)), where
        assert len(column.checks) == len(pandera.checks), where
        for ours, theirs in zip(column.checks, pandera.checks, strict=True):
            assert check_matches(ours.name, ours.value, theirs), (where, ours, theirs)
        # Iceberg's required flag follows from Pandera's: present and not nullable.
        table_column = next(c for c in ingestion.columns if c.name == column.name)
        assert table_column.required == (pandera.required and not pandera.nullable), where
