"""Reads a generated schema module back into its `TableContract`, without running it.

The one way a schema module becomes a contract on the compiler's side: the previous output's
modules lock the field ids (previous.py), `cascade diff` compares a git revision's modules
with the new ones, and `cascade plan`/`apply` read what is deployed. Those files come from the
repository, so they are evaluated, not executed: only literals, tuples, dicts, names the module
assigned before, and calls of the names it imports from pyiceberg's type, schema, partitioning
and transform modules and of `TableContract` are accepted. Anything else means the file is no
generated schema module.

Schema modules generated before the contract existed declared the same things as constants
(IDENTIFIER, SCHEMA, PARTITION_SPEC, UNIQUE_KEY, RETIRED_FIELD_IDS, LAST_COLUMN_ID,
LAST_PARTITION_ID, ALLOWED_BREAKING); they are read into the same contract, so that a project
upgrading Cascade keeps its ids and `cascade diff` still compares with older revisions.
"""

from __future__ import annotations

import ast
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cascade.runtime.contract import TableContract

ALLOWED_MODULES = (
    "pyiceberg.partitioning",
    "pyiceberg.schema",
    "pyiceberg.transforms",
    "pyiceberg.types",
    "cascade.runtime.contract",
)


class NotASchemaModule(ValueError):
    pass


def read_contract(text: str, path: str = "<schema module>") -> TableContract:
    """The contract a generated schema module declares; raises `NotASchemaModule` (naming
    `path`, and the line and column of an expression it refuses) for any other file."""
    from cascade.runtime.contract import TableContract

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
    evaluated: dict[str, Any] = {}

    def evaluate(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple | ast.List):
            return tuple(evaluate(item) for item in node.elts)
        if isinstance(node, ast.Dict):
            keys = [key for key in node.keys if key is not None]  # None: a `**mapping` entry
            if len(keys) == len(node.keys):
                return {evaluate(k): evaluate(v) for k, v in zip(keys, node.values, strict=True)}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -evaluate(node.operand)
        if isinstance(node, ast.Name) and node.id in values and node.id not in evaluating:
            return value(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            function = names.get(node.func.id)
            if function is not None:
                args = [evaluate(a) for a in node.args]
                kwargs = {k.arg: evaluate(k.value) for k in node.keywords if k.arg}
                try:
                    return function(*args, **kwargs)
                except (TypeError, ValueError) as error:
                    raise NotASchemaModule(
                        f"{path}:{node.lineno}:{node.col_offset + 1}: {node.func.id}: {error}"
                    ) from None
        raise NotASchemaModule(
            f"{path}:{node.lineno}:{node.col_offset + 1}: not a literal or pyiceberg call: "
            f"{ast.unparse(node)[:80]}"
        )

    evaluating: set[str] = set()

    def value(name: str, default: Any = None) -> Any:
        if name in evaluated:
            return evaluated[name]
        if name not in values:
            if default is None:
                raise NotASchemaModule(f"{path}: no {name}: not a generated schema module")
            return default
        evaluating.add(name)
        evaluated[name] = evaluate(values[name])
        return evaluated[name]

    if "TABLE" in values:
        contract = value("TABLE")
        if not isinstance(contract, TableContract):
            raise NotASchemaModule(f"{path}: TABLE is not a TableContract")
        return contract

    from pyiceberg.partitioning import PartitionSpec

    return TableContract(
        identifier=value("IDENTIFIER"),
        schema=value("SCHEMA"),
        partition_spec=value("PARTITION_SPEC", PartitionSpec()),
        unique_key=tuple(value("UNIQUE_KEY", ())),
        retired_field_ids=dict(value("RETIRED_FIELD_IDS", {})),
        last_column_id=value("LAST_COLUMN_ID", 0) or None,
        last_partition_id=value("LAST_PARTITION_ID", 0) or None,
        allowed_breaking=tuple(value("ALLOWED_BREAKING", ())),
    )
