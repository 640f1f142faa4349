"""Renders `<out>/definitions.py`: the Dagster Definitions of every ingestion."""

from __future__ import annotations

from collections.abc import Sequence

from cascade.compiler.ir import TableSummary
from cascade.compiler.render.python import header


def render_definitions_module(
    tables: Sequence[TableSummary], out_package: str, sources: tuple[str, ...]
) -> str:
    depth = len(out_package.split("."))
    imports = sorted(
        f"from {out_package}.assets.{i.group}.{i.table_name} import {i.asset_name}" for i in tables
    )
    assets = sorted(i.asset_name for i in tables)
    lines = [
        header(", ".join(sources)),
        '"""Dagster definitions of every Cascade ingestion in this project."""',
        "",
        "from pathlib import Path",
        "",
        "import dagster as dg",
        "",
        "from cascade.runtime import IcebergResource",
        *imports,
        "",
        '# With no pyiceberg catalog named "cascade" configured, the embedded default catalog',
        "# lives in <project>/.cascade, next to the pyproject.toml that configures Cascade.",
        f"PROJECT_DIR = Path(__file__).resolve().parents[{depth}]",
        "",
        "defs = dg.Definitions(",
        f"    assets=[{', '.join(assets)}],",
        '    resources={"iceberg": IcebergResource(project_dir=str(PROJECT_DIR))},',
        ")",
    ]
    return "\n".join(lines) + "\n"
