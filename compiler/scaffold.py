"""`cascade init`: a new project that `cascade gen` and a load accept at once: pyproject.toml
with `[tool.cascade]`, one Pandera model, one ingestion whose dlt resource yields sample rows
(no network), and a .gitignore that keeps `.cascade/` (cache, embedded catalog) out of git.

It writes only files that do not exist: a file of the user's is never touched."""

from __future__ import annotations

import importlib.util
import keyword
import sys
from pathlib import Path

OUT = "generated"  # where `cascade gen` writes

PYPROJECT = """\
[project]
name = "{package}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["cascade-lakehouse"]

[tool.cascade]
sources = ["{package}/ingestion"]
out = "{out}"
namespace = "raw"
partition_start = "2024-01-01"
"""

MODELS = '''\
"""Pandera models: the single source of truth for the shape of each table."""

from datetime import datetime

from pandera.pandas import DataFrameModel, Field


class Events(DataFrameModel):
    """Events as the source sends them."""

    event_id: str = Field(unique=True, description="Event id")
    created_at: datetime = Field(description="When the event happened (UTC)")
    kind: str = Field(isin=["signup", "login"], description="What happened")
    amount: int | None = Field(nullable=True, ge=0, description="Amount, if any")
'''

INGESTION = '''\
"""An ingestion: what to load, where, and how often. Replace the sample rows with a real dlt
source (for example dlt.sources.rest_api.rest_api_source) returning the same fields."""

import dlt

from cascade.runtime import cascade_ingestion
from {package}.models import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="{package}",
    partition_spec=[("created_at", "day")],
)
def events(partition_date: str):
    """Sample events, two a day (a stand-in for a real source)."""
    rows = [
        {{"event_id": f"{{partition_date}}-1", "created_at": f"{{partition_date}}T08:00:00Z",
         "kind": "signup", "amount": None}},
        {{"event_id": f"{{partition_date}}-2", "created_at": f"{{partition_date}}T09:30:00Z",
         "kind": "login", "amount": 3}},
    ]
    return dlt.resource(rows, name="events")
'''


DAGSTER_YAML = """\
# The project's Dagster instance, with Dagster's default settings:
# https://docs.dagster.io/deployment/oss/dagster-yaml
"""


class ScaffoldError(Exception):
    """The folder cannot take a new project (a file is in the way, a bad package name)."""


def scaffold(root: Path, package: str) -> list[Path]:
    """Writes the new project's files under `root` and returns them; raises `ScaffoldError`,
    writing nothing, when `package` is no importable name or a file to write exists."""
    if not package.isidentifier() or keyword.iskeyword(package) or package != package.lower():
        raise ScaffoldError(
            f"{package!r} cannot be the project's package: use a lowercase Python identifier "
            "(--package my_pipelines)"
        )
    if taken := _taken(package):
        raise ScaffoldError(
            f"{package!r} cannot be the project's package: {taken} (--package my_pipelines)"
        )
    files = {
        root / "pyproject.toml": PYPROJECT.format(package=package, out=OUT),
        root / ".gitignore": ".cascade/\n",
        root / package / "__init__.py": "",
        root / package / "models.py": MODELS,
        root / package / "ingestion" / "__init__.py": "",
        root / package / "ingestion" / "events.py": INGESTION.format(package=package),
    }
    in_the_way = [path for path in files if path.exists()]
    if in_the_way:
        names = ", ".join(path.relative_to(root).as_posix() for path in in_the_way)
        raise ScaffoldError(
            f"{names} already exist{'s' if len(in_the_way) == 1 else ''}; cascade init writes "
            "a new project and touches no file of yours (add [tool.cascade] to an existing "
            "pyproject.toml by hand, as the README shows)"
        )
    # The project's Dagster instance (README, "Writing an ingestion"), out of git with the rest
    # of .cascade/; without a dagster.yaml every Dagster command warns that it is missing.
    instance = root / ".cascade" / "dagster"
    instance.mkdir(parents=True, exist_ok=True)
    if not (instance / "dagster.yaml").exists():
        (instance / "dagster.yaml").write_text(DAGSTER_YAML, encoding="utf-8")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def _taken(package: str) -> str:
    """Why `package` would not work as the project's top-level package, or ""."""
    from cascade.compiler.driver.build import GENERATED_CODE_IMPORTS

    if package == OUT:
        return "it is where `cascade gen` writes the generated code"
    if package in GENERATED_CODE_IMPORTS or package in sys.stdlib_module_names:
        return f"it would hide the module {package!r}, which Python or the generated code imports"
    # A module the environment already has (found, not imported): the project's would hide it
    # or be hidden by it.
    if importlib.util.find_spec(package) is not None:
        return f"a module {package!r} is already installed"
    return ""
