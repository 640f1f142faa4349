"""Stage 2: read one module with libcst, without importing it, into ModuleFacts.

libcst gives the concrete syntax tree; names are resolved through the module's own top-level
imports, and positions come from Python's `ast` parse of the same text, matched statement by
statement. Both are far cheaper than libcst's scope and position metadata, which made a cold
`cascade gen` of a large project take minutes (see tests/bench/compile.py).
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Sequence

import libcst as cst

from cascade.compiler.diagnostics import Diagnostic, Span
from cascade.compiler.frontend.facts import (
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
BUILTIN_NAMES = frozenset(dir(builtins))


def parse_module(path: str, module: str, source: str) -> ModuleFacts:
    try:
        tree = cst.parse_module(source)
        python_tree = ast.parse(source, path)
    except (cst.ParserSyntaxError, SyntaxError, ValueError):
        return ModuleFacts(path, module, diagnostics=(syntax_error(path, source),))
    gatherer = GatherModuleFacts(path, tree, source)
    gatherer.read_module(python_tree)
    return ModuleFacts(
        path=path,
        module=module,
        classes=gatherer.classes,
        constants=gatherer.constants,
        ingestions=tuple(gatherer.ingestions),
        diagnostics=tuple(gatherer.diagnostics),
    )


def syntax_error(path: str, source: str) -> Diagnostic:
    """Python's own message and position: where an editor would point."""
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        span = Span(path, error.lineno or 1, error.offset or 1)
        return Diagnostic(span, f"syntax error: {error.msg}", "fix the file, then run cascade gen")
    except ValueError as error:  # e.g. a NUL byte in the file
        return Diagnostic(Span(path), f"cannot parse: {error}", "fix the file")
    return Diagnostic(Span(path), "libcst cannot parse this file", "fix the file")


def call_shapes(arguments: ast.arguments) -> tuple[bool, bool]:
    """Whether a function with these parameters can be called with one positional argument,
    and with none."""
    positional = [*arguments.posonlyargs, *arguments.args]
    required = len(positional) - len(arguments.defaults)
    keyword_only = any(default is None for default in arguments.kw_defaults)
    takes_one = (bool(positional) or arguments.vararg is not None) and required <= 1
    return takes_one and not keyword_only, required == 0 and not keyword_only


def statements(body: Sequence[cst.BaseStatement | cst.BaseSmallStatement]) -> list[cst.CSTNode]:
    """libcst statements one per Python statement, as `ast` lists them (`a = 1; b = 2` is two)."""
    flat: list[cst.CSTNode] = []
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine):
            flat.extend(statement.body)
        else:
            flat.append(statement)
    return flat


class GatherModuleFacts:
    """Collects top-level classes, constants and decorated functions; changes nothing."""

    def __init__(self, path: str, tree: cst.Module, source: str):
        self.path = path
        self.module = tree
        self.source = source
        self.lines = source.splitlines()
        self.imports: dict[str, str] = {}  # local name -> qualified name
        self.defined: set[str] = set()
        self.classes: dict[str, ClassFacts] = {}
        self.constants: dict[str, Argument] = {}
        self.ingestions: list[IngestionFacts] = []
        self.diagnostics: list[Diagnostic] = []

    def span(self, node: ast.stmt | ast.expr | ast.keyword | ast.alias) -> Span:
        return Span(self.path, node.lineno, node.col_offset + 1)

    def name_span(
        self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef, keyword: str
    ) -> Span:
        """Where the name of `class Name` / `def name` stands on its line."""
        line = self.lines[node.lineno - 1]
        at = line.find(node.name, line.find(keyword, node.col_offset) + len(keyword))
        return Span(self.path, node.lineno, (at if at >= 0 else node.col_offset) + 1)

    # -- top level -------------------------------------------------------------------------

    def read_module(self, python_tree: ast.Module) -> None:
        pairs = list(zip(statements(self.module.body), python_tree.body, strict=True))
        for node, _ in pairs:  # names first: a decorator may use a later import
            self.record_names(node)
        for node, python in pairs:
            if isinstance(node, cst.ClassDef):
                assert isinstance(python, ast.ClassDef)
                self.classes[node.name.value] = self.read_class(node, python)
            elif isinstance(node, cst.FunctionDef):
                assert isinstance(python, ast.FunctionDef | ast.AsyncFunctionDef)
                self.read_function(node, python)
            else:
                self.read_constant(node, python)
        self.refuse_stray_decorators(python_tree)

    def refuse_stray_decorators(self, python_tree: ast.Module) -> None:
        """@cascade_ingestion anywhere but on a module-level function (a class, a method, a
        nested function, or applied by hand to a lambda): no asset could call it."""
        if not self.may_name_the_decorator():
            return  # a model module: walking all its nodes was a fifth of parsing it
        top_level = {
            id(node)
            for node in python_tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        for node in ast.walk(python_tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if id(node) in top_level:
                    continue
                stray = [d for d in node.decorator_list if self.is_decorator(d)]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Call):
                stray = [node.func] if self.is_decorator(node.func) else []
            else:
                continue
            for decorator in stray:
                self.diagnostics.append(
                    Diagnostic(
                        self.span(decorator),
                        "@cascade_ingestion decorates module-level functions only; here no "
                        "generated asset could call what it decorates",
                        "move it onto a module-level def taking the partition date",
                    )
                )

    def may_name_the_decorator(self) -> bool:
        """Whether any name of the module can resolve to the decorator (`is_decorator`): one
        imported from the `cascade` package, or a module-level `cascade`."""
        return "cascade" in self.defined or any(
            target.split(".")[0] == "cascade" for target in self.imports.values()
        )

    def is_decorator(self, expression: ast.expr) -> bool:
        """Whether `expression` (`cascade_ingestion(...)`, `cr.cascade_ingestion`) names the
        decorator, through the module's imports."""
        node = expression.func if isinstance(expression, ast.Call) else expression
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        return isinstance(node, ast.Name) and bool(self.resolve(node.id, parts) & DECORATOR_NAMES)

    def record_names(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                dotted = self.module.code_for_node(alias.name)
                if alias.evaluated_alias is not None:  # `import a.b as c`
                    self.imports[alias.evaluated_alias] = dotted
                else:  # `import a.b` binds `a`
                    head = dotted.split(".")[0]
                    self.imports[head] = head
        elif isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
            dots = "." * len(node.relative)
            base = self.module.code_for_node(node.module) if node.module else ""
            for alias in node.names:
                imported = self.module.code_for_node(alias.name)
                local = alias.evaluated_alias or imported
                self.imports[local] = f"{dots}{base}.{imported}" if base else f"{dots}{imported}"
        elif isinstance(node, (cst.ClassDef, cst.FunctionDef)):
            self.defined.add(node.name.value)
        elif isinstance(node, (cst.Assign, cst.AnnAssign)):
            targets = (
                [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            )
            self.defined.update(t.value for t in targets if isinstance(t, cst.Name))

    def read_constant(self, node: cst.CSTNode, python: ast.stmt) -> None:
        if isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
            # Recorded so that a re-export (`from .events import RawEvents`) can be followed.
            assert isinstance(python, ast.ImportFrom)
            for alias, python_alias in zip(node.names, python.names, strict=True):
                local = alias.evaluated_alias or self.module.code_for_node(alias.name)
                span = (
                    self.span(python_alias)
                    if hasattr(python_alias, "lineno")
                    else self.span(python)
                )
                self.constants[local] = Argument(local, NameRef(self.imports[local], span), span)
            return
        if isinstance(node, cst.Assign) and len(node.targets) == 1:
            target = node.targets[0].target
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            target = node.target
        else:
            return
        if isinstance(target, cst.Name):
            assert isinstance(python, ast.Assign | ast.AnnAssign) and python.value is not None
            span = self.span(python)
            self.constants[target.value] = Argument(target.value, self.value(python.value), span)

    def read_function(
        self, node: cst.FunctionDef, python: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> None:
        for decorator, python_decorator in zip(node.decorators, python.decorator_list, strict=True):
            expression = decorator.decorator
            callee = expression.func if isinstance(expression, cst.Call) else expression
            if not self.qualified_names(callee) & DECORATOR_NAMES:
                continue
            if not isinstance(expression, cst.Call):
                self.diagnostics.append(
                    Diagnostic(
                        self.span(python_decorator),
                        "@cascade_ingestion needs arguments",
                        'write @cascade_ingestion(table_name="...", unique_key="...", ...)',
                    )
                )
                return
            if not self.synchronous(node, python):
                return
            assert isinstance(python_decorator, ast.Call)
            takes_one, takes_none = call_shapes(python.args)
            self.ingestions.append(
                IngestionFacts(
                    function=node.name.value,
                    arguments=self.call_arguments(
                        expression, python_decorator, "@cascade_ingestion"
                    ),
                    docstring=node.get_docstring(clean=True),
                    span=self.name_span(python, "def"),
                    takes_one_argument=takes_one,
                    takes_no_argument=takes_none,
                )
            )

    def synchronous(
        self, node: cst.FunctionDef, python: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> bool:
        """Whether the generated asset can call the function as it does: synchronously. (Its
        parameters are checked against `partitions=` when the decorator is resolved.)"""
        if node.asynchronous is None:
            return True
        name = node.name.value
        self.diagnostics.append(
            Diagnostic(
                self.name_span(python, "def"),
                f"{name}() is async; the generated asset calls it and runs the dlt source "
                "it returns synchronously",
                f"write {name}() without async (a plain def) and return the dlt source",
            )
        )
        return False

    def read_class(self, node: cst.ClassDef, python: ast.ClassDef) -> ClassFacts:
        span = self.name_span(python, "class")
        bases = [self.name_ref(arg.value, span) for arg in node.bases if arg.keyword is None]
        fields: list[FieldFacts] = []
        config: tuple[Argument, ...] = ()
        for statement, python_statement in zip(
            statements(node.body.body), python.body, strict=True
        ):
            if isinstance(statement, cst.ClassDef) and statement.name.value == "Config":
                assert isinstance(python_statement, ast.ClassDef)
                config = self.read_config(statement, python_statement)
            elif isinstance(statement, cst.AnnAssign) and isinstance(statement.target, cst.Name):
                assert isinstance(python_statement, ast.AnnAssign)
                fields.append(self.read_field(statement, python_statement))
        return ClassFacts(
            name=node.name.value,
            bases=tuple(b for b in bases if isinstance(b, NameRef)),
            fields=tuple(fields),
            config=config,
            docstring=node.get_docstring(clean=True),
            span=span,
        )

    def read_config(self, node: cst.ClassDef, python: ast.ClassDef) -> tuple[Argument, ...]:
        options = []
        for statement, python_statement in zip(
            statements(node.body.body), python.body, strict=True
        ):
            if isinstance(statement, cst.Assign) and isinstance(
                statement.targets[0].target, cst.Name
            ):
                assert isinstance(python_statement, ast.Assign)
                span = self.span(python_statement)
                name = statement.targets[0].target.value
                options.append(Argument(name, self.value(python_statement.value), span))
        return tuple(options)

    def read_field(self, node: cst.AnnAssign, python: ast.AnnAssign) -> FieldFacts:
        assert isinstance(node.target, cst.Name)
        arguments: tuple[Argument, ...] = ()
        if isinstance(node.value, cst.Call) and isinstance(python.value, ast.Call):
            arguments = self.call_arguments(node.value, python.value, "Field(...)")
        return FieldFacts(
            attribute=node.target.value,
            annotation=self.type_ref(node.annotation.annotation, self.span(python.annotation)),
            arguments=arguments,
            span=self.span(python.target),
        )

    # -- expressions -----------------------------------------------------------------------

    def call_arguments(self, call: cst.Call, python: ast.Call, what: str) -> tuple[Argument, ...]:
        # The same keyword arguments in the same order in both trees.
        keywords = iter([k for k in python.keywords if k.arg is not None])
        positional = iter(python.args)
        arguments: list[Argument] = []
        for arg in call.args:
            if arg.keyword is None:
                python_arg = next(positional, python)
                self.diagnostics.append(
                    Diagnostic(
                        self.span(python_arg),
                        f"{what} takes keyword arguments only",
                        'name the argument, e.g. table_name="..."',
                    )
                )
                continue
            name = arg.keyword.value
            keyword = next(keywords, None)
            span = self.span(keyword) if keyword else self.span(python)
            if any(argument.name == name for argument in arguments):
                self.diagnostics.append(
                    Diagnostic(
                        span,
                        f"{what} gives {name}= more than once; Python refuses such a call",
                        f"keep one {name}=",
                    )
                )
                continue
            value = self.value(keyword.value) if keyword else NotLiteral("", span)
            arguments.append(Argument(name, value, span))
        return tuple(arguments)

    def value(self, node: ast.expr) -> Value:
        """A literal as its Python value, a (dotted) name as a NameRef, a call as a CallValue,
        anything else as NotLiteral. Read from the `ast` node: no code generation needed."""
        span = self.span(node)
        if isinstance(node, (ast.Name, ast.Attribute)):
            names = self.python_qualified_names(node)
            if names:
                return NameRef(sorted(names)[0], span)
            return NotLiteral(ast.get_source_segment(self.source, node) or "", span)
        if isinstance(node, ast.Call):
            return self.call_value(node)
        try:
            # literal_eval only evaluates literals (strings, numbers, tuples, lists, dicts,
            # sets, booleans, None); it cannot run user code.
            return ast.literal_eval(node)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return NotLiteral(ast.get_source_segment(self.source, node) or "", span)

    def call_value(self, node: ast.Call) -> CallValue | NotLiteral:
        span = self.span(node)
        function = self.python_qualified_names(node.func)
        starred = any(isinstance(a, ast.Starred) for a in node.args)
        if not function or starred or any(k.arg is None for k in node.keywords):
            return NotLiteral(ast.get_source_segment(self.source, node) or "", span)
        positional = tuple(self.value(a) for a in node.args)
        keywords = tuple((k.arg, self.value(k.value)) for k in node.keywords if k.arg is not None)
        return CallValue(sorted(function)[0], positional, keywords, span)

    def name_ref(self, node: cst.BaseExpression, span: Span) -> NameRef | NotLiteral:
        names = self.qualified_names(node)
        if not names:
            return NotLiteral(self.module.code_for_node(node), span)
        return NameRef(sorted(names)[0], span)

    def type_ref(self, node: cst.BaseExpression, span: Span) -> TypeRef | NotLiteral:
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            parts = [self.type_ref(node.left, span), self.type_ref(node.right, span)]
            return self.union(parts, span)
        if isinstance(node, cst.Subscript):
            names = self.qualified_names(node.value)
            elements = [self.slice_value(element, span) for element in node.slice]
            if names & OPTIONAL_NAMES and len(elements) == 1:
                inner = self.index_type(node.slice[0], span)
                return self.union([inner, TypeRef("builtins.None", span=span)], span)
            if names & UNION_NAMES:
                parts = [self.index_type(e, span) for e in node.slice]
                return self.union(parts, span)
            if names & ANNOTATED_NAMES:
                inner = self.index_type(node.slice[0], span)
                if isinstance(inner, NotLiteral):
                    return inner
                return TypeRef(inner.name, tuple(elements[1:]), inner.optional, span)
            base = self.name_ref(node.value, span)
            if isinstance(base, NotLiteral):
                return base
            return TypeRef(base.qualified_name, tuple(elements), False, span)
        if isinstance(node, cst.Name) and node.value == "None":
            return TypeRef("builtins.None", span=span)
        base = self.name_ref(node, span)
        if isinstance(base, NotLiteral):
            return base
        return TypeRef(base.qualified_name, (), False, span)

    def index_type(self, element: cst.SubscriptElement, span: Span) -> TypeRef | NotLiteral:
        """The type an element of `Optional[...]`, `Union[...]` names; `X[1:2]` names none."""
        if isinstance(element.slice, cst.Index):
            return self.type_ref(element.slice.value, span)
        return NotLiteral(self.module.code_for_node(element.slice), span)

    def slice_value(self, element: cst.SubscriptElement, span: Span) -> object:
        inner = element.slice
        if not isinstance(inner, cst.Index):
            return NotLiteral(self.module.code_for_node(inner), span)
        if isinstance(inner.value, (cst.Name, cst.Attribute, cst.Subscript, cst.BinaryOperation)):
            if isinstance(inner.value, cst.Name) and inner.value.value in ("True", "False", "None"):
                return self.literal(inner.value, span)
            return self.type_ref(inner.value, span)
        return self.literal(inner.value, span)

    def literal(self, node: cst.BaseExpression, span: Span) -> object:
        """An `Annotated[...]` argument such as "UTC" or 10 (rare enough to generate its code)."""
        code = self.module.code_for_node(node).strip()
        try:
            return ast.literal_eval(code)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return NotLiteral(code, span)

    def union(self, parts: list, span: Span) -> TypeRef | NotLiteral:
        """`X | None`, `Optional[X]`, `Union[X, None]` -> X marked optional; other unions stay."""
        if any(isinstance(p, NotLiteral) for p in parts):
            return next(p for p in parts if isinstance(p, NotLiteral))
        concrete = [p for p in parts if p.name != "builtins.None"]
        if len(concrete) == 1 and len(parts) > len(concrete):
            only = concrete[0]
            return TypeRef(only.name, only.args, True, only.span)
        return TypeRef("typing.Union", tuple(parts), False, span)

    # -- names -----------------------------------------------------------------------------

    def python_qualified_names(self, node: ast.expr) -> set[str]:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        return self.resolve(node.id, parts) if isinstance(node, ast.Name) else set()

    def resolve(self, head: str, reversed_parts: list[str]) -> set[str]:
        if head in ("True", "False", "None"):
            return set()
        if head in self.imports:
            base = self.imports[head]
        elif head in self.defined:
            base = head
        elif head in BUILTIN_NAMES:
            base = f"builtins.{head}"
        else:
            return set()
        return {".".join([base, *reversed(reversed_parts)])}

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        """The qualified name a (dotted) name refers to, through the module's imports.

        `pa.Field` with `import pandera.pandas as pa` -> `pandera.pandas.Field`; a name defined
        in this module stays bare; a builtin becomes `builtins.<name>`.
        """
        parts: list[str] = []
        while isinstance(node, cst.Attribute):
            parts.append(node.attr.value)
            node = node.value
        return self.resolve(node.value, parts) if isinstance(node, cst.Name) else set()
