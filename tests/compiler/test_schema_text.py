"""The schema text (cascade.compiler.review.schema_text) says what the generated schema module says.

Every table of the case matrix is rendered both ways from one compilation: as text, and as the
schema module, which is executed to get pyiceberg's Schema and PartitionSpec. The text is then
read back line by line and compared with those objects, walked independently of the compiler.
"""

from __future__ import annotations

import json

import pytest
from pyiceberg.types import IcebergType, ListType, MapType, NestedField, StructType

from cascade.compiler import analyze_project, load_config
from cascade.compiler.config import ConfigError
from cascade.compiler.diagnostics import has_errors
from cascade.compiler.ir import Ingestion
from cascade.compiler.render.schema_module import render_schema_module
from cascade.compiler.review.schema_text import render_schema_text, schema_text_diff
from cascade.runtime.contract import TableContract
from tests.helpers import CASES, case_previous


def case_tables() -> list[Ingestion]:
    """The tables of every case that compiles, with the field-id lock of its previous/ output."""
    tables = []
    for pyproject in sorted(CASES.glob("*/pyproject.toml")):
        root = pyproject.parent
        try:
            config = load_config(root)
        except ConfigError:  # a case of a wrong [tool.cascade]: it has no tables
            continue
        ingestions, diagnostics = analyze_project(config, case_previous(root))
        if not has_errors(diagnostics):
            tables += ingestions
    return tables


TABLES = case_tables()


def sections(text: str) -> dict[str, list[str]]:
    """`heading:` -> the lines under it; blocks are separated by one empty line."""
    blocks = [block.split("\n") for block in text.rstrip("\n").split("\n\n")]
    return {block[0]: block[1:] for block in blocks}


def read_field_line(line: str) -> tuple[int, int, str, str, bool, str]:
    """`  4 name type required "doc"` -> (depth, id, name, type, required, doc)."""
    body = line.lstrip(" ")
    depth = (len(line) - len(body)) // 2
    field_id, _, rest = body.partition(" ")
    if rest.startswith('"'):
        name, end = json.JSONDecoder().raw_decode(rest)
        rest = rest[end + 1 :]
    else:
        name, _, rest = rest.partition(" ")
    before_doc, quote, doc = rest.partition(' "')
    type_name, _, required = before_doc.rpartition(" ")
    assert required in ("required", "optional"), line
    return (
        depth,
        int(field_id),
        name,
        type_name,
        required == "required",
        json.loads(quote.strip() + doc) if quote else "",
    )


def type_label(value: IcebergType) -> str:
    if isinstance(value, StructType):
        return "struct"
    if isinstance(value, ListType):
        return "list"
    if isinstance(value, MapType):
        return "map"
    return str(value)  # pyiceberg's own name: long, timestamptz, decimal(10, 2), ...


def walk(fields: tuple[NestedField, ...], depth: int = 1):
    """pyiceberg's fields in table order, each followed by its nested ones."""
    for field in fields:
        yield (
            depth,
            field.field_id,
            field.name,
            type_label(field.field_type),
            field.required,
            (field.doc or ""),
        )
        value = field.field_type
        if isinstance(value, StructType):
            yield from walk(value.fields, depth + 1)
        elif isinstance(value, ListType):
            yield from walk((value.element_field,), depth + 1)
        elif isinstance(value, MapType):
            yield from walk((value.key_field, value.value_field), depth + 1)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: f"{t.identifier}@{t.path}")
def test_text_reads_back_as_the_generated_schema(table: Ingestion):
    module: dict[str, object] = {}
    exec(render_schema_module(table), module)  # imports pyiceberg and the contract only
    contract = module["TABLE"]
    assert isinstance(contract, TableContract)
    schema = contract.schema
    text = render_schema_text(table)
    parts = sections(text)

    assert text.startswith(f"table {contract.identifier}\n")
    assert [read_field_line(line) for line in parts["fields:"]] == list(walk(schema.fields))
    partition_lines = [
        f"  {p.field_id} {p.name}: {p.transform} of field {p.source_id} "
        f"{schema.find_column_name(p.source_id)}"
        for p in contract.partition_spec.fields
    ]
    assert parts["partition spec:"] == (partition_lines or ["  (unpartitioned)"])
    key_lines = [f"  {schema.find_field(name).field_id} {name}" for name in contract.unique_key]
    assert parts["unique key (identifier fields):"] == (key_lines or ["  (none)"])
    retired = sorted(contract.retired_field_ids.items())
    retired_lines = [f"  {field_id} {name}" for field_id, name in retired]
    assert parts["retired field ids:"] == (retired_lines or ["  (none)"])


def test_the_cases_cover_nested_types_partitions_retired_ids_and_odd_docs():
    # The read-back test above is only as good as the variety it reads.
    text = "".join(render_schema_text(t) for t in TABLES)
    for expected in (
        " struct ",
        " list ",
        " map ",
        " element ",
        " decimal(",
        "bucket[",
        "truncate[",
        "\\n",  # a doc with a line break, kept on its field's line
        "\\u2028",  # a Unicode line separator, which splitlines() would break the line at
    ):
        assert expected in text, expected
    assert any(t.retired_fields for t in TABLES)


def test_diff_shows_changed_lines_under_their_table_and_section():
    old = (
        "table raw.users\n\nfields:\n  1 user_id string required\n  2 email string optional\n"
        "  3 age long optional\n\npartition spec:\n  (unpartitioned)\n\n"
        "unique key (identifier fields):\n  1 user_id\n\nretired field ids:\n  (none)\n"
    )
    new = (
        old.replace("  2 email string optional\n", "")
        .replace("3 age long optional", '3 age int optional "Age in years"')
        .replace("retired field ids:\n  (none)", "retired field ids:\n  2 email")
    )
    assert schema_text_diff("raw.users", old, new) == [
        "raw.users, fields:",
        "-  2 email string optional",
        "-  3 age long optional",
        '+  3 age int optional "Age in years"',
        "raw.users, retired field ids:",
        "-  (none)",
        "+  2 email",
    ]
    assert schema_text_diff("raw.users", old, old) == []
