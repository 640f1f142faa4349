"""The generated definitions through Dagster's own command-line tools and web server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cascade.runtime import IcebergResource
from examples.fixtures.nightscout_server import NightscoutFixtureServer
from tests.helpers import REPO_ROOT, free_port

# Slow: Dagster's command-line tools and web server, as processes.
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


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_webserver_serves_the_generated_asset(tmp_path: Path):
    port = free_port()
    server = subprocess.Popen(
        [
            BIN / "dagster-webserver",
            "-m",
            "generated.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO_ROOT,
        env=dagster_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    query = "{ assetNodes { assetKey { path } groupName isPartitioned } }"
    try:
        # The server answers before it has loaded the code location: poll until it has.
        deadline = time.monotonic() + 120
        nodes: list = []
        while not nodes:
            assert server.poll() is None, server.stderr.read()
            assert time.monotonic() < deadline, "dagster-webserver did not serve the asset in time"
            try:
                nodes = graphql(url, query)["data"]["assetNodes"]
            except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
                pass
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert {"assetKey": {"path": ["dlt_glucose_entries"]}, "groupName": "nightscout",
            "isPartitioned": True} in nodes  # fmt: skip
