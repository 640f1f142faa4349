"""The field-id lock: the ids a previous generation gave each table, read back from the
generated schema modules (the previous output is the lock; no separate lock file)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

Path_ = tuple[str, ...]  # a field's name path: ("payload", "commits", "element", "sha")


@dataclass(frozen=True)
class TableLock:
    identifier: str
    field_ids: dict[Path_, int] = field(default_factory=dict)
    retired: dict[int, str] = field(default_factory=dict)
    last_column_id: int = 0
    partition_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    last_partition_id: int = 999
    required: dict[Path_, bool] = field(default_factory=dict)  # the top-level columns' flags


def read_lock(text: str) -> TableLock | None:
    """The lock recorded in one generated schema module, or None if it is not one."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    values: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                values[target.id] = node.value
    identifier = _literal(values.get("IDENTIFIER"))
    schema = values.get("SCHEMA")
    if not isinstance(identifier, str) or not isinstance(schema, ast.Call):
        return None
    field_ids: dict[Path_, int] = {}
    _collect_struct(schema.args, (), field_ids)
    required = {
        (name,): flag
        for call in schema.args
        if isinstance(call, ast.Call) and len(call.args) >= 2
        for name in [_literal(call.args[1])]
        for flag in [_literal(next((k.value for k in call.keywords if k.arg == "required"), None))]
        if isinstance(name, str) and isinstance(flag, bool)
    }
    names_by_id = {field_id: path[-1] for path, field_id in field_ids.items()}
    retired = _literal(values.get("RETIRED_FIELD_IDS")) or {}
    partition_ids = {}
    spec = values.get("PARTITION_SPEC")
    if isinstance(spec, ast.Call):
        for call in spec.args:
            keywords = {k.arg: k.value for k in getattr(call, "keywords", [])}
            source = names_by_id.get(_literal(keywords.get("source_id")))
            field_id = _literal(keywords.get("field_id"))
            transform = _transform(keywords.get("transform"))
            if source and isinstance(field_id, int) and transform:
                partition_ids[(source, transform)] = field_id
    last_column_id = _literal(values.get("LAST_COLUMN_ID"))
    last_partition_id = _literal(values.get("LAST_PARTITION_ID"))
    return TableLock(
        identifier=identifier,
        field_ids=field_ids,
        retired={int(k): str(v) for k, v in dict(retired).items()},
        last_column_id=last_column_id or max(field_ids.values(), default=0),
        partition_ids=partition_ids,
        last_partition_id=last_partition_id or max(partition_ids.values(), default=999),
        required=required,
    )


def _literal(node: ast.expr | None) -> object:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _collect_struct(fields: list[ast.expr], prefix: Path_, out: dict[Path_, int]) -> None:
    for call in fields:
        if not (isinstance(call, ast.Call) and len(call.args) >= 3):
            continue
        field_id, name = _literal(call.args[0]), _literal(call.args[1])
        if isinstance(field_id, int) and isinstance(name, str):
            out[prefix + (name,)] = field_id
            _collect_type(call.args[2], prefix + (name,), out)


def _collect_type(node: ast.expr, path: Path_, out: dict[Path_, int]) -> None:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        return
    keywords = {k.arg: k.value for k in node.keywords}
    if node.func.id == "StructType":
        _collect_struct(node.args, path, out)
    elif node.func.id == "ListType":
        element_id = _literal(keywords.get("element_id"))
        if isinstance(element_id, int):
            out[path + ("element",)] = element_id
            _collect_type(keywords["element"], path + ("element",), out)
    elif node.func.id == "MapType":
        for part in ("key", "value"):
            part_id = _literal(keywords.get(f"{part}_id"))
            if isinstance(part_id, int):
                out[path + (part,)] = part_id
                _collect_type(keywords[f"{part}_type"], path + (part,), out)


def _transform(node: ast.expr | None) -> str | None:
    """`BucketTransform(num_buckets=16)` -> `bucket[16]`."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None
    kind = node.func.id.removesuffix("Transform").lower()
    argument = next((_literal(k.value) for k in node.keywords), None)
    return f"{kind}[{argument}]" if argument is not None else kind
