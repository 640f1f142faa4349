"""Compilation as a pure function: the project's sources -> {output path: text}."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cascade.compiler.config import ProjectConfig
from cascade.compiler.diagnostics import Diagnostic, Span, has_errors
from cascade.compiler.discover import discover_sources, module_name, module_path
from cascade.compiler.facts import ModuleFacts
from cascade.compiler.parse import parse_module
from cascade.compiler.previous import existing_generated_files, previous_locks
from cascade.compiler.render.asset_module import render_asset_module
from cascade.compiler.render.definitions_module import render_definitions_module
from cascade.compiler.render.formatting import format_python
from cascade.compiler.render.python import header
from cascade.compiler.render.schema_module import render_schema_module
from cascade.compiler.resolve import resolve_project


@dataclass(frozen=True)
class Compilation:
    files: dict[str, str]  # path relative to the project root (POSIX) -> text
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


class ModuleCache:
    """Parses each project module once, on first use, by module name."""

    def __init__(self, root: Path):
        self.root = root
        self.modules: dict[str, ModuleFacts | None] = {}

    def parse_file(self, relative: Path) -> ModuleFacts:
        name = module_name(relative)
        cached = self.modules.get(name)
        if cached is not None:
            return cached
        source = (self.root / relative).read_text(encoding="utf-8")
        facts = parse_module(relative.as_posix(), name, source)
        self.modules[name] = facts
        return facts

    def load(self, name: str) -> ModuleFacts | None:
        if name not in self.modules:
            relative = module_path(self.root, name)
            self.modules[name] = None if relative is None else self.parse_file(relative)
        return self.modules[name]


def compile_project(config: ProjectConfig, previous: dict[str, str] | None = None) -> Compilation:
    """Compiles the project; `previous` is the output of the last generation (path -> text),
    whose schema modules lock the field ids. It defaults to what is on disk now."""
    if previous is None:
        previous = existing_generated_files(config)
    cache = ModuleCache(config.root)
    diagnostics: list[Diagnostic] = []
    modules = []
    for relative in discover_sources(config):
        if not all(part.isidentifier() for part in module_name(relative).split(".")):
            diagnostics.append(
                Diagnostic(
                    Span(relative.as_posix()),
                    "cannot import this file as a module",
                    "folder and file names under sources must be Python identifiers",
                )
            )
            continue
        modules.append(cache.parse_file(relative))
    ingestions, problems = resolve_project(
        config, modules, cache.load, previous_locks(config, previous)
    )
    diagnostics = sorted(set(diagnostics + problems))
    if has_errors(diagnostics):
        return Compilation({}, diagnostics)

    out = config.out
    package = config.out_package
    init = header(", ".join(config.sources)) + "\n"
    files: dict[str, str] = {f"{out}/__init__.py": init}
    for kind in ("schemas", "assets"):
        files[f"{out}/{kind}/__init__.py"] = init
        for ingestion in ingestions:
            files[f"{out}/{kind}/{ingestion.group}/__init__.py"] = init
    for ingestion in ingestions:
        stem = f"{ingestion.group}/{ingestion.table_name}.py"
        files[f"{out}/schemas/{stem}"] = render_schema_module(ingestion)
        files[f"{out}/assets/{stem}"] = render_asset_module(ingestion, package)
    files[f"{out}/definitions.py"] = render_definitions_module(ingestions, package, config.sources)
    return Compilation(dict(sorted(format_python(files).items())), diagnostics)
