"""Stage 4: link ingestions to their models across modules, check every parameter, map types
and assign field ids. Produces the IR, or diagnostics that say what to fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cascade.compiler.config import ProjectConfig
from cascade.compiler.cron import cron_problem
from cascade.compiler.diagnostics import Diagnostic, Span, did_you_mean
from cascade.compiler.facts import (
    Argument,
    ClassFacts,
    FieldFacts,
    IngestionFacts,
    ModuleFacts,
    NameRef,
    NotLiteral,
)
from cascade.compiler.ir import (
    Column,
    FreshnessHours,
    Ingestion,
    PartitionField,
    PrimitiveType,
    TableModel,
)
from cascade.compiler.types import UnsupportedType, iceberg_type

ModuleLoader = Callable[[str], ModuleFacts | None]

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
PARAMETERS = (
    "table_name",
    "unique_key",
    "validation_schema",
    "group",
    "iceberg_schema",
    "partition_spec",
    "cron",
    "freshness_hours",
    "max_runtime_seconds",
    "max_retries",
    "retry_delay_seconds",
    "validate",
)
REQUIRED_PARAMETERS = ("table_name", "unique_key", "group")
# Defaults of the seed's decorator.
DEFAULT_MAX_RUNTIME_SECONDS = 300
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_DELAY_SECONDS = 30

# Columns every table gets after the model's: dlt's lineage columns and the load time.
METADATA_COLUMNS = (
    ("_dlt_load_id", PrimitiveType("string"), "dlt load id"),
    ("_dlt_id", PrimitiveType("string"), "dlt row id"),
    ("_cascade_ingested_at", PrimitiveType("timestamptz"), "When Cascade loaded the row"),
)
FIRST_PARTITION_FIELD_ID = 1000
TRANSFORM = re.compile(
    r"^(identity|year|month|day|hour|bucket\[([1-9][0-9]*)\]|truncate\[([1-9][0-9]*)\])$"
)
PARTITION_NAME_SUFFIX = {"bucket": "bucket", "truncate": "trunc"}
TIME_TRANSFORMS = {"year", "month", "day", "hour"}
TIME_TYPES = {"date", "timestamp", "timestamptz"}


@dataclass
class Resolver:
    config: ProjectConfig
    load_module: ModuleLoader
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, span: Span, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(span, message, hint))

    # -- ingestions ------------------------------------------------------------------------

    def resolve_all(self, modules: list[ModuleFacts]) -> list[Ingestion]:
        ingestions = []
        for module in modules:
            self.diagnostics.extend(module.diagnostics)
            for facts in module.ingestions:
                ingestion = self.resolve_ingestion(module, facts)
                if ingestion is not None:
                    ingestions.append(ingestion)
        self.check_unique_tables(ingestions)
        return sorted(ingestions, key=lambda i: (i.group, i.table_name))

    def resolve_ingestion(self, module: ModuleFacts, facts: IngestionFacts) -> Ingestion | None:
        before = len(self.diagnostics)
        for argument in facts.arguments:
            if argument.name not in PARAMETERS:
                self.error(
                    argument.span,
                    f"unknown @cascade_ingestion parameter {argument.name!r}",
                    did_you_mean(argument.name, PARAMETERS),
                )
        for name in REQUIRED_PARAMETERS:
            if facts.argument(name) is None:
                self.error(
                    facts.span,
                    f"@cascade_ingestion of {facts.function}() is missing "
                    f"the required parameter {name!r}",
                )
        table_name = self.identifier(facts.argument("table_name"))
        group = self.identifier(facts.argument("group"))
        model = self.resolve_validation_schema(module, facts)
        unique_key = self.unique_key(facts.argument("unique_key"), model)
        partition = self.partition_spec(facts.argument("partition_spec"), model)
        cron = self.cron(facts.argument("cron"))
        freshness = self.freshness(facts.argument("freshness_hours"))
        max_runtime = self.integer(
            facts.argument("max_runtime_seconds"), DEFAULT_MAX_RUNTIME_SECONDS, 1
        )
        max_retries = self.integer(facts.argument("max_retries"), DEFAULT_MAX_RETRIES, 0)
        retry_delay = self.integer(
            facts.argument("retry_delay_seconds"), DEFAULT_RETRY_DELAY_SECONDS, 0
        )
        validate = self.boolean(facts.argument("validate"), True)
        if len(self.diagnostics) > before or model is None:
            return None
        assert table_name is not None and group is not None and unique_key is not None
        return Ingestion(
            function=facts.function,
            module=module.module,
            path=module.path,
            table_name=table_name,
            namespace=self.config.namespace,
            group=group,
            unique_key=unique_key,
            model=model,
            partition_fields=partition,
            cron=cron,
            freshness=freshness,
            max_runtime_seconds=max_runtime,
            max_retries=max_retries if max_retries is not None else DEFAULT_MAX_RETRIES,
            retry_delay_seconds=retry_delay,
            validate=validate,
            partition_start=self.config.partition_start,
            docstring=facts.docstring or "",
            span=facts.span,
        )

    def check_unique_tables(self, ingestions: list[Ingestion]) -> None:
        seen: dict[str, Ingestion] = {}
        for ingestion in sorted(ingestions, key=lambda i: i.span):
            first = seen.setdefault(ingestion.table_name, ingestion)
            if first is not ingestion:
                self.error(
                    ingestion.span,
                    f"table {ingestion.identifier!r} is already written by {first.function}() "
                    f"at {first.span}",
                    "give each ingestion its own table_name",
                )

    # -- parameters ------------------------------------------------------------------------

    def literal(self, argument: Argument, expected: str) -> object | None:
        if isinstance(argument.value, (NameRef, NotLiteral)):
            code = (
                argument.value.qualified_name
                if isinstance(argument.value, NameRef)
                else argument.value.code
            )
            self.error(
                argument.span,
                f"{argument.name} must be a literal {expected}, got {code}",
                "cascade gen reads the decorator without running your code; write the value inline",
            )
            return None
        return argument.value

    def identifier(self, argument: Argument | None) -> str | None:
        if argument is None:
            return None
        value = self.literal(argument, "string")
        if value is None:
            return None
        if not isinstance(value, str) or not IDENTIFIER.match(value):
            self.error(
                argument.span,
                f"{argument.name} must be a lowercase identifier (a-z, 0-9, _), got {value!r}",
                "it names the Iceberg table, the Dagster asset and a generated module",
            )
            return None
        return value

    def unique_key(
        self, argument: Argument | None, model: TableModel | None
    ) -> tuple[str, ...] | None:
        if argument is None:
            return None
        value = self.literal(argument, "column name or tuple of column names")
        if value is None:
            return None
        columns = (value,) if isinstance(value, str) else value
        if not (
            isinstance(columns, (tuple, list))
            and columns
            and all(isinstance(c, str) for c in columns)
            and len(set(columns)) == len(columns)
        ):
            self.error(
                argument.span,
                f"unique_key must be a column name or a tuple of distinct "
                f"column names, got {value!r}",
            )
            return None
        if model is not None:
            names = [c.name for c in model.columns]
            for column in columns:
                if column not in names:
                    self.error(
                        argument.span,
                        f"unique_key column {column!r} is not a column of {model.class_name}",
                        did_you_mean(column, names) + " (available: " + ", ".join(names) + ")",
                    )
        return tuple(columns)

    def partition_spec(
        self, argument: Argument | None, model: TableModel | None
    ) -> tuple[PartitionField, ...]:
        if argument is None:
            return ()
        value = self.literal(argument, 'list of (column, transform) pairs, e.g. [("ts", "day")]')
        if value is None or model is None:
            return ()
        shape_ok = isinstance(value, (list, tuple)) and all(
            isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, str) for x in p)
            for p in value
        )
        if not shape_ok:
            self.error(
                argument.span,
                f"partition_spec must be a list of (column, transform) pairs, got {value!r}",
                'for example [("created_at", "day")]',
            )
            return ()
        columns = {c.name: c for c in model.columns}
        fields = []
        for offset, (source, transform) in enumerate(value):
            match = TRANSFORM.match(transform)
            if not match:
                self.error(
                    argument.span,
                    f"unknown partition transform {transform!r}",
                    "use identity, year, month, day, hour, bucket[N] or truncate[W]",
                )
                continue
            column = columns.get(source)
            if column is None:
                self.error(
                    argument.span,
                    f"partition column {source!r} is not a column of {model.class_name}",
                    did_you_mean(source, columns),
                )
                continue
            kind = transform.split("[")[0]
            if kind in TIME_TRANSFORMS and getattr(column.type, "name", None) not in TIME_TYPES:
                self.error(
                    argument.span,
                    f"partition transform {transform!r} needs a date or "
                    f"timestamp column, {source!r} is not one",
                )
                continue
            suffix = PARTITION_NAME_SUFFIX.get(kind, kind)
            name = source if kind == "identity" else f"{source}_{suffix}"
            fields.append(
                PartitionField(
                    FIRST_PARTITION_FIELD_ID + offset, source, transform, name, argument.span
                )
            )
        return tuple(fields)

    def cron(self, argument: Argument | None) -> str | None:
        if argument is None:
            return None
        value = self.literal(argument, "string")
        if value is None:
            return None
        problem = cron_problem(value) if isinstance(value, str) else "it must be a string"
        if problem:
            self.error(
                argument.span,
                f"invalid cron {value!r}: {problem}",
                'for example "0 */1 * * *" (every hour) or "30 6 * * mon-fri"',
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
            self.error(
                argument.span,
                f"freshness_hours must be (warn_hours, fail_hours) with "
                f"0 < warn < fail, got {value!r}",
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
            self.error(
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
                self.error(argument.span, f"{argument.name} must be True or False, got {value!r}")
            return default
        return value

    # -- models ----------------------------------------------------------------------------

    def resolve_validation_schema(
        self, module: ModuleFacts, facts: IngestionFacts
    ) -> TableModel | None:
        argument = facts.argument("validation_schema")
        if argument is None:
            if facts.argument("iceberg_schema") is None:
                self.error(
                    facts.span,
                    f"{facts.function}() has neither validation_schema nor iceberg_schema",
                    "pass validation_schema=<your Pandera DataFrameModel>",
                )
            else:
                self.error(
                    facts.argument("iceberg_schema").span,  # type: ignore[union-attr]
                    "iceberg_schema without validation_schema is not supported yet",
                    "pass validation_schema=<your Pandera DataFrameModel>",
                )
            return None
        if not isinstance(argument.value, NameRef):
            self.error(
                argument.span,
                "validation_schema must name a Pandera DataFrameModel class",
                "for example validation_schema=RawEvents",
            )
            return None
        found = self.find_class(module, argument.value)
        if found is None:
            return None
        class_module, class_facts = found
        fields = self.model_fields(class_module, class_facts, argument.span, set())
        if fields is None:
            return None
        return TableModel(
            class_name=class_facts.name,
            module=class_module.module,
            docstring=class_facts.docstring or "",
            columns=self.columns(class_module, fields),
            span=class_facts.span,
        )

    def find_class(
        self, module: ModuleFacts, ref: NameRef
    ) -> tuple[ModuleFacts, ClassFacts] | None:
        name = ref.qualified_name
        if name.startswith("."):
            package = module.module.split(".")
            if not module.path.endswith("__init__.py"):
                package = package[:-1]
            dots = len(name) - len(name.lstrip("."))
            package = package[: len(package) - (dots - 1)] if dots > 1 else package
            name = ".".join(package + [name.lstrip(".")])
        if "." not in name:
            target_module, class_name = module, name
        else:
            module_name, class_name = name.rsplit(".", 1)
            target = self.load_module(module_name)
            if target is None:
                self.error(
                    ref.span,
                    f"cannot find module {module_name!r} of {ref.qualified_name} in the project",
                    "models must live in the project's own modules",
                )
                return None
            target_module = target
        found = target_module.classes.get(class_name)
        if found is None:
            self.error(
                ref.span,
                f"{class_name!r} is not a class defined in {target_module.path}",
                did_you_mean(class_name, target_module.classes),
            )
            return None
        return target_module, found

    def model_fields(
        self, module: ModuleFacts, facts: ClassFacts, span: Span, seen: set[str]
    ) -> list[tuple[ModuleFacts, FieldFacts]] | None:
        """The model's fields in Pandera's order: inherited ones first, overrides in place."""
        key = f"{module.module}.{facts.name}"
        if key in seen:
            self.error(facts.span, f"class {facts.name} inherits from itself")
            return None
        seen = seen | {key}
        fields: list[tuple[ModuleFacts, FieldFacts]] = []
        is_model = False
        for base in facts.bases:
            if base.qualified_name.startswith("pandera") and base.qualified_name.endswith(
                "DataFrameModel"
            ):
                is_model = True
                continue
            found = self.find_class(module, base)
            if found is None:
                return None
            inherited = self.model_fields(found[0], found[1], span, seen)
            if inherited is None:
                return None
            is_model = True
            fields.extend(inherited)
        if not is_model:
            self.error(
                span,
                f"{facts.name} is not a Pandera DataFrameModel",
                "derive it from pandera.pandas.DataFrameModel",
            )
            return None
        for own in facts.fields:
            index = next(
                (i for i, (_, f) in enumerate(fields) if f.attribute == own.attribute), None
            )
            if index is None:
                fields.append((module, own))
            else:
                fields[index] = (module, own)
        return fields

    def columns(
        self, module: ModuleFacts, fields: list[tuple[ModuleFacts, FieldFacts]]
    ) -> tuple[Column, ...]:
        columns: list[Column] = []
        for field_module, facts in fields:
            column = self.column(field_module, facts, len(columns) + 1)
            if column is not None:
                columns.append(column)
        for name, type_, doc in METADATA_COLUMNS:
            if not any(c.name == name for c in columns):
                columns.append(Column(len(columns) + 1, name, type_, True, doc, Span(module.path)))
        return tuple(columns)

    def column(self, module: ModuleFacts, facts: FieldFacts, field_id: int) -> Column | None:
        if facts.attribute.startswith("_"):
            self.error(
                facts.span,
                f"Pandera ignores the attribute {facts.attribute!r} because it starts with '_'",
                f"name it differently and map the column with alias=, e.g. "
                f"{facts.attribute.lstrip('_') or 'field'}_: ... = "
                f'Field(alias="{facts.attribute}")',
            )
            return None
        if isinstance(facts.annotation, NotLiteral):
            self.error(
                facts.span, f"cannot read the type of {facts.attribute}: {facts.annotation.code}"
            )
            return None
        name = self.field_string(module, facts, "alias") or facts.attribute
        doc = self.field_string(module, facts, "description") or ""
        nullable = self.field_bool(module, facts, "nullable", False)
        try:
            type_ = iceberg_type(facts.annotation)
        except UnsupportedType as problem:
            self.error(facts.annotation.span or facts.span, problem.message, problem.hint)
            return None
        required = not facts.annotation.optional and not nullable
        return Column(field_id, name, type_, required, doc, facts.span)

    def field_value(self, module: ModuleFacts, facts: FieldFacts, name: str) -> object | None:
        argument = facts.argument(name)
        if argument is None:
            return None
        value = argument.value
        if isinstance(value, NameRef):
            value = self.constant(module, value)
        if isinstance(value, (NameRef, NotLiteral)) or value is None:
            self.error(
                argument.span,
                f"Field({name}=...) of {facts.attribute} must be a literal "
                "or a module-level constant",
                "cascade gen reads models without running them",
            )
            return None
        return value

    def field_string(self, module: ModuleFacts, facts: FieldFacts, name: str) -> str | None:
        value = self.field_value(module, facts, name)
        if value is not None and not isinstance(value, str):
            self.error(facts.argument(name).span, f"Field({name}=...) must be a string")  # type: ignore[union-attr]
            return None
        return value

    def field_bool(self, module: ModuleFacts, facts: FieldFacts, name: str, default: bool) -> bool:
        value = self.field_value(module, facts, name)
        return value if isinstance(value, bool) else default

    def constant(self, module: ModuleFacts, ref: NameRef) -> object | None:
        """The literal value of a module-level constant, followed through imports."""
        name = ref.qualified_name
        if "." in name:
            module_name, name = name.rsplit(".", 1)
            target = self.load_module(module_name)
            if target is None:
                return None
            module = target
        found = module.constants.get(name)
        if found is None or isinstance(found.value, NotLiteral):
            return None
        if isinstance(found.value, NameRef):
            return self.constant(module, found.value)
        return found.value


def resolve_project(
    config: ProjectConfig, modules: list[ModuleFacts], load_module: ModuleLoader
) -> tuple[list[Ingestion], list[Diagnostic]]:
    resolver = Resolver(config, load_module)
    ingestions = resolver.resolve_all(modules)
    return ingestions, sorted(set(resolver.diagnostics))
