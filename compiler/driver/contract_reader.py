"""Reads a generated schema module back into its `TableContract`, without running it.

The one way a schema module becomes a contract on the compiler's side: the previous output's
modules lock the field ids (previous.py), `cascade diff` compares a git revision's modules
with the new ones, and `cascade plan`/`apply`/`publish` read what is deployed. Those files come
from the repository, and a pull request may have changed them, so they are evaluated, never
executed: only literals, tuples, lists, dicts, negative numbers, names the module assigned
before, and calls of the classes in `CALLABLE` (pyiceberg's types, schema, partitioning and
transforms, and `TableContract`), imported from their own modules, are accepted. Anything
else means the file is no generated schema module, and so does a contract whose values have
the wrong types.

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

# What a schema module may call, by the module it is imported from: data classes whose
# constructors only build values. A name of these modules that is not listed (a helper such as
# pyiceberg.transforms._try_import, which imports any module by name) is never called.
CALLABLE = {
    "pyiceberg.types": frozenset(
        {
            "BinaryType", "BooleanType", "DateType", "DecimalType", "DoubleType", "FixedType",
            "FloatType", "IntegerType", "ListType", "LongType", "MapType", "NestedField",
            "StringType", "StructType", "TimeType", "TimestampType", "TimestamptzType",
            "TimestampNanoType", "TimestamptzNanoType", "UUIDType",
        }
    ),
    "pyiceberg.schema": frozenset({"Schema"}),
    "pyiceberg.partitioning": frozenset({"PartitionField", "PartitionSpec"}),
    "pyiceberg.transforms": frozenset(
        {
            "BucketTransform", "DayTransform", "HourTransform", "IdentityTransform",
            "MonthTransform", "TruncateTransform", "VoidTransform", "YearTransform",
        }
    ),
    "cascade.runtime.contract": frozenset({"TableContract"}),
}  # fmt: skip


class NotASchemaModule(ValueError):
    """`path` is not a generated schema module: `reason`, at `line`:`column` when one
    expression is to blame."""

    def __init__(self, path: str, reason: str, line: int | None = None, column: int = 1):
        place = f"{path}:{line}:{column}" if line is not None else path
        super().__init__(f"{place}: {reason}")
        self.path, self.reason, self.line, self.column = path, reason, line, column


def read_contract(text: str, path: str = "<schema module>") -> TableContract:
    """The contract a generated schema module declares; raises `NotASchemaModule` for any other
    file, naming `path` and, where one expression is to blame, its line and column."""
    try:
        tree = ast.parse(text, path)
    except SyntaxError as error:
        raise NotASchemaModule(path, error.msg, error.lineno, error.offset or 1) from None
    except (ValueError, RecursionError, MemoryError):  # a NUL byte; nesting beyond the parser
        raise NotASchemaModule(path, "cannot be parsed as Python") from None
    try:
        return _Evaluator(tree, path).contract()
    except RecursionError:
        raise NotASchemaModule(path, "expressions nested too deeply") from None


class _Evaluator:
    def __init__(self, tree: ast.Module, path: str) -> None:
        self.path = path
        self.names: dict[str, Any] = {}  # the callables the module imported
        self.assigned: dict[str, ast.expr] = {}
        self.values: dict[str, Any] = {}
        self.evaluating: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module in CALLABLE:
                for alias in node.names:
                    function = getattr(importlib.import_module(node.module), alias.name, None)
                    if alias.name in CALLABLE[node.module] and function is not None:
                        self.names[alias.asname or alias.name] = function
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    self.assigned[target.id] = node.value

    def refuse(self, node: ast.expr, reason: str) -> NotASchemaModule:
        return NotASchemaModule(self.path, reason, node.lineno, node.col_offset + 1)

    def evaluate(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple | ast.List):
            return tuple(self.evaluate(item) for item in node.elts)
        if isinstance(node, ast.Dict):
            keys = [key for key in node.keys if key is not None]  # None: a ** entry
            if len(keys) != len(node.values):
                raise self.refuse(node, "** entries in a dict are not read")
            pairs = [
                (self.evaluate(k), self.evaluate(v)) for k, v in zip(keys, node.values, strict=True)
            ]
            if not all(isinstance(k, int | str) for k, _ in pairs):
                raise self.refuse(node, "a dict key that is not a number or a string")
            return dict(pairs)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self.evaluate(node.operand)
            if type(operand) not in (int, float):
                raise self.refuse(node, "a minus sign before something that is not a number")
            return -operand
        if isinstance(node, ast.Name) and node.id in self.assigned:
            if node.id in self.evaluating:
                raise self.refuse(node, f"{node.id} is defined by itself")
            return self.value(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            function = self.names.get(node.func.id)
            if function is None:
                raise self.refuse(
                    node, f"{node.func.id} is not a pyiceberg type, schema, partition or "
                    "transform class, nor TableContract",
                )  # fmt: skip
            if any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords
            ):
                raise self.refuse(node, "* and ** arguments are not read")
            args = [self.evaluate(a) for a in node.args]
            kwargs = {k.arg: self.evaluate(k.value) for k in node.keywords if k.arg}
            try:
                return function(*args, **kwargs)
            except Exception as error:  # whatever a constructor refuses: not ours
                raise self.refuse(node, f"{node.func.id}: {error}") from None
        raise self.refuse(node, f"not a literal or pyiceberg call: {ast.unparse(node)[:80]}")

    def value(self, name: str, default: Any = None) -> Any:
        if name in self.values:
            return self.values[name]
        if name not in self.assigned:
            if default is None:
                raise NotASchemaModule(self.path, f"no {name}: not a generated schema module")
            return default
        self.evaluating.add(name)
        self.values[name] = self.evaluate(self.assigned[name])
        self.evaluating.discard(name)
        return self.values[name]

    def contract(self) -> TableContract:
        from pyiceberg.partitioning import PartitionSpec

        from cascade.runtime.contract import TableContract

        if "TABLE" in self.assigned:
            contract = self.value("TABLE")
            if not isinstance(contract, TableContract):
                raise self.refuse(self.assigned["TABLE"], "TABLE is not a TableContract")
        else:
            contract = TableContract(
                identifier=self.value("IDENTIFIER"),
                schema=self.value("SCHEMA"),
                partition_spec=self.value("PARTITION_SPEC", PartitionSpec()),
                unique_key=self.value("UNIQUE_KEY", ()),
                retired_field_ids=self.value("RETIRED_FIELD_IDS", {}),
                last_column_id=self.value("LAST_COLUMN_ID", 0) or None,
                last_partition_id=self.value("LAST_PARTITION_ID", 0) or None,
                allowed_breaking=self.value("ALLOWED_BREAKING", ()),
            )
        if problem := _wrong_types(contract):
            where = self.assigned.get("TABLE")
            if where is None:
                raise NotASchemaModule(self.path, problem)
            raise self.refuse(where, problem)
        return contract


def _wrong_types(contract: TableContract) -> str | None:
    """What in the contract has the wrong type, or None."""
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema

    def strings(value: object) -> bool:
        return isinstance(value, tuple) and all(isinstance(v, str) for v in value)

    def count(value: object) -> bool:
        return value is None or (type(value) is int and value >= 0)

    checks = [
        (isinstance(contract.identifier, str) and "." in contract.identifier, "identifier"),
        (isinstance(contract.schema, Schema), "schema"),
        (isinstance(contract.partition_spec, PartitionSpec), "partition_spec"),
        (strings(contract.unique_key), "unique_key"),
        (
            isinstance(contract.retired_field_ids, dict)
            and all(
                type(k) is int and isinstance(v, str) for k, v in contract.retired_field_ids.items()
            ),
            "retired_field_ids",
        ),
        (count(contract.last_column_id), "last_column_id"),
        (count(contract.last_partition_id), "last_partition_id"),
        (strings(contract.allowed_breaking), "allowed_breaking"),
        (
            isinstance(contract.renamed_columns, dict)
            and all(
                isinstance(k, str) and isinstance(v, str)
                for k, v in contract.renamed_columns.items()
            ),
            "renamed_columns",
        ),
        (strings(contract.ignored_keys), "ignored_keys"),
    ]
    wrong = [name for ok, name in checks if not ok]
    if not wrong:
        return None
    expected = {
        "identifier": 'a "namespace.table" string',
        "schema": "a pyiceberg Schema",
        "partition_spec": "a pyiceberg PartitionSpec",
        "unique_key": "a tuple of column names",
        "retired_field_ids": "a dict of field id to name",
        "last_column_id": "a field id",
        "last_partition_id": "a partition field id",
        "allowed_breaking": 'a tuple of "CODE:subject" strings',
        "renamed_columns": "a dict of old name to column name",
        "ignored_keys": "a tuple of dotted source key paths",
    }
    return "; ".join(f"{name} is not {expected[name]}" for name in wrong)
