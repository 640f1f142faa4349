"""Reads a Pandera DataFrameModel, across modules and base classes, into a TableModel."""

from __future__ import annotations

from cascade.compiler.diagnostics import Span, did_you_mean
from cascade.compiler.frontend.facts import (
    CallValue,
    ClassFacts,
    FieldFacts,
    ModuleFacts,
    NameRef,
    NotLiteral,
    TypeRef,
)
from cascade.compiler.ir import METADATA_COLUMN_NAMES, Column, TableModel
from cascade.compiler.resolve.classes import ProjectIndex
from cascade.compiler.resolve.naming import dlt_keeps, dlt_name
from cascade.compiler.resolve.report import Reporter
from cascade.compiler.resolve.types import TypeMapper, UnsupportedType

TYPED_DICT_BASES = {"typing.TypedDict", "typing_extensions.TypedDict"}
# Field(...) keywords that are not checks.
FIELD_OPTIONS = {
    "alias", "description", "title", "nullable", "unique", "coerce", "regex", "ignore_na",
    "raise_warning", "n_failure_cases", "dtype_kwargs", "metadata", "check_name", "default",
}  # fmt: skip
PANDERA_CHECKS = {
    "eq", "ne", "gt", "ge", "lt", "le", "in_range", "isin", "notin", "str_contains",
    "str_endswith", "str_length", "str_matches", "str_startswith", "unique_values_eq",
}  # fmt: skip


def is_literal(value: object) -> bool:
    return not isinstance(value, (NotLiteral, NameRef, CallValue))


def is_pandera_model_base(name: str) -> bool:
    return name.startswith("pandera") and name.endswith("DataFrameModel")


class ModelReader:
    def __init__(self, index: ProjectIndex, report: Reporter):
        self.index = index
        self.report = report

    def read(self, module: ModuleFacts, ref: NameRef) -> TableModel | None:
        found = self.index.find_class(module, ref.qualified_name)
        if isinstance(found, str):
            self.report.error(
                ref.span,
                f"cannot resolve validation_schema: {found}",
                "import the model class from a module of this project",
            )
            return None
        class_module, facts = found
        cycle = self.index.import_cycle(class_module)
        if cycle is not None:
            chain = " -> ".join(m.module for m in cycle)
            self.report.error(
                self.index.import_span(class_module, cycle[1]),
                f"{class_module.module} imports itself through {chain}: Python cannot import "
                "these modules (a circular import), so Dagster could not load the asset",
                "move what the modules share into a module of its own that imports neither",
            )
            return None
        if not self.is_pandera_model(class_module, facts, ref.span, set()):
            return None
        fields = self.fields(class_module, facts)
        columns = [c for c in (self.column(m, f) for m, f in fields) if c is not None]
        if not self.distinct(columns):
            return None
        return TableModel(
            class_name=facts.name,
            module=class_module.module,
            docstring=facts.docstring or "",
            columns=tuple(columns),
            span=facts.span,
        )

    def distinct(self, columns: list[Column]) -> bool:
        """Whether no two fields name the same column (Pandera refuses the model)."""
        first: dict[str, Column] = {}
        for column in columns:
            if (earlier := first.setdefault(column.name, column)) is not column:
                self.report.error(
                    column.span,
                    f"{column.attribute} and {earlier.attribute} both name the column "
                    f"{column.name!r}",
                    "give each field its own column name (alias=)",
                )
        return len(first) == len(columns)

    def is_pandera_model(
        self, module: ModuleFacts, facts: ClassFacts, span: Span, seen: set[str]
    ) -> bool:
        """Whether the class derives from a Pandera DataFrameModel (pandas' or polars')."""
        key = f"{module.module}.{facts.name}"
        if key in seen:
            self.report.error(facts.span, f"class {facts.name} inherits from itself")
            return False
        for base in facts.bases:
            name = base.qualified_name
            if is_pandera_model_base(name):
                return True
            found = self.index.find_class(module, name)
            if not isinstance(found, str) and self.is_pandera_model(
                found[0], found[1], span, seen | {key}
            ):
                return True
        if not seen:
            self.report.error(
                span,
                f"{facts.name} is not a Pandera DataFrameModel",
                "derive it from pandera.pandas.DataFrameModel (or pandera.polars.DataFrameModel)",
            )
        return False

    def fields(
        self, module: ModuleFacts, facts: ClassFacts
    ) -> list[tuple[ModuleFacts, FieldFacts]]:
        """The model's fields in Pandera's order: inherited ones first, overrides in place."""
        fields: list[tuple[ModuleFacts, FieldFacts]] = []
        for base in facts.bases:
            found = self.index.find_class(module, base.qualified_name)
            if not isinstance(found, str):
                for inherited in self.fields(*found):
                    if not any(f.attribute == inherited[1].attribute for _, f in fields):
                        fields.append(inherited)
        for own in facts.fields:
            index = next(
                (i for i, (_, f) in enumerate(fields) if f.attribute == own.attribute), None
            )
            if index is None:
                fields.append((module, own))
            else:
                fields[index] = (module, own)
        return fields

    def column(self, module: ModuleFacts, facts: FieldFacts) -> Column | None:
        if facts.attribute.startswith("_"):
            self.report.error(
                facts.span,
                f"Pandera ignores the attribute {facts.attribute!r} because it starts with '_'",
                "name it differently and map the column with alias=, e.g. "
                f"{facts.attribute.lstrip('_') or 'field'}_: ... = "
                f'Field(alias="{facts.attribute}")',
            )
            return None
        if isinstance(facts.annotation, NotLiteral):
            self.report.error(
                facts.span, f"cannot read the type of {facts.attribute}: {facts.annotation.code}"
            )
            return None
        if facts.annotation.name in ("typing.ClassVar", "typing_extensions.ClassVar"):
            return None
        options = {}
        for argument in facts.arguments:
            value = argument.value
            if isinstance(value, NameRef):
                value = self.index.constant(module, value)
            if argument.name in FIELD_OPTIONS:
                if not is_literal(value):
                    self.report.error(
                        argument.span,
                        f"Field({argument.name}=...) of "
                        f"{facts.attribute} must be a literal or a module-level "
                        "constant",
                        "cascade gen reads models without running them",
                    )
                    return None
                options[argument.name] = value
            elif argument.name in PANDERA_CHECKS:
                # A check's argument matters to Pandera, not to the table: one the compiler
                # cannot read (a computed list, say) is fine.
                continue
            else:
                self.report.error(
                    argument.span,
                    f"Field({argument.name}=...) is not a Pandera Field option: Pandera would "
                    "fail to build the model",
                    did_you_mean(argument.name, sorted(FIELD_OPTIONS | PANDERA_CHECKS)),
                )
        name = options.get("alias", facts.attribute)
        if not isinstance(name, str):
            self.report.error(facts.span, f"alias of {facts.attribute} must be a string")
            return None
        if not name:
            self.report.error(
                facts.span,
                f"alias of {facts.attribute} is empty: a column needs a name",
                f"leave alias= out to name the column {facts.attribute!r}, or give the source's "
                "key as dlt names it",
            )
            return None
        if name in METADATA_COLUMN_NAMES:
            self.report.error(
                facts.span,
                f"column {name!r} is one that dlt or Cascade fills in for every table",
                f"name {facts.attribute}'s column differently (alias=); {name} is in every "
                "table already",
            )
            return None
        if not dlt_keeps(name):
            self.report.error(
                facts.span,
                f"column {name!r} would be renamed by dlt to {dlt_name(name)!r}, so it would "
                "never receive data",
                f'name the column {dlt_name(name)!r} (e.g. Field(alias="{dlt_name(name)}"))',
            )
            return None
        dtype_kwargs = options.get("dtype_kwargs")
        if dtype_kwargs is not None and not isinstance(dtype_kwargs, dict):
            self.report.error(
                facts.span,
                f"dtype_kwargs of {facts.attribute} must be a dict",
                'for example Field(dtype_kwargs={"tz": "UTC"})',
            )
            return None
        mapper = TypeMapper(lambda ref: self.struct_fields(module, ref))
        annotation = facts.annotation
        try:
            column_type = mapper.map(annotation, dtype_kwargs)
        except UnsupportedType as problem:
            self.report.error(annotation.span or facts.span, problem.message, problem.hint)
            return None
        nullable = options.get("nullable") is True
        renamed_from = self.renamed_from(options.get("metadata"), facts)
        return Column(
            field_id=0,
            name=name,
            type=column_type,
            required=not annotation.optional and not nullable,
            doc=str(options.get("description") or ""),
            span=facts.span,
            attribute=facts.attribute,
            renamed_from=renamed_from,
        )

    def renamed_from(self, metadata: object, facts: FieldFacts) -> str | None:
        """`Field(metadata={"cascade": {"renamed_from": "old_name"}})`."""
        if not isinstance(metadata, dict) or not isinstance(metadata.get("cascade"), dict):
            return None
        old = metadata["cascade"].get("renamed_from")
        if old is not None and not isinstance(old, str):
            self.report.error(facts.span, "renamed_from must be the column's previous name")
            return None
        return old

    def struct_fields(self, module: ModuleFacts, ref: TypeRef):
        """Fields of a TypedDict class named by `ref`, or None when it names no TypedDict."""
        found = self.index.find_class(module, ref.name)
        if isinstance(found, str):
            return None
        struct_module, facts = found
        if not any(b.qualified_name in TYPED_DICT_BASES for b in facts.bases):
            return None
        if any(b.qualified_name == "typing.TypedDict" for b in facts.bases):
            # Pandera reads a typing.TypedDict's fields only on Python 3.12 and later; the
            # project runs on 3.11 too.
            raise UnsupportedType(
                f"{facts.name} derives from typing.TypedDict, which Pandera cannot read on "
                "Python 3.11",
                "from typing_extensions import TypedDict",
            )
        names = [f.attribute for f in facts.fields]
        twice = next((name for name in names if names.count(name) > 1), None)
        if twice is not None:  # an Iceberg struct cannot hold two fields of one name
            raise UnsupportedType(
                f"{facts.name} declares the field {twice!r} twice", "remove one of them"
            )
        # JSON objects may omit keys, so every struct field is optional in the table.
        return [(f.attribute, f.annotation, False) for f in facts.fields]
