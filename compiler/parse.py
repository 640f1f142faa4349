"""Stage 2: read one module with libcst, without importing it, into ModuleFacts."""

from __future__ import annotations

import ast

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider

from cascade.compiler.diagnostics import Diagnostic, Span
from cascade.compiler.facts import (
    Argument,
    CallValue,
    ClassFacts,
    FieldFacts,
    IngestionFacts,
    ModuleFacts,
    NameRef,
    NotLiteral,
    TypeRef,
    Value,
)

DECORATOR_NAMES = frozenset(
    {"cascade.runtime.cascade_ingestion", "cascade.runtime.decorator.cascade_ingestion"}
)
OPTIONAL_NAMES = frozenset({"typing.Optional", "typing_extensions.Optional"})
UNION_NAMES = frozenset({"typing.Union", "typing_extensions.Union"})
ANNOTATED_NAMES = frozenset({"typing.Annotated", "typing_extensions.Annotated"})


def parse_module(path: str, module: str, source: str) -> ModuleFacts:
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        span, message = Span(path, error.raw_line, error.raw_column + 1), error.message
        try:  # Python's own parser points where an editor would, with its familiar wording
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as python_error:
            span = Span(path, python_error.lineno or 1, python_error.offset or 1)
            message = python_error.msg
        diagnostic = Diagnostic(
            span, f"syntax error: {message}", "fix the file, then run cascade gen"
        )
        return ModuleFacts(path, module, diagnostics=(diagnostic,))
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    gatherer = GatherModuleFacts(path, wrapper)
    wrapper.visit(gatherer)
    return ModuleFacts(
        path=path,
        module=module,
        classes=gatherer.classes,
        constants=gatherer.constants,
        ingestions=tuple(gatherer.ingestions),
        diagnostics=tuple(gatherer.diagnostics),
    )


class GatherModuleFacts(cst.CSTVisitor):
    """Collects top-level classes, constants and decorated functions; changes nothing."""

    METADATA_DEPENDENCIES = (PositionProvider, QualifiedNameProvider)

    def __init__(self, path: str, wrapper: MetadataWrapper):
        super().__init__()
        self.path = path
        self.module = wrapper.module
        self.classes: dict[str, ClassFacts] = {}
        self.constants: dict[str, Argument] = {}
        self.ingestions: list[IngestionFacts] = []
        self.diagnostics: list[Diagnostic] = []

    # -- top level -------------------------------------------------------------------------

    def visit_Module(self, node: cst.Module) -> bool:
        for statement in node.body:
            if isinstance(statement, cst.ClassDef):
                self.classes[statement.name.value] = self.read_class(statement)
            elif isinstance(statement, cst.FunctionDef):
                self.read_function(statement)
            elif isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    self.read_constant(small)
        return False

    def read_constant(self, node: cst.BaseSmallStatement) -> None:
        if isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
            # Recorded so that a re-export (`from .events import RawEvents`) can be followed.
            dots = "." * len(node.relative)
            base = self.module.code_for_node(node.module) if node.module else ""
            for alias in node.names:
                imported = self.module.code_for_node(alias.name)
                local = alias.evaluated_alias or imported
                ref = NameRef(
                    f"{dots}{base}.{imported}" if base else f"{dots}{imported}", self.span(alias)
                )
                self.constants[local] = Argument(local, ref, self.span(alias))
            return
        if isinstance(node, cst.Assign) and len(node.targets) == 1:
            target, value = node.targets[0].target, node.value
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            return
        if isinstance(target, cst.Name):
            self.constants[target.value] = Argument(
                target.value, self.value(value), self.span(node)
            )

    def read_function(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            expression = decorator.decorator
            callee = expression.func if isinstance(expression, cst.Call) else expression
            if not self.qualified_names(callee) & DECORATOR_NAMES:
                continue
            if not isinstance(expression, cst.Call):
                self.diagnostics.append(
                    Diagnostic(
                        self.span(decorator),
                        "@cascade_ingestion needs arguments",
                        'write @cascade_ingestion(table_name="...", unique_key="...", ...)',
                    )
                )
                return
            self.ingestions.append(
                IngestionFacts(
                    function=node.name.value,
                    arguments=self.call_arguments(expression, "@cascade_ingestion"),
                    docstring=node.get_docstring(clean=True),
                    span=self.span(node.name),
                )
            )

    def read_class(self, node: cst.ClassDef) -> ClassFacts:
        bases = tuple(self.name_ref(arg.value) for arg in node.bases)
        fields: list[FieldFacts] = []
        config: tuple[Argument, ...] = ()
        for statement in node.body.body:
            if isinstance(statement, cst.ClassDef) and statement.name.value == "Config":
                config = self.read_config(statement)
            elif isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                        fields.append(self.read_field(small))
        return ClassFacts(
            name=node.name.value,
            bases=tuple(b for b in bases if isinstance(b, NameRef)),
            fields=tuple(fields),
            config=config,
            docstring=node.get_docstring(clean=True),
            span=self.span(node.name),
        )

    def read_config(self, node: cst.ClassDef) -> tuple[Argument, ...]:
        options = []
        for statement in node.body.body:
            if isinstance(statement, cst.SimpleStatementLine):
                for small in statement.body:
                    if isinstance(small, cst.Assign) and isinstance(
                        small.targets[0].target, cst.Name
                    ):
                        name = small.targets[0].target.value
                        options.append(Argument(name, self.value(small.value), self.span(small)))
        return tuple(options)

    def read_field(self, node: cst.AnnAssign) -> FieldFacts:
        assert isinstance(node.target, cst.Name)
        arguments: tuple[Argument, ...] = ()
        if isinstance(node.value, cst.Call):
            arguments = self.call_arguments(node.value, "Field(...)")
        return FieldFacts(
            attribute=node.target.value,
            annotation=self.type_ref(node.annotation.annotation),
            arguments=arguments,
            span=self.span(node.target),
        )

    # -- expressions -----------------------------------------------------------------------

    def call_arguments(self, call: cst.Call, what: str) -> tuple[Argument, ...]:
        arguments = []
        for arg in call.args:
            if arg.keyword is None:
                self.diagnostics.append(
                    Diagnostic(
                        self.span(arg),
                        f"{what} takes keyword arguments only",
                        'name the argument, e.g. table_name="..."',
                    )
                )
                continue
            arguments.append(Argument(arg.keyword.value, self.value(arg.value), self.span(arg)))
        return tuple(arguments)

    def value(self, node: cst.BaseExpression) -> Value:
        """A literal as its Python value, a (dotted) name as a NameRef, a call as a CallValue,
        anything else as NotLiteral."""
        is_constant = isinstance(node, cst.Name) and node.value in ("True", "False", "None")
        if isinstance(node, (cst.Name, cst.Attribute)) and not is_constant:
            return self.name_ref(node)
        if isinstance(node, cst.Call):
            return self.call_value(node)
        code = self.module.code_for_node(node)
        try:
            # literal_eval only evaluates literals (strings, numbers, tuples, lists, dicts,
            # sets, booleans, None); it cannot run user code.
            return ast.literal_eval(code.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return NotLiteral(code, self.span(node))

    def call_value(self, node: cst.Call) -> CallValue | NotLiteral:
        function = self.name_ref(node.func)
        if isinstance(function, NotLiteral) or any(a.star for a in node.args):
            return NotLiteral(self.module.code_for_node(node), self.span(node))
        positional = tuple(self.value(a.value) for a in node.args if a.keyword is None)
        keywords = tuple(
            (a.keyword.value, self.value(a.value)) for a in node.args if a.keyword is not None
        )
        return CallValue(function.qualified_name, positional, keywords, self.span(node))

    def name_ref(self, node: cst.BaseExpression) -> NameRef | NotLiteral:
        names = self.qualified_names(node)
        if not names:
            return NotLiteral(self.module.code_for_node(node), self.span(node))
        return NameRef(sorted(names)[0], self.span(node))

    def type_ref(self, node: cst.BaseExpression) -> TypeRef | NotLiteral:
        span = self.span(node)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            parts = [self.type_ref(node.left), self.type_ref(node.right)]
            return self.union(parts, node, span)
        if isinstance(node, cst.Subscript):
            names = self.qualified_names(node.value)
            elements = [self.slice_value(element) for element in node.slice]
            if names & OPTIONAL_NAMES and len(elements) == 1:
                inner = self.type_ref(node.slice[0].slice.value)  # type: ignore[union-attr]
                return self.union([inner, TypeRef("builtins.None", span=span)], node, span)
            if names & UNION_NAMES:
                parts = [self.type_ref(e.slice.value) for e in node.slice]  # type: ignore[union-attr]
                return self.union(parts, node, span)
            if names & ANNOTATED_NAMES:
                inner = self.type_ref(node.slice[0].slice.value)  # type: ignore[union-attr]
                if isinstance(inner, NotLiteral):
                    return inner
                return TypeRef(inner.name, tuple(elements[1:]), inner.optional, span)
            base = self.name_ref(node.value)
            if isinstance(base, NotLiteral):
                return base
            return TypeRef(base.qualified_name, tuple(elements), False, span)
        if isinstance(node, cst.Name) and node.value == "None":
            return TypeRef("builtins.None", span=span)
        base = self.name_ref(node)
        if isinstance(base, NotLiteral):
            return base
        return TypeRef(base.qualified_name, (), False, span)

    def slice_value(self, element: cst.SubscriptElement) -> object:
        inner = element.slice
        if not isinstance(inner, cst.Index):
            return NotLiteral(self.module.code_for_node(inner), self.span(inner))
        if isinstance(inner.value, (cst.Name, cst.Attribute, cst.Subscript, cst.BinaryOperation)):
            if isinstance(inner.value, cst.Name) and inner.value.value in ("True", "False", "None"):
                return self.value(inner.value)
            return self.type_ref(inner.value)
        return self.value(inner.value)

    def union(self, parts: list, node: cst.BaseExpression, span: Span) -> TypeRef | NotLiteral:
        """`X | None`, `Optional[X]`, `Union[X, None]` -> X marked optional; other unions stay."""
        if any(isinstance(p, NotLiteral) for p in parts):
            return next(p for p in parts if isinstance(p, NotLiteral))
        concrete = [p for p in parts if p.name != "builtins.None"]
        if len(concrete) == 1 and len(parts) > len(concrete):
            only = concrete[0]
            return TypeRef(only.name, only.args, True, only.span)
        return TypeRef("typing.Union", tuple(parts), False, span)

    # -- metadata --------------------------------------------------------------------------

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        return {q.name for q in self.get_metadata(QualifiedNameProvider, node, set())}

    def span(self, node: cst.CSTNode) -> Span:
        start = self.get_metadata(PositionProvider, node).start
        return Span(self.path, start.line, start.column + 1)
