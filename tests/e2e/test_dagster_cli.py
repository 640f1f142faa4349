"""The generated definitions through Dagster's own command-line tools (its UI, served by
`make ui`: tests/e2e/test_dagster_ui.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cascade.runtime import IcebergResource
from examples.fixtures.nightscout_server import NightscoutFixtureServer
from tests.helpers import REPO_ROOT

# Slow: Dagster's command-line tools, as processes.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def dagster_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "DAGSTER_HOME": str(home)}


def test_definitions_validate_accepts_the_generated_module(tmp_path: Path):
    result = subprocess.run(
        [BIN / "dagster", "definitions", "validate", "-m", "generated.definitions"],
        cwd=REPO_ROOT,
        env=dagster_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.usefixtures("catalog_env")
def test_dagster_cli_materializes_a_partition(tmp_path: Path, nightscout: NightscoutFixtureServer):
    command = [
        BIN / "dagster", "asset", "materialize", "-m", "generated.definitions",
        "--select", "dlt_glucose_entries", "--partition", "2024-01-03",
    ]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=dagster_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = IcebergResource().load_catalog().load_table("raw.glucose_entries")
    assert table.scan().count() == 288
    assert nightscout.request_count == 1
