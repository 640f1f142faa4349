"""A deterministic synthetic user project for the benchmarks in this folder.

`make_ingestions(n, seed)` describes N ingestions (groups, models, columns, decorator
arguments) with a seeded `random.Random`, so that every run, on every machine, benchmarks the
same source text. Two writers turn that description into files:

- `write_cascade_project`: what a Cascade user writes (pyproject.toml with [tool.cascade], Pandera
  models, `@cascade_ingestion` functions returning a `@dlt.resource`), for `cascade gen`;
- `write_seed_project`: the same user modules decorated with `seed_cascade_ingestion`, which does
  the seed's work at import time, plus the seed's domain `__init__` imports and a definitions
  module collecting the registered assets.

Only the column types, annotations and `Field` keywords that the seed supports are used (str,
int, float, bool, datetime, date, bytes; `X | None`; alias, description, nullable and checks),
so that both projects describe exactly the same tables.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

# ~20 domains, as in a mid-sized lakehouse; `make_ingestions` uses fewer when N is small.
GROUPS = (
    "billing",
    "crm",
    "marketing",
    "support",
    "inventory",
    "logistics",
    "payments",
    "identity",
    "analytics",
    "hr",
    "finance",
    "catalog",
    "reviews",
    "search",
    "ads",
    "telemetry",
    "devices",
    "partners",
    "compliance",
    "content",
)
NOUNS = (
    "events",
    "orders",
    "accounts",
    "invoices",
    "sessions",
    "tickets",
    "shipments",
    "refunds",
    "readings",
    "contacts",
    "campaigns",
    "items",
)
WORDS = (
    "amount",
    "status",
    "region",
    "score",
    "label",
    "owner",
    "source",
    "count",
    "ratio",
    "flag",
    "created",
    "updated",
    "payload",
    "channel",
    "country",
    "currency",
    "level",
    "weight",
    "price",
    "quantity",
)
# (type, weight): mostly strings and numbers, as in real API payloads.
TYPE_WEIGHTS = (
    ("str", 30),
    ("int", 20),
    ("float", 15),
    ("bool", 10),
    ("datetime", 10),
    ("date", 8),
    ("bytes", 7),
)
# Shared value lists: the group's schema module defines them as module-level constants, which
# `cascade gen` has to follow from `isin=` (the seed-style project simply evaluates them).
ISIN_CONSTANTS = {
    "STATUS_VALUES": ["active", "inactive", "pending", "deleted"],
    "CURRENCY_VALUES": ["EUR", "USD", "GBP", "JPY", "CHF"],
    "CHANNEL_VALUES": ["web", "mobile", "email", "api", "store"],
}


@dataclass(frozen=True)
class ColumnSpec:
    attribute: str
    py_type: str  # one of the names in TYPE_WEIGHTS
    optional: bool  # annotated `X | None`
    field_args: tuple[tuple[str, str], ...]  # Field keyword -> Python source of its value

    def source(self) -> str:
        annotation = f"{self.py_type} | None" if self.optional else self.py_type
        if not self.field_args:
            return f"    {self.attribute}: {annotation}"
        args = ", ".join(f"{key}={value}" for key, value in self.field_args)
        return f"    {self.attribute}: {annotation} = Field({args})"


@dataclass(frozen=True)
class IngestionSpec:
    index: int
    group: str
    table_name: str  # also the module and function name
    model_name: str
    model_inline: bool  # the model lives in the ingestion module, not in schemas/<group>.py
    unique_key: str | tuple[str, ...]
    columns: tuple[ColumnSpec, ...]

    @property
    def module_path(self) -> str:
        return f"ingestion/{self.group}/{self.table_name}.py"

    @property
    def model_path(self) -> str:
        return self.module_path if self.model_inline else f"schemas/{self.group}.py"


def make_ingestions(n: int, seed: int = 20240101) -> list[IngestionSpec]:
    rng = random.Random(seed)
    groups = GROUPS[: max(1, min(len(GROUPS), n))]
    specs = []
    for index in range(n):
        group = groups[index % len(groups)]
        table_name = f"{group}_{rng.choice(NOUNS)}_{index:04d}"
        columns, unique_key = make_columns(rng)
        specs.append(
            IngestionSpec(
                index=index,
                group=group,
                table_name=table_name,
                model_name="Raw" + "".join(part.title() for part in table_name.split("_")),
                # One model in five sits next to its ingestion; the rest are shared per group,
                # so the compiler follows imports across modules as in the seed's layout.
                model_inline=index % 5 == 4,
                unique_key=unique_key,
                columns=columns,
            )
        )
    return specs


def make_columns(rng: random.Random) -> tuple[tuple[ColumnSpec, ...], str | tuple[str, ...]]:
    """20-40 columns: a key (sometimes aliased to `_id`, sometimes composite), then the rest."""
    count = rng.randint(20, 40)
    aliased = rng.random() < 0.25
    key_args = [("nullable", "False"), ("unique", "True"), ("description", '"Record id"')]
    if aliased:
        # Pandera ignores `_`-prefixed attributes, so `_id` is declared through alias=.
        key_args.insert(0, ("alias", '"_id"'))
    columns = [ColumnSpec("record_id", "str", False, tuple(key_args))]
    key_column = "_id" if aliased else "record_id"
    unique_key: str | tuple[str, ...] = key_column
    if rng.random() < 0.15:
        columns.append(
            ColumnSpec(
                "event_date",
                "date",
                False,
                (("nullable", "False"), ("description", '"Day of the record"')),
            )
        )
        unique_key = (key_column, "event_date")
    types, weights = zip(*TYPE_WEIGHTS, strict=True)
    while len(columns) < count:
        py_type = rng.choices(types, weights)[0]
        attribute = f"{rng.choice(WORDS)}_{len(columns):02d}"
        columns.append(make_column(rng, attribute, py_type))
    return tuple(columns), unique_key


def make_column(rng: random.Random, attribute: str, py_type: str) -> ColumnSpec:
    args: list[tuple[str, str]] = []
    # Every way of saying "may be missing": `X | None` alone, `X | None` with nullable=True,
    # nullable=True alone; and some explicit nullable=False.
    style = rng.random()
    optional = style < 0.35
    if (optional and rng.random() < 0.5) or 0.35 <= style < 0.5:
        args.append(("nullable", "True"))
    elif style > 0.9:
        args.append(("nullable", "False"))
    if py_type == "int" and rng.random() < 0.6:
        args.append(("ge", "0"))
        if rng.random() < 0.5:
            args.append(("le", str(rng.choice((9, 100, 1000, 86400)))))
    elif py_type == "float" and rng.random() < 0.5:
        args.append(("ge", "0.0"))
    elif py_type == "str" and rng.random() < 0.3:
        if rng.random() < 0.5:
            args.append(("isin", rng.choice(tuple(ISIN_CONSTANTS))))
        else:
            args.append(("isin", literal([f"v{i}" for i in range(rng.randint(2, 6))])))
    if rng.random() < 0.85:
        args.append(("description", literal(f"{attribute.replace('_', ' ')} ({py_type})")))
    return ColumnSpec(attribute, py_type, optional, tuple(args))


# -- rendering ------------------------------------------------------------------------------


def literal(value: object) -> str:
    """Python source of a str, list or tuple of str, double-quoted as a formatter would."""
    if isinstance(value, tuple):
        return "(" + ", ".join(json.dumps(item) for item in value) + ")"
    return json.dumps(value)


def model_source(spec: IngestionSpec) -> str:
    lines = [
        f"class {spec.model_name}(DataFrameModel):",
        f'    """Raw rows of {spec.table_name}."""',
        "",
        *(column.source() for column in spec.columns),
    ]
    if spec.index % 3 == 0:
        lines += ["", "    class Config:", "        strict = False"]
    return "\n".join(lines) + "\n"


def datetime_import(specs: list[IngestionSpec]) -> list[str]:
    used = {column.py_type for spec in specs for column in spec.columns}
    names = [name for name in ("date", "datetime") if name in used]
    return [f"from datetime import {', '.join(names)}", ""] if names else []


def constants_source() -> str:
    return "".join(f"{name} = {literal(values)}\n" for name, values in ISIN_CONSTANTS.items())


def schema_module_source(group: str, specs: list[IngestionSpec]) -> str:
    models = "\n\n".join(model_source(spec) for spec in specs)
    return (
        f'"""Pandera models of the {group} domain (synthetic benchmark fixture)."""\n\n'
        + "\n".join([*datetime_import(specs), "from pandera.pandas import DataFrameModel, Field"])
        + f"\n\n{constants_source()}\n\n{models}"
    )


def ingestion_module_source(spec: IngestionSpec, decorator_module: str, decorator: str) -> str:
    """The user's ingestion module; only the decorator's import and name differ per flavour."""
    # Imports in isort's order: standard library, third party, first party.
    imports = ["import dlt", "", f"from {decorator_module} import {decorator}"]
    model_block = ""
    if spec.model_inline:
        third_party = ["import dlt", "from pandera.pandas import DataFrameModel, Field", ""]
        imports = [*datetime_import([spec]), *third_party, imports[-1]]
        model_block = f"{constants_source()}\n\n{model_source(spec)}\n\n"
    else:
        imports.append(f"from schemas.{spec.group} import {spec.model_name}")
    header = f'"""Ingestion of {spec.table_name} (synthetic benchmark fixture)."""\n\n'
    return (
        header
        + "\n".join(imports)
        + "\n\n\n"
        + model_block
        + f"""@dlt.resource(name="{spec.table_name}", write_disposition="append")
def fetch_{spec.table_name}(partition_date: str):
    \"\"\"Rows of one day; the benchmark never loads, so there are none.\"\"\"
    yield from ()


@{decorator}(
    table_name="{spec.table_name}",
    unique_key={literal(spec.unique_key)},
    validation_schema={spec.model_name},
    group="{spec.group}",
    cron="0 * * * *",
    freshness_hours=(1, 24),
)
def {spec.table_name}(partition_date: str):
    \"\"\"Load {spec.table_name} for one daily partition.\"\"\"
    return fetch_{spec.table_name}(partition_date)
"""
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_user_modules(
    root: Path, specs: list[IngestionSpec], decorator_module: str, decorator: str
) -> None:
    by_group: dict[str, list[IngestionSpec]] = {}
    for spec in specs:
        by_group.setdefault(spec.group, []).append(spec)
    write(root / "schemas/__init__.py", "")
    write(root / "ingestion/__init__.py", "")
    for group, members in by_group.items():
        shared = [spec for spec in members if not spec.model_inline]
        if shared:
            write(root / f"schemas/{group}.py", schema_module_source(group, shared))
        write(root / f"ingestion/{group}/__init__.py", "")
        for spec in members:
            write(
                root / spec.module_path, ingestion_module_source(spec, decorator_module, decorator)
            )


PYPROJECT = """\
[project]
name = "cascade-bench-project"
version = "0.0.0"

[tool.cascade]
sources = ["ingestion"]
out = "generated"
namespace = "raw"
partition_start = "2024-01-01"
"""


def write_cascade_project(root: Path, specs: list[IngestionSpec]) -> None:
    write(root / "pyproject.toml", PYPROJECT)
    write_user_modules(root, specs, "cascade.runtime", "cascade_ingestion")
    # Not user code: lets the benchmark time importing the user modules on their own. It sits
    # outside `sources`, so `cascade gen` does not read it.
    modules = sorted(spec.module_path.removesuffix(".py").replace("/", ".") for spec in specs)
    write(root / "bench_user_modules.py", "".join(f"import {name}\n" for name in modules))


SEED_DEFINITIONS = '''\
"""Seed-style definitions: importing the domains registers every asset, then collect them."""

from pathlib import Path

import dagster as dg

import ingestion  # noqa: F401  (each domain's __init__ imports its ingestion modules)
from cascade.runtime import IcebergResource
from seed_cascade import ASSETS

PROJECT_DIR = Path(__file__).resolve().parent

defs = dg.Definitions(
    assets=list(ASSETS),
    resources={"iceberg": IcebergResource(project_dir=str(PROJECT_DIR))},
)
'''


def write_seed_project(root: Path, specs: list[IngestionSpec]) -> None:
    write_user_modules(root, specs, "seed_cascade", "seed_cascade_ingestion")
    # The seed's wiring: the package imports every domain, each domain imports its modules.
    groups = sorted({spec.group for spec in specs})
    write(
        root / "ingestion/__init__.py",
        "".join(f"from ingestion import {group}  # noqa: F401\n" for group in groups),
    )
    for group in groups:
        modules = sorted(spec.table_name for spec in specs if spec.group == group)
        write(
            root / f"ingestion/{group}/__init__.py",
            "".join(f"from ingestion.{group} import {name}  # noqa: F401\n" for name in modules),
        )
    shutil.copy(Path(__file__).with_name("seed_cascade.py"), root / "seed_cascade.py")
    write(root / "seed_definitions.py", SEED_DEFINITIONS)
