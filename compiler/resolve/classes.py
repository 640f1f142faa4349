"""Finds classes and module-level constants across the project's modules, by qualified name."""

from __future__ import annotations

from collections.abc import Callable

from cascade.compiler.diagnostics import Span
from cascade.compiler.frontend.facts import (
    ClassFacts,
    ModuleFacts,
    NameRef,
    NotLiteral,
    absolute_name,
)

ModuleLoader = Callable[[str], ModuleFacts | None]


class ProjectIndex:
    """Looks names up in the project's modules, parsing each on first use."""

    def __init__(self, load_module: ModuleLoader):
        self.load_module = load_module

    def find_class(
        self, module: ModuleFacts, qualified_name: str, seen: frozenset[str] = frozenset()
    ) -> tuple[ModuleFacts, ClassFacts] | str:
        """The class and its module, or a message saying why it was not found. `seen`: the
        names already followed through re-exports (a module importing a name from itself, or
        two modules importing it from each other, would otherwise be followed forever)."""
        name = absolute_name(module, qualified_name)
        if name in seen:
            return f"{name!r} is imported in a cycle and never defined as a class"
        if "." not in name:
            found = module.classes.get(name)
            if found is not None:
                return module, found
            return f"{name!r} is not a class defined in {module.path}"
        module_name, class_name = name.rsplit(".", 1)
        target = self.load_module(module_name)
        if target is None:
            return f"cannot find module {module_name!r} in the project"
        found = target.classes.get(class_name)
        if found is not None:
            return target, found
        # A re-export (`from .events import RawEvents` in a package __init__) is a constant
        # that names the class.
        alias = target.constants.get(class_name)
        if alias is not None and isinstance(alias.value, NameRef):
            return self.find_class(target, alias.value.qualified_name, seen | {name})
        return f"{class_name!r} is not a class defined in {target.path}"

    def constant(self, module: ModuleFacts, ref: NameRef, depth: int = 0) -> object:
        """The value of a module-level constant, followed through imports; NotLiteral if
        it cannot be read statically."""
        name = absolute_name(module, ref.qualified_name)
        if "." in name:
            module_name, name = name.rsplit(".", 1)
            target = self.load_module(module_name)
            if target is None:
                return NotLiteral(ref.qualified_name, ref.span)
            module = target
        found = module.constants.get(name)
        if found is None or depth > 20:
            return NotLiteral(ref.qualified_name, ref.span)
        if isinstance(found.value, NameRef):
            return self.constant(module, found.value, depth + 1)
        return found.value

    def import_cycle(self, module: ModuleFacts) -> list[ModuleFacts] | None:
        """A chain of project modules, starting and ending at `module`, each importing names
        from the next (`from models.b import B`): Python's import of such a cycle fails, since
        one module asks for a name the other has not defined yet. None when there is none."""
        path: list[ModuleFacts] = []
        done: set[str] = set()

        def visit(current: ModuleFacts) -> list[ModuleFacts] | None:
            if path and current.module == module.module:
                return [*path, current]
            if current.module in done or any(m.module == current.module for m in path):
                return None
            path.append(current)
            for imported in self.imported_modules(current):
                cycle = visit(imported)
                if cycle is not None:
                    return cycle
            path.pop()
            done.add(current.module)
            return None

        return visit(module)

    def imported_modules(self, module: ModuleFacts) -> list[ModuleFacts]:
        """The project modules `module` imports names from, in the order of its imports."""
        found: dict[str, ModuleFacts] = {}
        for constant in module.constants.values():
            if not isinstance(constant.value, NameRef):
                continue
            name = absolute_name(module, constant.value.qualified_name)
            for candidate in (name.rsplit(".", 1)[0], name) if "." in name else (name,):
                target = self.load_module(candidate)
                if target is not None and target.module != module.module:
                    found.setdefault(target.module, target)
                    break
        return list(found.values())

    def import_span(self, module: ModuleFacts, imported: ModuleFacts) -> Span:
        """Where `module` imports from `imported` (its first line when that is not found)."""
        for constant in module.constants.values():
            if isinstance(constant.value, NameRef) and absolute_name(
                module, constant.value.qualified_name
            ).startswith(imported.module):
                return constant.span
        return Span(module.path, 1, 1)
