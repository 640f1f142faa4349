"""Fixtures shared by the tests: a copy of the example project, the Nightscout fixture server
on 127.0.0.1, and a real pyiceberg catalog in a temporary folder; the --update-goldens
option; the hypothesis profiles. Plain helpers are in tests/helpers.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from pyiceberg.catalog import Catalog, load_catalog

from examples.fixtures.nightscout_server import NightscoutFixtureServer
from tests.helpers import copy_example_project


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite the expected/ folders of tests/cases and tests/diff_cases from the output",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """--update-goldens, or syrupy's --snapshot-update: one command updates every golden."""
    options = request.config.option
    return options.update_goldens or getattr(options, "update_snapshots", False)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The example project (pyproject.toml, examples/, generated/) copied to a temp folder."""
    return copy_example_project(tmp_path / "project")


@pytest.fixture
def nightscout(monkeypatch: pytest.MonkeyPatch) -> Iterator[NightscoutFixtureServer]:
    """The fixture server, with the example's NIGHTSCOUT_BASE_URL pointing at it."""
    with NightscoutFixtureServer() as server:
        monkeypatch.setenv("NIGHTSCOUT_BASE_URL", server.url)
        yield server


@pytest.fixture
def catalog_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Configures pyiceberg's catalog `cascade` (SQLite + local warehouse in tmp_path) through
    its standard environment variables, as a deployment would."""
    folder = tmp_path / "lakehouse"
    (folder / "warehouse").mkdir(parents=True)
    env = {
        "PYICEBERG_CATALOG__CASCADE__TYPE": "sql",
        "PYICEBERG_CATALOG__CASCADE__URI": f"sqlite:///{folder / 'catalog.db'}",
        "PYICEBERG_CATALOG__CASCADE__WAREHOUSE": f"file://{folder / 'warehouse'}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def catalog(
    catalog_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Catalog:
    """The catalog `cascade` that catalog_env configures, loaded: what the generated assets
    and IcebergResource() load too. For loads run in this process, HOME is an empty folder
    (no ~/.pyiceberg.yaml or ~/.dlt; DuckDB wants one) and tmp_path the working directory."""
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    # pyiceberg read its environment when it was imported: the properties are passed again.
    prefix = "PYICEBERG_CATALOG__CASCADE__"
    return load_catalog(
        "cascade", **{key.removeprefix(prefix).lower(): value for key, value in catalog_env.items()}
    )


# Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (default "ci").
# "ci" must never fail at random: the same examples on every run (derandomize, and no example
# database to replay), no deadline (an example may be a Dagster run, whose time depends on the
# machine), and no health check that such slow examples or a fixture shared by all of a test's
# examples trip. It leaves example counts alone: a slow test sets its own (see
# tests/runtime/test_typed_staging_differential.py). "explore" draws many more random examples:
#     HYPOTHESIS_PROFILE=explore .venv/bin/pytest tests/runtime/test_typed_staging_differential.py
_SLOW_EXAMPLES = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, suppress_health_check=_SLOW_EXAMPLES
)
settings.register_profile(
    "explore", max_examples=500, deadline=None, suppress_health_check=_SLOW_EXAMPLES
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
