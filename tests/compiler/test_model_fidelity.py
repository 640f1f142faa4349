"""What the compiler reads statically from each example model equals what Pandera itself
reports when the model is imported (`Model.to_schema()`): the columns, types, descriptions and
required flags of the IR, and the `Field(...)` options and checks as the front end read them
(the IR keeps only what the generated code needs)."""

from __future__ import annotations

import importlib
import re

import pytest

from cascade.compiler import analyze_project, load_config
from cascade.compiler.driver.build import SourceReader
from cascade.compiler.frontend.facts import FieldFacts, NameRef
from cascade.compiler.ir import Column, DecimalType, Ingestion, PrimitiveType
from cascade.compiler.resolve.classes import ProjectIndex
from cascade.compiler.resolve.models import PANDERA_CHECKS, ModelReader, is_literal
from cascade.compiler.resolve.report import Reporter
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

CONFIG = load_config(REPO_ROOT)
INGESTIONS, DIAGNOSTICS = analyze_project(CONFIG)


def model_fields(ingestion: Ingestion) -> dict[str, FieldFacts]:
    """The model's fields (inherited ones too) as the front end read them, by attribute."""
    assert ingestion.model is not None
    index = ProjectIndex(SourceReader(CONFIG.root, None).load)
    module = index.load_module(ingestion.model.module)
    found = index.find_class(module, ingestion.model.class_name)
    assert not isinstance(found, str), found
    reader = ModelReader(index, Reporter())
    return {facts.attribute: facts for _, facts in reader.fields(*found)}


def option(facts: FieldFacts, name: str) -> object:
    argument = facts.argument(name)
    return None if argument is None else argument.value


def checks(facts: FieldFacts) -> list[tuple[str, object]]:
    """The Field(...) checks in order, with their argument (None: not a literal)."""
    return [
        (a.name, a.value if is_literal(a.value) and not isinstance(a.value, NameRef) else None)
        for a in facts.arguments
        if a.name in PANDERA_CHECKS
    ]


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
    fields = model_fields(ingestion)
    assert [c.name for c in model.columns] == list(schema.columns)
    for column in model.columns:
        pandera = schema.columns[column.name]
        facts = fields[column.attribute]
        where = f"{model.class_name}.{column.attribute} ({column.name})"
        assert (option(facts, "nullable") is True) == pandera.nullable, where
        assert (not facts.annotation.optional) == pandera.required, where
        assert (option(facts, "unique") is True) == pandera.unique, where
        assert column.doc == (pandera.description or ""), where
        assert iceberg_names(column) <= expected_types(str(pandera.dtype)), where
        ours = checks(facts)
        assert len(ours) == len(pandera.checks), where
        for (name, value), theirs in zip(ours, pandera.checks, strict=True):
            assert check_matches(name, value, theirs), (where, name, value, theirs)
        # Iceberg's required flag follows from Pandera's: present and not nullable.
        table_column = next(c for c in ingestion.columns if c.name == column.name)
        assert table_column.required == (pandera.required and not pandera.nullable), where
