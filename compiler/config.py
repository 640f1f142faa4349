"""The `[tool.cascade]` table of a project's pyproject.toml."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path

from cascade.compiler.diagnostics import Diagnostic, Span


class ConfigError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.format_text())
        self.diagnostic = diagnostic


@dataclass(frozen=True)
class ProjectConfig:
    root: Path
    sources: tuple[str, ...]
    out: str
    namespace: str
    partition_start: str

    @property
    def out_package(self) -> str:
        """The import path of the output folder, e.g. `generated`."""
        return ".".join(Path(self.out).parts)


def load_config(project_dir: Path) -> ProjectConfig:
    root = project_dir.resolve()
    pyproject = root / "pyproject.toml"
    span = Span("pyproject.toml")
    if not pyproject.is_file():
        raise ConfigError(
            Diagnostic(
                span,
                f"no pyproject.toml in {root}",
                "run cascade from the project folder or pass --project DIR",
            )
        )
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(Diagnostic(span, f"pyproject.toml is not valid TOML: {error}")) from None
    table = data.get("tool", {}).get("cascade")
    if not isinstance(table, dict):
        raise ConfigError(
            Diagnostic(
                span,
                "pyproject.toml has no [tool.cascade] table",
                'add [tool.cascade] with sources = ["..."] and out = "generated"',
            )
        )
    sources = table.get("sources")
    if not (isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources)):
        raise ConfigError(
            Diagnostic(
                span,
                "[tool.cascade] sources must be a non-empty list of folders",
                'for example sources = ["ingestion"]',
            )
        )
    out = table.get("out", "generated")
    namespace = table.get("namespace", "raw")
    partition_start = table.get("partition_start", "2024-01-01")
    for key, value in (("out", out), ("namespace", namespace)):
        if not (isinstance(value, str) and value.replace("/", "_").isidentifier()):
            raise ConfigError(
                Diagnostic(span, f"[tool.cascade] {key} must be a Python identifier, got {value!r}")
            )
    if isinstance(partition_start, dt.date):
        partition_start = partition_start.isoformat()
    try:
        dt.date.fromisoformat(str(partition_start))
    except ValueError:
        raise ConfigError(
            Diagnostic(
                span,
                f"[tool.cascade] partition_start must be a date YYYY-MM-DD, "
                f"got {partition_start!r}",
            )
        ) from None
    return ProjectConfig(
        root=root,
        sources=tuple(sources),
        out=out,
        namespace=namespace,
        partition_start=str(partition_start),
    )
