"""What the parse stage reads from one module: plain frozen data, no libcst nodes.

Parsing is per module and knows nothing of other modules; the resolve stage links
ingestions to models across modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cascade.compiler.diagnostics import Diagnostic, Span


@dataclass(frozen=True)
class NameRef:
    """A reference to a name, by qualified name (`examples.schemas.nightscout.RawGlucose`).

    A name defined in the same module has no dots unless it is relative (`.models.X`).
    """

    qualified_name: str
    span: Span


@dataclass(frozen=True)
class NotLiteral:
    """An expression the compiler cannot evaluate statically; `code` is its source text."""

    code: str
    span: Span


@dataclass(frozen=True)
class CallValue:
    """A call such as `NestedField(1, "id", StringType(), required=True)`, kept as data."""

    function: str  # qualified name
    args: tuple[object, ...]
    kwargs: tuple[tuple[str, object], ...]
    span: Span

    def keyword(self, name: str, default: object = None) -> object:
        return next((value for key, value in self.kwargs if key == name), default)


Value = object  # a Python literal (str, int, tuple, ...), a NameRef, a CallValue or NotLiteral


@dataclass(frozen=True)
class Argument:
    name: str
    value: Value
    span: Span


@dataclass(frozen=True)
class TypeRef:
    """A type annotation: the qualified name of the type, its arguments, and `| None`."""

    name: str
    args: tuple[object, ...] = ()
    optional: bool = False
    span: Span | None = None


@dataclass(frozen=True)
class FieldFacts:
    attribute: str
    annotation: TypeRef | NotLiteral
    arguments: tuple[Argument, ...]
    span: Span

    def argument(self, name: str) -> Argument | None:
        return next((a for a in self.arguments if a.name == name), None)


@dataclass(frozen=True)
class ClassFacts:
    name: str
    bases: tuple[NameRef, ...]
    fields: tuple[FieldFacts, ...]
    config: tuple[Argument, ...]
    docstring: str | None
    span: Span


@dataclass(frozen=True)
class IngestionFacts:
    function: str
    arguments: tuple[Argument, ...]
    docstring: str | None
    span: Span
    # How the function can be called, which the resolve stage checks against `partitions=`:
    # with one positional argument (the partition), and with none (a whole-table load).
    takes_one_argument: bool = True
    takes_no_argument: bool = False

    def argument(self, name: str) -> Argument | None:
        return next((a for a in self.arguments if a.name == name), None)


@dataclass(frozen=True)
class ModuleFacts:
    path: str
    module: str
    classes: dict[str, ClassFacts] = field(default_factory=dict)
    constants: dict[str, Argument] = field(default_factory=dict)
    ingestions: tuple[IngestionFacts, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()


def absolute_name(module: ModuleFacts, name: str) -> str:
    """`.models.X` seen from `pkg.sub.mod` -> `pkg.sub.models.X`."""
    if not name.startswith("."):
        return name
    package = module.module.split(".")
    if not module.path.endswith("__init__.py"):
        package = package[:-1]
    dots = len(name) - len(name.lstrip("."))
    package = package[: len(package) - (dots - 1)] if dots > 1 else package
    return ".".join(package + [name.lstrip(".")])
