"""Renders `<out>/definitions.py`: the Dagster Definitions of every ingestion."""

from __future__ import annotations

from collections.abc import Sequence

from cascade.compiler.ir import TableSummary
from cascade.compiler.render.python import header

# Names the definitions module defines or imports itself.
RESERVED_NAMES = frozenset({"Path", "dg", "IcebergResource", "PROJECT_DIR", "defs"})


def render_definitions_module(
    tables: Sequence[TableSummary], out_package: str, sources: tuple[str, ...]
) -> str:
    depth = len(out_package.split("."))
    taken = set(RESERVED_NAMES)
    imports, assets, jobs, schedules = [], [], [], []

    def local(name: str) -> str:
        """`name`, or an alias where another table's names took it (the upkeep job of a table
        `t_schedule` is named like the schedule of `t`)."""
        alias = name
        while alias in taken:
            alias = f"{alias}_"
        taken.add(alias)
        return alias

    for table in sorted(tables, key=lambda t: (t.group, t.table_name)):
        names = [table.asset_name]
        if table.upkeep:
            names += [table.upkeep_job_name, f"{table.upkeep_job_name}_schedule"]
        locals_ = [local(name) for name in names]
        imported = ", ".join(
            name if alias == name else f"{name} as {alias}"
            for name, alias in zip(names, locals_, strict=True)
        )
        imports.append(
            f"from {out_package}.assets.{table.group}.{table.table_name} import {imported}"
        )
        assets.append(locals_[0])
        if table.upkeep:
            jobs.append(locals_[1])
            schedules.append(locals_[2])
    lines = [
        header(", ".join(sources)),
        '"""Dagster definitions of every Cascade ingestion in this project."""',
        "",
        "from pathlib import Path",
        "",
        "import dagster as dg",
        "",
        "from cascade.runtime import IcebergResource",
        *sorted(imports),
        "",
        '# With no pyiceberg catalog named "cascade" configured, the embedded default catalog',
        "# lives in <project>/.cascade, next to the pyproject.toml that configures Cascade.",
        f"PROJECT_DIR = Path(__file__).resolve().parents[{depth}]",
        "",
        "defs = dg.Definitions(",
        f"    assets=[{', '.join(sorted(assets))}],",
        *([f"    jobs=[{', '.join(sorted(jobs))}],"] if jobs else []),
        *([f"    schedules=[{', '.join(sorted(schedules))}],"] if schedules else []),
        '    resources={"iceberg": IcebergResource(project_dir=str(PROJECT_DIR))},',
        ")",
    ]
    return "\n".join(lines) + "\n"
