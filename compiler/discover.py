"""Stage 1: the Python files under the configured source folders."""

from __future__ import annotations

from pathlib import Path

from cascade.compiler.config import ProjectConfig


def discover_sources(config: ProjectConfig) -> list[Path]:
    """Every .py file under `sources`, as paths relative to the project root, sorted.

    Sorting by the relative POSIX path keeps the output independent of file-system order.
    """
    found: set[Path] = set()
    for folder in config.sources:
        base = config.root / folder
        if base.is_file() and base.suffix == ".py":
            found.add(base.relative_to(config.root))
            continue
        for path in base.rglob("*.py"):
            relative = path.relative_to(config.root)
            if not any(part.startswith(".") for part in relative.parts):
                found.add(relative)
    return sorted(found, key=lambda p: p.as_posix())


def module_name(relative_path: Path) -> str:
    """`examples/ingestion/x.py` -> `examples.ingestion.x`; `pkg/__init__.py` -> `pkg`."""
    parts = list(relative_path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_candidates(name: str) -> tuple[Path, Path]:
    """Where module `name` may live, relative to the project root: `a/b.py` or `a/b/__init__.py`."""
    base = Path(*name.split("."))
    return base.with_suffix(".py"), base / "__init__.py"
