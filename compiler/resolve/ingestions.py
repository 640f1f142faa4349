"""Resolves each @cascade_ingestion into an Ingestion: parameters, model, ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Protocol

from cascade.compiler.config import ProjectConfig
from cascade.compiler.diagnostics import Diagnostic, Span, did_you_mean
from cascade.compiler.frontend.facts import IngestionFacts, ModuleFacts, NameRef
from cascade.compiler.ir import (
    METADATA_COLUMN_NAMES,
    METADATA_COLUMNS,
    Column,
    Ingestion,
    TableModel,
    TableSummary,
)
from cascade.compiler.resolve.classes import ModuleLoader, ProjectIndex
from cascade.compiler.resolve.field_ids import assign_ids
from cascade.compiler.resolve.iceberg_schema import read_iceberg_schema
from cascade.compiler.resolve.lock import TableLock
from cascade.compiler.resolve.models import ModelReader
from cascade.compiler.resolve.parameters import ArgumentReader
from cascade.compiler.resolve.report import Reporter

PARAMETERS = (
    "table_name",
    "unique_key",
    "validation_schema",
    "group",
    "iceberg_schema",
    "partition_spec",
    "partitions",
    "cron",
    "freshness_hours",
    "max_runtime_seconds",
    "max_retries",
    "retry_delay_seconds",
    "validate",
    "allow_breaking",
    "ignored_keys",
    "maintenance",
)
REQUIRED_PARAMETERS = ("table_name", "unique_key", "group")
REQUIRED_HINTS = {
    "table_name": 'the Iceberg table to write, e.g. table_name="events"',
    "unique_key": 'the column(s) rows are merged on, e.g. unique_key="id"',
    "group": 'the Dagster asset group, e.g. group="github"',
}
# What the function receives with each granularity: the parameter name hints suggest, and
# the value (runtime/run.py, partition_argument).
PARTITION_ARGUMENTS = {
    "hourly": ("partition_hour", "the hour's start as YYYY-MM-DDTHH:00:00+00:00"),
    "daily": ("partition_date", "the day as YYYY-MM-DD"),
    "weekly": ("partition_date", "the week's first day (a Sunday) as YYYY-MM-DD"),
    "monthly": ("partition_date", "the month's first day as YYYY-MM-DD"),
}
# The defaults of phlo's decorator, which existing ingestions rely on.
DEFAULT_MAX_RUNTIME_SECONDS = 300
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_DELAY_SECONDS = 30


class Locks(Protocol):
    """The previous output's field-id locks, by table identifier (a dict will do; the driver
    reads each on first use and records which tables asked)."""

    def get(self, identifier: str) -> TableLock | None: ...


class IngestionResolver:
    def __init__(self, config: ProjectConfig, load_module: ModuleLoader, locks: Locks):
        self.config = config
        self.locks = locks
        self.report = Reporter()
        self.index = ProjectIndex(load_module)
        self.models = ModelReader(self.index, self.report)
        self.arguments = ArgumentReader(self.report)

    def resolve_all(self, modules: list[ModuleFacts]) -> list[Ingestion]:
        ingestions = [i for module in modules for i in self.resolve_module(module)]
        self.report.diagnostics.extend(duplicate_tables(i.summary for i in ingestions))
        return sorted(ingestions, key=lambda i: (i.group, i.table_name))

    def resolve_module(self, module: ModuleFacts) -> list[Ingestion]:
        """The module's ingestions; its diagnostics (parse and resolve) go to the report."""
        self.report.diagnostics.extend(module.diagnostics)
        ingestions = []
        for facts in module.ingestions:
            ingestion = self.resolve(module, facts)
            if ingestion is not None:
                ingestions.append(ingestion)
        return ingestions

    def resolve(self, module: ModuleFacts, facts: IngestionFacts) -> Ingestion | None:
        errors_before = self.report.count()
        for argument in facts.arguments:
            if argument.name not in PARAMETERS:
                self.report.error(
                    argument.span,
                    f"unknown @cascade_ingestion parameter {argument.name!r}",
                    did_you_mean(argument.name, PARAMETERS),
                )
        for name in REQUIRED_PARAMETERS:
            if facts.argument(name) is None:
                self.report.error(
                    facts.span,
                    f"@cascade_ingestion of {facts.function}() is "
                    f"missing the required parameter {name!r}",
                    REQUIRED_HINTS[name],
                )
        read = self.arguments
        table_name = read.identifier(facts.argument("table_name"))
        group = read.identifier(facts.argument("group"))
        model, columns, schema_source = self.table_columns(module, facts)
        unique_key = read.unique_key(facts.argument("unique_key"), columns, schema_source)
        partition = read.partition_spec(facts.argument("partition_spec"), columns, schema_source)
        partitions_valid, partitions = read.partitions(facts.argument("partitions"))
        cron = read.cron(facts.argument("cron"))
        if partitions_valid:
            self.check_signature(facts, partitions)
            cron_argument = facts.argument("cron")
            if cron and partitions and cron_argument is not None:
                read.cron_fits(cron_argument, cron, partitions)
        freshness = read.freshness(facts.argument("freshness_hours"))
        max_runtime = read.integer(
            facts.argument("max_runtime_seconds"), DEFAULT_MAX_RUNTIME_SECONDS, 1
        )
        max_retries = read.integer(facts.argument("max_retries"), DEFAULT_MAX_RETRIES, 0)
        retry_delay = read.integer(
            facts.argument("retry_delay_seconds"), DEFAULT_RETRY_DELAY_SECONDS, 0
        )
        validate = read.boolean(facts.argument("validate"), True)
        allowed_breaking = read.allowances(facts.argument("allow_breaking"))
        ignored_keys = read.ignored_keys(facts.argument("ignored_keys"), columns, schema_source)
        maintenance_argument = facts.argument("maintenance")
        maintenance = read.maintenance(maintenance_argument)
        if maintenance and maintenance_argument is not None and max_runtime is not None:
            read.orphan_age_fits(maintenance_argument, maintenance, max_runtime)
        if self.report.count() > errors_before or columns is None:
            return None
        assert table_name and group and unique_key and max_retries is not None
        identifier = f"{self.config.namespace}.{table_name}"
        lock = self.locks.get(identifier)
        if lock is not None:
            # A table made elsewhere and adopted (or made before a metadata column existed)
            # has rows without Cascade's metadata columns: they were added as optional, and
            # stay as the lock has them.
            columns = tuple(
                replace(c, required=lock.required.get((c.name,), False))
                if c.name in METADATA_COLUMN_NAMES
                else c
                for c in columns
            )
        ids = assign_ids(columns, partition, lock)
        return Ingestion(
            function=facts.function,
            module=module.module,
            path=module.path,
            table_name=table_name,
            namespace=self.config.namespace,
            group=group,
            unique_key=unique_key,
            model=model,
            columns=ids.columns,
            partition_fields=ids.partition_fields,
            cron=cron,
            freshness=freshness,
            max_runtime_seconds=max_runtime,
            max_retries=max_retries,
            retry_delay_seconds=retry_delay,
            validate=validate and model is not None,
            allowed_breaking=allowed_breaking,
            ignored_keys=ignored_keys,
            partition_start=self.config.partition_start,
            partitions=partitions,
            maintenance=maintenance,
            docstring=facts.docstring or "",
            span=facts.span,
            retired_fields=ids.retired,
            last_column_id=ids.last_column_id,
            last_partition_id=ids.last_partition_id,
            schema_source=schema_source,
        )

    def check_signature(self, facts: IngestionFacts, partitions: str | None) -> None:
        """The function takes what the generated asset passes: the partition, or nothing."""
        name = facts.function
        if partitions is None and not facts.takes_no_argument:
            self.report.error(
                facts.span,
                f"{name}() must take no parameters: with partitions=None the generated asset "
                f"loads the whole table and calls it as {name}()",
                f'write def {name}(), or choose time partitions (e.g. partitions="daily") to '
                "be called with the partition",
            )
        elif partitions is not None and not facts.takes_one_argument:
            parameter, value = PARTITION_ARGUMENTS[partitions]
            choice = (
                f'partitions="{partitions}"'
                if facts.argument("partitions") is not None
                else "daily partitions (the default)"
            )
            self.report.error(
                facts.span,
                f"{name}() must take the partition as its one positional parameter: with "
                f"{choice} the generated asset calls it as {name}({parameter}), {value}",
                f"write def {name}({parameter}: str), or pass partitions=None for a whole-table "
                f"load that calls {name}()",
            )

    def table_columns(
        self, module: ModuleFacts, facts: IngestionFacts
    ) -> tuple[TableModel | None, tuple[Column, ...] | None, str]:
        """The model (if any), the table's columns and what they came from. An explicit
        iceberg_schema takes precedence over the model's columns; the model still validates."""
        model_argument = facts.argument("validation_schema")
        schema_argument = facts.argument("iceberg_schema")
        if model_argument is None and schema_argument is None:
            self.report.error(
                facts.span,
                f"{facts.function}() has neither validation_schema nor iceberg_schema",
                "pass validation_schema=<your Pandera DataFrameModel>",
            )
            return None, None, ""
        model = None
        if model_argument is not None:
            if not isinstance(model_argument.value, NameRef):
                code = getattr(model_argument.value, "code", "")
                self.report.error(
                    model_argument.span,
                    f"validation_schema {code} is not a class defined or imported in this module"
                    if code.isidentifier()
                    else "validation_schema must name a Pandera DataFrameModel class",
                    did_you_mean(code, module.classes)
                    if code.isidentifier() and module.classes
                    else "for example validation_schema=RawEvents",
                )
                return None, None, ""
            model = self.models.read(module, model_argument.value)
            if model is None:
                return None, None, ""
        if schema_argument is not None:
            columns = read_iceberg_schema(
                self.index, module, schema_argument.value, self.report, schema_argument.span
            )
            source = getattr(schema_argument.value, "qualified_name", "iceberg_schema")
        else:
            assert model is not None
            columns, source = model.columns, model.class_name
        if columns is None:
            return model, None, source
        self.check_renames(columns)
        return model, self.with_metadata_columns(columns, facts.span), source

    def check_renames(self, columns: tuple[Column, ...]) -> None:
        names = {c.name for c in columns}
        for column in columns:
            if column.renamed_from and column.renamed_from in names:
                self.report.error(
                    column.span,
                    f"{column.name!r} is marked renamed_from "
                    f"{column.renamed_from!r}, which is still a column",
                    "remove the marker, or the old column",
                )

    def with_metadata_columns(self, columns: tuple[Column, ...], span: Span) -> tuple[Column, ...]:
        present = {c.name for c in columns}
        extra = tuple(
            Column(0, name, column_type, True, doc, span)
            for name, column_type, doc in METADATA_COLUMNS
            if name not in present
        )
        return tuple(columns) + extra


def duplicate_tables(tables: Iterable[TableSummary]) -> list[Diagnostic]:
    """An error for each ingestion that writes a table an earlier one (by place) writes."""
    problems = []
    seen: dict[str, TableSummary] = {}
    for table in sorted(tables, key=lambda t: t.span):
        first = seen.setdefault(table.table_name, table)
        if first is not table:
            problems.append(
                Diagnostic(
                    table.span,
                    f"table {table.identifier!r} is already written by {first.function}() "
                    f"at {first.span}",
                    "give each ingestion its own table_name",
                )
            )
    return problems


def resolve_project(
    config: ProjectConfig,
    modules: list[ModuleFacts],
    load_module: ModuleLoader,
    locks: Locks | None = None,
) -> tuple[list[Ingestion], list[Diagnostic]]:
    resolver = IngestionResolver(config, load_module, locks or {})
    ingestions = resolver.resolve_all(modules)
    return ingestions, sorted(set(resolver.report.diagnostics))


def resolve_module(
    config: ProjectConfig, module: ModuleFacts, load_module: ModuleLoader, locks: Locks
) -> tuple[list[Ingestion], list[Diagnostic]]:
    """One source module's ingestions and diagnostics, on their own: the unit the compile
    cache keeps. The project-wide check (`duplicate_tables`) is the caller's."""
    resolver = IngestionResolver(config, load_module, locks)
    return resolver.resolve_module(module), resolver.report.diagnostics
