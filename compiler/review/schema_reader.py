"""Reads a generated schema module back into PyIceberg objects, without running it.

`cascade diff` compares the schema modules of a git revision with the new ones. Those files
come from the repository, so they are evaluated, not executed: only literals, tuples, dicts and
calls of the names the module imports from pyiceberg's type, schema, partitioning and transform
modules are accepted. Anything else means the file is no generated schema module.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from typing import Any

ALLOWED_MODULES = (
    "pyiceberg.partitioning",
    "pyiceberg.schema",
    "pyiceberg.transforms",
    "pyiceberg.types",
)


class NotASchemaModule(ValueError):
    pass


@dataclass(frozen=True)
class SchemaModule:
    identifier: str
    schema: Any  # pyiceberg Schema
    partition_spec: Any  # pyiceberg PartitionSpec
    unique_key: tuple[str, ...]
    retired_field_ids: dict[int, str]
    allowed_breaking: tuple[str, ...]
    last_column_id: int | None = None
    last_partition_id: int | None = None


def read_schema_module(text: str, path: str = "<schema module>") -> SchemaModule:
    try:
        tree = ast.parse(text, path)
    except SyntaxError as error:
        raise NotASchemaModule(f"{path}: {error}") from None
    names: dict[str, Any] = {}
    values: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in ALLOWED_MODULES:
            module = importlib.import_module(node.module)
            for alias in node.names:
                names[alias.asname or alias.name] = getattr(module, alias.name)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                values[target.id] = node.value

    def evaluate(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple | ast.List):
            return tuple(evaluate(item) for item in node.elts)
        if isinstance(node, ast.Dict) and all(key is not None for key in node.keys):
            return {evaluate(k): evaluate(v) for k, v in zip(node.keys, node.values, strict=True)}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -evaluate(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            function = names.get(node.func.id)
            if function is not None:
                args = [evaluate(a) for a in node.args]
                kwargs = {k.arg: evaluate(k.value) for k in node.keywords if k.arg}
                return function(*args, **kwargs)
        raise NotASchemaModule(
            f"{path}:{node.lineno}:{node.col_offset + 1}: not a literal or pyiceberg call: "
            f"{ast.unparse(node)[:80]}"
        )

    def value(name: str, default: Any = None) -> Any:
        if name not in values:
            if default is None:
                raise NotASchemaModule(f"{path}: no {name}: not a generated schema module")
            return default
        return evaluate(values[name])

    from pyiceberg.partitioning import PartitionSpec

    return SchemaModule(
        identifier=value("IDENTIFIER"),
        schema=value("SCHEMA"),
        partition_spec=value("PARTITION_SPEC", PartitionSpec()),
        unique_key=tuple(value("UNIQUE_KEY", ())),
        retired_field_ids=dict(value("RETIRED_FIELD_IDS", {})),
        allowed_breaking=tuple(value("ALLOWED_BREAKING", ())),
        last_column_id=value("LAST_COLUMN_ID", 0) or None,
        last_partition_id=value("LAST_PARTITION_ID", 0) or None,
    )
