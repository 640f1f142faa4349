"""Checks the literal arguments of @cascade_ingestion, one reader per parameter."""

from __future__ import annotations

import keyword
import re

from cascade.compiler.diagnostics import did_you_mean
from cascade.compiler.frontend.facts import Argument, CallValue, NameRef, NotLiteral
from cascade.compiler.ir import METADATA_COLUMN_NAMES, Column, FreshnessHours, PartitionField
from cascade.compiler.resolve.cron import cron_problem
from cascade.compiler.resolve.report import Reporter
from cascade.runtime.change_rules import RULES

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
TRANSFORM = re.compile(
    r"^(identity|year|month|day|hour|bucket\[[1-9][0-9]*\]|truncate\[[1-9][0-9]*\])$"
)
PARTITION_NAME_SUFFIX = {"bucket": "bucket", "truncate": "trunc"}
# Column types the merge can compare, sort and range-filter on (Arrow has no order for UUIDs).
# The unique key is written to the table as its identifier fields, which the Iceberg spec
# ("Identifier Field IDs") allows only on required primitive fields that are not float or double.
KEY_TYPES = frozenset(
    {"int", "long", "decimal", "string", "binary", "fixed", "boolean", "date", "time",
     "timestamp", "timestamptz"}
)  # fmt: skip
# Iceberg stores bucket counts and truncate widths as 32-bit ints (the table spec).
MAX_TRANSFORM_ARGUMENT = 2**31 - 1
# Table and group names become module and file names, Dagster asset names and Iceberg
# identifiers; past this they stop being readable and near file-system limits (255 bytes).
MAX_NAME_LENGTH = 100
INTEGER_HINTS = {
    "max_runtime_seconds": "the longest a load may run before it is stopped, e.g. 300",
    "max_retries": "how often Dagster retries a failed load; 0 for never",
    "retry_delay_seconds": "seconds between retries; 0 for at once",
}
# What each Iceberg transform accepts as its source type (the Iceberg table spec).
TRANSFORM_SOURCE_TYPES = {
    "identity": None,  # any primitive
    "year": {"date", "timestamp", "timestamptz"},
    "month": {"date", "timestamp", "timestamptz"},
    "day": {"date", "timestamp", "timestamptz"},
    "hour": {"timestamp", "timestamptz"},
    "bucket": {"int", "long", "decimal", "date", "time", "timestamp", "timestamptz", "string",
               "uuid", "binary"},
    "truncate": {"int", "long", "decimal", "string", "binary"},
}  # fmt: skip
TIME_TRANSFORMS = {"year", "month", "day", "hour"}


class ArgumentReader:
    def __init__(self, report: Reporter):
        self.report = report

    def literal(self, argument: Argument, expected: str) -> object | None:
        value = argument.value
        if isinstance(value, (NameRef, NotLiteral, CallValue)):
            code = (
                value.qualified_name
                if isinstance(value, NameRef)
                else getattr(value, "code", getattr(value, "function", "?") + "(...)")
            )
            self.report.error(
                argument.span,
                f"{argument.name} must be a literal {expected}, got {code}",
                "cascade gen reads the decorator without running your code; write the value inline",
            )
            return None
        return value

    def identifier(self, argument: Argument | None) -> str | None:
        if argument is None:
            return None
        value = self.literal(argument, "string")
        if value is None and argument.value is not None:  # literal() reported it
            return None
        if (
            not isinstance(value, str)
            or not IDENTIFIER.match(value)
            or keyword.iskeyword(value)
            or (value.startswith("__") and value.endswith("__"))
            or len(value) > MAX_NAME_LENGTH
        ):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            self.report.error(
                argument.span,
                f"{argument.name} must be a lowercase identifier (a-z, 0-9, _) of at most "
                f"{MAX_NAME_LENGTH} characters, not a Python keyword or a dunder name, got "
                f"{shown}",
                "it names the Iceberg table, the Dagster asset and a generated module",
            )
            return None
        return value

    def unique_key(
        self, argument: Argument | None, columns: tuple[Column, ...] | None, source: str
    ) -> tuple[str, ...] | None:
        if argument is None:
            return None
        value = self.literal(argument, "column name or tuple of column names")
        if value is None and argument.value is not None:  # literal() reported it
            return None
        keys = (value,) if isinstance(value, str) else value
        if not (
            isinstance(keys, (tuple, list))
            and keys
            and all(isinstance(c, str) for c in keys)
            and len(set(keys)) == len(keys)
        ):
            self.report.error(
                argument.span,
                "unique_key must be a column name or a tuple of "
                f"distinct column names, got {value!r}",
            )
            return None
        if columns is not None:
            by_name = {c.name: c for c in columns if c.name not in METADATA_COLUMN_NAMES}
            for key in keys:
                column = by_name.get(key)
                if column is None:
                    self.report.error(
                        argument.span,
                        f"unique_key column {key!r} is not a column of {source}",
                        did_you_mean(key, list(by_name), always_list=True),
                    )
                elif not column.required:
                    self.report.error(
                        argument.span,
                        f"unique_key column {key!r} may be null or absent",
                        "declare it required (in a model: no `| None`, nullable=False; in an "
                        "iceberg_schema: required=True): rows are merged on it, and a null key "
                        "matches nothing",
                    )
                elif (shown := _type_name(column)) in ("float", "double"):
                    self.report.error(
                        argument.span,
                        f"unique_key column {key!r} is a {shown} column; Iceberg identifier "
                        "fields, where the key is recorded, cannot be float or double",
                        "key on an int, decimal or str column: a float that prints the same "
                        "may differ in its last bit, and NaN equals nothing",
                    )
                elif shown not in KEY_TYPES:
                    self.report.error(
                        argument.span,
                        f"unique_key column {key!r} is a {shown} column; the merge compares keys "
                        f"of the types {', '.join(sorted(KEY_TYPES))}",
                        "key on the value's text (str), e.g. a UUID as its canonical text",
                    )
        return tuple(keys)

    def partition_spec(
        self, argument: Argument | None, columns: tuple[Column, ...] | None, source: str
    ) -> tuple[PartitionField, ...]:
        if argument is None:
            return ()
        value = self.literal(argument, 'list of (column, transform) pairs, e.g. [("ts", "day")]')
        if value is None or columns is None:
            return ()
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in value
        ):
            self.report.error(
                argument.span,
                f"partition_spec must be a list of (column, transform) pairs, got {value!r}",
                'for example [("created_at", "day")]',
            )
            return ()
        by_name = {c.name: c for c in columns if c.name not in METADATA_COLUMN_NAMES}
        fields: list[PartitionField] = []
        for source_column, transform in value:
            field = self.partition_field(
                argument, by_name, fields, source_column, transform, source
            )
            if field is not None:
                fields.append(field)
        return tuple(fields)

    def partition_field(
        self,
        argument: Argument,
        by_name: dict[str, Column],
        fields: list[PartitionField],
        source_column: str,
        transform: str,
        source: str,
    ) -> PartitionField | None:
        """One (column, transform) pair, checked the way Iceberg will check it."""
        if not TRANSFORM.match(transform):
            self.report.error(
                argument.span,
                f"unknown partition transform {transform!r}",
                "use identity, year, month, day, hour, bucket[N] or truncate[W]",
            )
            return None
        if "[" in transform and int(transform[transform.index("[") + 1 : -1]) > (
            MAX_TRANSFORM_ARGUMENT
        ):
            self.report.error(
                argument.span,
                f"partition transform {transform!r} is beyond Iceberg's limit",
                f"bucket counts and truncate widths are 32-bit: at most {MAX_TRANSFORM_ARGUMENT}",
            )
            return None
        column = by_name.get(source_column)
        if column is None:
            self.report.error(
                argument.span,
                f"partition column {source_column!r} is not a column of {source}",
                did_you_mean(source_column, list(by_name), always_list=True),
            )
            return None
        kind = transform.split("[")[0]
        type_name = getattr(
            column.type, "name", "decimal" if hasattr(column.type, "scale") else None
        )
        accepted = TRANSFORM_SOURCE_TYPES[kind]
        if type_name is None or (accepted is not None and type_name not in accepted):
            shown = type_name or "nested"
            self.report.error(
                argument.span,
                f"partition transform {transform!r} cannot take {source_column!r}, a {shown} "
                "column",
                f"{kind} accepts "
                + (", ".join(sorted(accepted)) if accepted else "primitive")
                + " columns",
            )
            return None
        for other in fields:
            same_source = other.source == source_column
            if same_source and (
                other.transform == transform
                or (kind in TIME_TRANSFORMS and other.transform in TIME_TRANSFORMS)
            ):
                self.report.error(
                    argument.span,
                    f"partition fields {other.transform!r} and {transform!r} of {source_column!r} "
                    "are redundant",
                    "Iceberg allows one time transform (year, month, day or hour) per column",
                )
                return None
        suffix = PARTITION_NAME_SUFFIX.get(kind, kind)
        name = source_column if kind == "identity" else f"{source_column}_{suffix}"
        if kind != "identity" and name in by_name:
            self.report.error(
                argument.span,
                f"partition field name {name!r} is also a column name",
                "Iceberg refuses a partition field named like a column: rename the column",
            )
            return None
        return PartitionField(0, source_column, transform, name, argument.span)

    def cron(self, argument: Argument | None) -> str | None:
        if argument is None:
            return None
        value = self.literal(argument, "string")
        if value is None:
            return None
        problem: str | None = "it must be a string"
        if isinstance(value, str):
            problem = cron_problem(value)
            if problem is None:
                return value
        self.report.error(
            argument.span,
            f"invalid cron {value!r}: {problem}",
            'for example "0 */1 * * *" (hourly) or "30 6 * * mon-fri"',
        )
        return None

    def freshness(self, argument: Argument | None) -> FreshnessHours | None:
        if argument is None:
            return None
        value = self.literal(argument, "(warn_hours, fail_hours) tuple")
        if value is None:
            return None
        if not (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            and 0 < value[0] < value[1]
        ):
            self.report.error(
                argument.span,
                "freshness_hours must be (warn_hours, fail_hours) "
                f"with 0 < warn < fail, got {value!r}",
                "for example freshness_hours=(1, 24)",
            )
            return None
        return FreshnessHours(value[0], value[1])

    def integer(self, argument: Argument | None, default: int, minimum: int) -> int | None:
        if argument is None or argument.value is None:  # None is the decorator's default too
            return default
        value = self.literal(argument, "integer")
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.report.error(
                argument.span,
                f"{argument.name} must be an integer >= {minimum}, got {value!r}",
                INTEGER_HINTS.get(argument.name, ""),
            )
            return None
        return value

    def allowances(self, argument: Argument | None) -> tuple[str, ...]:
        """`allow_breaking=("CAS201:legacy_id", ...)`: the breaking changes a review accepted."""
        if argument is None:
            return ()
        value = self.literal(argument, "tuple of strings")
        if value is None:
            return ()
        entries = (value,) if isinstance(value, str) else value
        allowable = sorted(code for code, rule in RULES.items() if rule.allowable)
        if not isinstance(entries, tuple | list) or not all(isinstance(e, str) for e in entries):
            self.report.error(
                argument.span,
                f"allow_breaking must be a tuple of strings, got {value!r}",
                'e.g. allow_breaking=("CAS201:legacy_id",), as `cascade diff` prints it',
            )
            return ()
        for entry in entries:
            code, _, subject = entry.partition(":")
            if code not in allowable or not subject:
                self.report.error(
                    argument.span,
                    f"allow_breaking entry {entry!r} is not CODE:subject with a breaking change "
                    "that Iceberg can apply",
                    f"codes that can be allowed: {', '.join(allowable)}; `cascade diff` prints "
                    "the entry to copy",
                )
                return ()
        return tuple(sorted(set(entries)))

    def boolean(self, argument: Argument | None, default: bool) -> bool:
        if argument is None:
            return default
        value = self.literal(argument, "boolean")
        if not isinstance(value, bool):
            if value is not None:
                self.report.error(
                    argument.span,
                    f"{argument.name} must be True or False, got {value!r}",
                    "validate=False skips Pandera validation",
                )
            return default
        return value


def _type_name(column: Column) -> str:
    """A column type's family: `long`, `decimal`, `fixed`, ..., `nested` for struct/list/map."""
    if hasattr(column.type, "scale"):
        return "decimal"
    return str(getattr(column.type, "name", "nested")).split("[")[0]
