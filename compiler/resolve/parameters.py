"""Checks the literal arguments of @cascade_ingestion, one reader per parameter."""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import replace

from cascade.compiler.diagnostics import did_you_mean
from cascade.compiler.frontend.facts import Argument, CallValue, NameRef, NotLiteral
from cascade.compiler.ir import (
    METADATA_COLUMN_NAMES,
    Column,
    FreshnessHours,
    IcebergType,
    ListType,
    Maintenance,
    MapType,
    PartitionField,
    StructType,
)
from cascade.compiler.maintenance import INTEGER_MAINTENANCE_OPTIONS, MAINTENANCE_OPTIONS
from cascade.compiler.resolve.cron import GRANULARITIES, cron_problem, partitions_ticked
from cascade.compiler.resolve.naming import dlt_name
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
DEFAULT_PARTITIONS = "daily"  # phlo's decorator's, which existing ingestions rely on
PARTITION_UNITS = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month"}
CRON_EXAMPLES = {
    "hourly": '"0 * * * *"',
    "daily": '"0 6 * * *"',
    "weekly": '"0 6 * * 1" (Mondays)',
    "monthly": '"0 6 1 * *"',
}
# The upkeep job of a table without `maintenance=`: daily at 03:30 UTC, off the hour hourly loads
# tick on (runtime/decorator.py's default), with `cascade maintain`'s defaults
# (runtime/maintain.py; a test keeps them equal).
DEFAULT_MAINTENANCE = Maintenance("30 3 * * *", 7, 24, None)
MAINTENANCE_KEYS = ("cron", *MAINTENANCE_OPTIONS)
MAINTENANCE_EXAMPLE = (
    'e.g. maintenance="30 3 * * 0" (Sundays at 03:30 UTC), maintenance={"cron": "30 3 * * *", '
    '"retention_days": 30}, or maintenance=None for no upkeep job'
)
IGNORED_KEYS_EXAMPLE = (
    'e.g. ignored_keys=("actor.avatar_url", "payload.commits"), as the load\'s warning about '
    "dropped keys names them"
)


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
            'for example "0 */1 * * *" (every hour) or "30 6 * * *" (every day at 06:30 UTC)',
        )
        return None

    def partitions(self, argument: Argument | None) -> tuple[bool, str | None]:
        """`partitions="hourly"` (or daily, the default, weekly, monthly), or None for a
        whole-table load: (whether the argument is valid, the granularity)."""
        if argument is None:
            return True, DEFAULT_PARTITIONS
        value = self.literal(argument, 'string or None, e.g. partitions="hourly"')
        if value is None:
            return argument.value is None, None  # a literal None, or literal() reported it
        if value in GRANULARITIES:
            assert isinstance(value, str)
            return True, value
        choices = ", ".join(f'"{g}"' for g in GRANULARITIES)
        hint = 'None loads the whole table at once, without partitions; "daily" is the default'
        if isinstance(value, str):
            close = did_you_mean(value.strip().lower(), GRANULARITIES)
            hint = close if close.startswith("did you mean") else hint
        self.report.error(
            argument.span,
            f"partitions must be {choices} or None, got {_shown(value)}",
            hint,
        )
        return False, None

    def cron_fits(self, argument: Argument, cron: str, partitions: str) -> None:
        """A cron that leaves a partition without a tick: at each tick the partition in progress
        is loaded, and the one before it once more at the first tick after it closed
        (runtime/automation.py), so only a tick in every partition loads each one complete."""
        ticked = partitions_ticked(cron)
        if partitions in ticked:
            return
        unit = PARTITION_UNITS[partitions]
        fitting = next((g for g in GRANULARITIES if g in ticked), None)
        coarser = f'partitions="{fitting}", or ' if fitting else ""
        weeks = " (weeks run Sunday to Saturday, UTC)" if partitions == "weekly" else ""
        self.report.error(
            argument.span,
            f"cron {cron!r} leaves {unit}s without a tick; {partitions} partitions need one in "
            f"every {unit}{weeks}, or a partition's last rows are never loaded",
            f"a cron that ticks every {unit}, e.g. {CRON_EXAMPLES[partitions]}; or "
            f"{coarser}partitions=None (the whole table at each tick)",
        )

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

    def ignored_keys(
        self, argument: Argument | None, columns: tuple[Column, ...] | None, source: str
    ) -> tuple[str, ...]:
        """`ignored_keys=("actor.avatar_url", "payload.commits")`: source keys the table does
        not keep on purpose, as dotted paths like the load's warning about dropped keys names
        them; each names everything under it. A key the table keeps cannot be ignored."""
        if argument is None or argument.value is None:  # None: the decorator's default, ()
            return ()
        value = self.literal(argument, "tuple of strings")
        if value is None:
            return ()
        entries = (value,) if isinstance(value, str) else value
        if not isinstance(entries, tuple | list) or not all(isinstance(e, str) for e in entries):
            self.report.error(
                argument.span,
                f"ignored_keys must be a tuple of strings, got {_shown(value)}",
                IGNORED_KEYS_EXAMPLE,
            )
            return ()
        errors_before = self.report.count()
        seen: set[str] = set()
        for entry in entries:
            if any(not part.strip() for part in entry.split(".")):
                self.report.error(
                    argument.span,
                    f"ignored_keys entry {_shown(entry)} is not a dotted key path: a part of it "
                    "is empty or blank",
                    IGNORED_KEYS_EXAMPLE,
                )
            elif entry in seen:
                self.report.error(
                    argument.span,
                    f"ignored_keys names {_shown(entry)} twice",
                    "keep one of them",
                )
            elif columns is not None and (kept := _kept(entry, columns)) is not None:
                where, columns_under = kept
                if columns_under:
                    self.report.error(
                        argument.span,
                        f"ignored_keys entry {_shown(entry)} holds the column(s) "
                        f"{', '.join(columns_under)} of {source}",
                        "an entry ignores everything under it: name the keys under it that "
                        "the table does not keep, as the load's warning names them",
                    )
                else:
                    self.report.error(
                        argument.span,
                        f"ignored_keys entry {_shown(entry)} is a key {source} keeps: it goes "
                        f"to {where}",
                        f"remove the entry, or the column from {source}: a key is either "
                        "kept or ignored",
                    )
            elif outer := next((o for o in entries if entry.startswith(o + ".")), None):
                self.report.error(
                    argument.span,
                    f"ignored_keys entry {_shown(entry)} is inside {_shown(outer)}, which the "
                    "tuple names already",
                    "an entry ignores everything under it: remove the inner one",
                )
            seen.add(entry)
        if self.report.count() > errors_before:
            return ()
        return tuple(sorted(set(entries)))

    def maintenance(self, argument: Argument | None) -> Maintenance | None:
        """`maintenance="30 3 * * *"` (a cron), a dict of the cron and `cascade maintain`'s
        options, or None for no upkeep job (errors are reported, and give None too)."""
        if argument is None:
            return DEFAULT_MAINTENANCE
        value = self.literal(argument, "cron string, dict or None")
        if value is None:  # a literal None, or literal() reported it
            return None
        if isinstance(value, str):
            cron = self.maintenance_cron(argument, value)
            return None if cron is None else replace(DEFAULT_MAINTENANCE, cron=cron)
        if not isinstance(value, dict):
            self.report.error(
                argument.span,
                f"maintenance must be a cron string, a dict of upkeep options or None, got "
                f"{_shown(value)}",
                MAINTENANCE_EXAMPLE,
            )
            return None
        errors_before = self.report.count()
        chosen: dict[str, object] = {}
        for key, option in value.items():
            if key not in MAINTENANCE_KEYS:
                self.report.error(
                    argument.span,
                    f"unknown maintenance option {_shown(key)}",
                    did_you_mean(key if isinstance(key, str) else "", MAINTENANCE_KEYS),
                )
            elif key == "cron":
                if isinstance(option, str):
                    chosen[key] = self.maintenance_cron(argument, option)
                else:
                    self.report.error(
                        argument.span,
                        f"maintenance cron must be a string, got {_shown(option)}",
                        'e.g. "30 3 * * *" (every day at 03:30 UTC); maintenance=None for no '
                        "upkeep job",
                    )
            else:
                chosen[key] = self.maintenance_option(argument, key, option)
        if self.report.count() > errors_before:
            return None
        return replace(DEFAULT_MAINTENANCE, **chosen)  # type: ignore[arg-type]

    def maintenance_cron(self, argument: Argument, cron: str) -> str | None:
        problem = cron_problem(cron)
        if problem is None:
            return cron
        self.report.error(
            argument.span,
            f"invalid maintenance cron {_shown(cron)}: {problem}",
            'for example "30 3 * * *" (every day at 03:30 UTC) or "30 3 * * 0" (Sundays)',
        )
        return None

    def maintenance_option(self, argument: Argument, key: str, value: object) -> object:
        """A number of `maintenance={...}` within its bounds (MAINTENANCE_OPTIONS), an integer
        for INTEGER_MAINTENANCE_OPTIONS; None where the default is None."""
        low, open_low, high, meaning = MAINTENANCE_OPTIONS[key]
        if value is None and getattr(DEFAULT_MAINTENANCE, key) is None:
            return None  # cascade maintain's default (MAINTENANCE_OPTIONS says which)
        integer = key in INTEGER_MAINTENANCE_OPTIONS
        kinds = int if integer else int | float
        if isinstance(value, kinds) and not isinstance(value, bool) and math.isfinite(value):
            if (low < value if open_low else low <= value) and value <= high:
                return value
        bounds = f"greater than {low} and at most {high}" if open_low else f"from {low} to {high}"
        self.report.error(
            argument.span,
            f"maintenance {key} must be {'an integer' if integer else 'a number'} {bounds}, "
            f"got {_shown(value)}",
            meaning,
        )
        return None

    def orphan_age_fits(
        self, argument: Argument, maintenance: Maintenance, max_runtime_seconds: int
    ) -> None:
        """The safety window of orphan removal must be longer than a load runs: a load writes
        its files before its commit references them."""
        if maintenance.orphan_age_hours * 3600 > max_runtime_seconds:
            return
        self.report.error(
            argument.span,
            f"maintenance orphan_age_hours={maintenance.orphan_age_hours} is not longer than a "
            f"load may run (max_runtime_seconds={max_runtime_seconds}): orphan removal could "
            "delete the files of a load before its commit references them",
            "a window longer than the longest load: a backfill runs up to max_runtime_seconds "
            "for each of its partitions",
        )

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


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kept(entry: str, columns: tuple[Column, ...]) -> tuple[str, list[str]] | None:
    """Where the table keeps the source key `entry` (a dotted path as the load names dropped
    keys), the way the load routes keys to columns (runtime/records.py): the column or field it
    goes to, or the columns under it (`payload` of `payload__action`); None for a key the load
    would drop. Keys are named as dlt names them (`avatarUrl` -> `avatar_url`); a struct's
    fields, list elements (`tags[]`) and map keys and values (`m.value`) are followed below a
    column."""
    by_name = {c.name: c for c in columns if c.name not in METADATA_COLUMN_NAMES}
    renamed = {c.renamed_from: c for c in columns if c.renamed_from}
    parts = [_list_part(part) for part in entry.split(".")]
    flattened: list[str] = []  # the keys of nested objects flattened into `a__b` columns
    for index, (key, lists) in enumerate(parts):
        if index == 0 and key in by_name:
            column: Column | None = by_name[joined := key]
        else:
            name = _key_name(key)
            if name is None:
                return None
            flattened.append(name)
            joined = "__".join(flattened)
            column = by_name.get(joined) or (renamed.get(joined) if index == 0 else None)
        if column is not None:
            path = _kept_below(column.type, lists, parts[index + 1 :], column.name)
            if path is None:
                return None
            where = f"the column {column.name!r}"
            if column.name != joined and column.renamed_from == joined:
                where += f" (renamed from {joined!r})"
            return (where if path == column.name else f"{path}, in {where}"), []
        if lists:  # a list the table has no column for: the load drops it whole
            return None
    prefix = "__".join(flattened) + "__"
    under = [repr(name) for name in by_name if name.startswith(prefix)]
    return ("", under) if under else None


def _kept_below(
    value: IcebergType, lists: int, parts: list[tuple[str, int]], path: str
) -> str | None:
    """The path of what keeps the rest of a key below a column's type `value`, or None where
    the load drops it: a key a struct has no field for."""
    for _ in range(lists):
        if not isinstance(value, ListType):
            return path
        value, path = value.element, path + "[]"
    if not parts:
        return path
    (key, lists), rest = parts[0], parts[1:]
    if isinstance(value, StructType):
        name = key if any(f.name == key for f in value.fields) else _key_name(key)
        field = next((f for f in value.fields if f.name == name), None)
        if field is None:
            return None
        return _kept_below(field.type, lists, rest, f"{path}.{field.name}")
    if isinstance(value, MapType) and key in ("key", "value"):
        inner = value.key if key == "key" else value.value
        return _kept_below(inner, lists, rest, f"{path}.{key}")
    # Inside a primitive, a list's elements or a map's entries: all of it is the column's.
    return path


def _list_part(part: str) -> tuple[str, int]:
    """`tags[]` -> ("tags", 1): the load names a list's elements `column[]`."""
    lists = 0
    while part.endswith("[]") and len(part) > 2:
        part, lists = part[:-2], lists + 1
    return part, lists


def _key_name(key: str) -> str | None:
    """dlt's name for a source key; None where it is not known here (a key holding `__`,
    which dlt names as one identifier, not as the path it names for a column)."""
    return dlt_name(key) if "__" not in key else None
