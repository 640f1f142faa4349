"""A table's schema as plain text, for people: what snapshot tests pin and `cascade diff` shows.

One line per field, so that a schema change is exactly the lines of the fields it touches:

    table raw.glucose_entries

    fields:
      1 _id string required "Nightscout entry id"
      5 trend long optional "Trend arrow code, 0-9"
      ...

    partition spec:
      1000 date_string_day: day of field 4 date_string

    unique key (identifier fields):
      1 _id

    retired field ids:
      (none)

A field line is `id name type required|optional "doc"`; the fields of a struct, the element of
a list and the key and value of a map follow their parent on lines of their own, indented, with
their own ids. Nothing is aligned in columns: a longer name added to a table must not re-indent
the lines of the fields it did not touch. Built from the IR, like the generated schema module.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from collections.abc import Iterable

from cascade.compiler.ir import (
    DecimalType,
    IcebergType,
    Ingestion,
    ListType,
    MapType,
    PrimitiveType,
    StructType,
    nested_fields,
)

INDENT = "  "


def render_schema_texts(ingestions: Iterable[Ingestion]) -> dict[str, str]:
    """The text of every table, by table identifier (`raw.glucose_entries`), sorted."""
    texts = {ingestion.identifier: render_schema_text(ingestion) for ingestion in ingestions}
    return dict(sorted(texts.items()))


def render_schema_text(ingestion: Ingestion) -> str:
    lines = [f"table {ingestion.identifier}", "", "fields:"]
    for column in ingestion.columns:
        lines += field_lines(
            column.field_id, column.name, column.type, column.required, column.doc, depth=1
        )

    ids = {column.name: column.field_id for column in ingestion.columns}
    lines += ["", "partition spec:"]
    lines += [
        f"{INDENT}{p.field_id} {name_text(p.name)}: {p.transform} of field "
        f"{ids[p.source]} {name_text(p.source)}"
        for p in ingestion.partition_fields
    ] or [f"{INDENT}(unpartitioned)"]

    lines += ["", "unique key (identifier fields):"]
    lines += [f"{INDENT}{ids[name]} {name_text(name)}" for name in ingestion.unique_key] or [
        f"{INDENT}(none)"
    ]

    # Ids of dropped columns stay reserved for good; listing them makes a drop visible as more
    # than a removed line, and a reused id (which would corrupt old data files) impossible to miss.
    lines += ["", "retired field ids:"]
    lines += [
        f"{INDENT}{r.field_id} {name_text(r.name)}"
        for r in sorted(ingestion.retired_fields, key=lambda r: r.field_id)
    ] or [f"{INDENT}(none)"]
    return "\n".join(lines) + "\n"


def schema_text_diff(title: str, old: str, new: str) -> list[str]:
    """The lines that differ between two schema texts, `-` old and `+` new, each run of them
    under `<title>, <section>:`. No context lines: a field line names its id and column, and
    the section says what the line is (a field, a partition field, a retired id)."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    diff: list[str] = []
    shown = None
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        section = section_above(new_lines, new_start) or section_above(old_lines, old_start)
        if section != shown:
            diff.append(f"{title}, {section}" if section else f"{title}:")
            shown = section
        diff += [f"-{line}" for line in old_lines[old_start:old_end]]
        diff += [f"+{line}" for line in new_lines[new_start:new_end]]
    return diff


def section_above(lines: list[str], index: int) -> str | None:
    """The heading (`fields:`, `retired field ids:`) of the section that line `index` is in."""
    for line in reversed(lines[:index]):
        if line.endswith(":") and not line.startswith(INDENT):
            return line
    return None


def field_lines(
    field_id: int, name: str, value: IcebergType, required: bool, doc: str, depth: int
) -> list[str]:
    """The line of a field and, below it, the lines of its nested fields: the fields of a
    struct, the element of a list, the key and value of a map, each with its own id."""
    return [
        field_line(field_id, name, value, required, doc, depth),
        *(
            field_line(f.field_id, f.name, f.type, f.required, f.doc, depth + len(path))
            for path, f in nested_fields(value)
        ),
    ]


def field_line(
    field_id: int, name: str, value: IcebergType, required: bool, doc: str, depth: int
) -> str:
    line = f"{INDENT * depth}{field_id} {name_text(name)} {type_name(value)} "
    line += "required" if required else "optional"
    if doc:
        line += " " + quoted(doc)
    return line


def type_name(value: IcebergType) -> str:
    """Iceberg's own type names, as pyiceberg prints them (`long`, `decimal(10, 2)`)."""
    if isinstance(value, PrimitiveType):
        return value.name
    if isinstance(value, DecimalType):
        return f"decimal({value.precision}, {value.scale})"
    if isinstance(value, StructType):
        return "struct"
    if isinstance(value, ListType):
        return "list"
    if isinstance(value, MapType):
        return "map"
    # A type this module does not know must not be printed as something it is not.
    raise TypeError(f"no text form for Iceberg type {value!r}")


def name_text(name: str) -> str:
    """A column name as is, or quoted when it could not be read back as one word."""
    return name if name.isidentifier() else quoted(name)


def quoted(text: str) -> str:
    """A JSON string literal that stays on one line, with its trailing spaces visible.

    Non-ASCII text is kept readable, except the characters that break or hide a line
    (U+2028, U+0085, ...), which json.dumps leaves as they are."""
    return "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in json.dumps(text, ensure_ascii=False)
    )
