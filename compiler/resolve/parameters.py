"""Checks the literal arguments of @cascade_ingestion, one reader per parameter."""

from __future__ import annotations

import re

from cascade.compiler.cron import cron_problem
from cascade.compiler.diagnostics import did_you_mean
from cascade.compiler.facts import Argument, CallValue, NameRef, NotLiteral
from cascade.compiler.ir import Column, FreshnessHours, PartitionField
from cascade.compiler.resolve.report import Reporter

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
TRANSFORM = re.compile(
    r"^(identity|year|month|day|hour|bucket\[[1-9][0-9]*\]|truncate\[[1-9][0-9]*\])$"
)
PARTITION_NAME_SUFFIX = {"bucket": "bucket", "truncate": "trunc"}
TIME_TRANSFORMS = {"year", "month", "day", "hour"}
TIME_TYPES = {"date", "timestamp", "timestamptz"}


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
        if value is None:
            return None
        if not isinstance(value, str) or not IDENTIFIER.match(value):
            self.report.error(
                argument.span,
                f"{argument.name} must be a lowercase identifier (a-z, 0-9, _), got {value!r}",
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
        if value is None:
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
            names = [c.name for c in columns]
            for key in keys:
                if key not in names:
                    self.report.error(
                        argument.span,
                        f"unique_key column {key!r} is not a column of {source}",
                        did_you_mean(key, names, always_list=True),
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
        pairs_ok = isinstance(value, (list, tuple)) and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in value
        )
        if not pairs_ok:
            self.report.error(
                argument.span,
                f"partition_spec must be a list of (column, transform) pairs, got {value!r}",
                'for example [("created_at", "day")]',
            )
            return ()
        by_name = {c.name: c for c in columns}
        fields = []
        for source_column, transform in value:
            if not TRANSFORM.match(transform):
                self.report.error(
                    argument.span,
                    f"unknown partition transform {transform!r}",
                    "use identity, year, month, day, hour, bucket[N] or truncate[W]",
                )
                continue
            column = by_name.get(source_column)
            if column is None:
                self.report.error(
                    argument.span,
                    f"partition column {source_column!r} is not a column of {source}",
                    did_you_mean(source_column, list(by_name), always_list=True),
                )
                continue
            kind = transform.split("[")[0]
            type_name = getattr(column.type, "name", None)
            if kind in TIME_TRANSFORMS and type_name not in TIME_TYPES:
                self.report.error(
                    argument.span,
                    f"partition transform {transform!r} needs a date "
                    f"or timestamp column; {source_column!r} is not one",
                )
                continue
            if type_name is None:
                self.report.error(
                    argument.span, f"cannot partition by the nested column {source_column!r}"
                )
                continue
            if any(f.source == source_column and f.transform == transform for f in fields):
                self.report.error(
                    argument.span,
                    f"partition field ({source_column!r}, {transform!r}) is listed twice",
                )
                continue
            suffix = PARTITION_NAME_SUFFIX.get(kind, kind)
            name = source_column if kind == "identity" else f"{source_column}_{suffix}"
            fields.append(PartitionField(0, source_column, transform, name, argument.span))
        return tuple(fields)

    def cron(self, argument: Argument | None) -> str | None:
        if argument is None:
            return None
        value = self.literal(argument, "string")
        if value is None:
            return None
        problem = cron_problem(value) if isinstance(value, str) else "it must be a string"
        if problem:
            self.report.error(
                argument.span,
                f"invalid cron {value!r}: {problem}",
                'for example "0 */1 * * *" (hourly) or "30 6 * * mon-fri"',
            )
            return None
        return value

    def freshness(self, argument: Argument | None) -> FreshnessHours | None:
        if argument is None:
            return None
        value = self.literal(argument, "(warn_hours, fail_hours) tuple")
        if value is None:
            return None
        numbers = (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        )
        if not numbers or not 0 < value[0] < value[1]:
            self.report.error(
                argument.span,
                "freshness_hours must be (warn_hours, fail_hours) "
                f"with 0 < warn < fail, got {value!r}",
                "for example freshness_hours=(1, 24)",
            )
            return None
        return FreshnessHours(value[0], value[1])

    def integer(self, argument: Argument | None, default: int, minimum: int) -> int | None:
        if argument is None:
            return default
        value = self.literal(argument, "integer")
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.report.error(
                argument.span, f"{argument.name} must be an integer >= {minimum}, got {value!r}"
            )
            return None
        return value

    def boolean(self, argument: Argument | None, default: bool) -> bool:
        if argument is None:
            return default
        value = self.literal(argument, "boolean")
        if not isinstance(value, bool):
            if value is not None:
                self.report.error(
                    argument.span, f"{argument.name} must be True or False, got {value!r}"
                )
            return default
        return value
