"""`max_retries` / `retry_delay_seconds` from the decorator make Dagster retry a load: a source
that answers HTTP 500 once fails the first attempt, and the retry succeeds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Slow: the console script, and a Dagster run in a process.
pytestmark = pytest.mark.slow

RUN = """
import json, os, sys
import dagster as dg
from examples.fixtures.nightscout_server import NightscoutFixtureServer
from cascade.runtime import IcebergResource
from generated.assets.nightscout.glucose_entries import dlt_glucose_entries

with NightscoutFixtureServer() as server:
    os.environ["NIGHTSCOUT_BASE_URL"] = server.url
    server.fail_next = 1
    result = dg.materialize(
        [dlt_glucose_entries],
        partition_key="2024-01-01",
        resources={"iceberg": IcebergResource()},
        raise_on_error=False,
    )
    retry = dg.DagsterEventType.STEP_UP_FOR_RETRY
    retries = [e for e in result.all_events if e.event_type == retry]
    rows = IcebergResource().load_catalog().load_table("raw.glucose_entries").scan().count()
    print(json.dumps({"success": result.success, "retries": len(retries),
                      "requests": server.request_count, "rows": rows}))
"""


def test_a_load_that_fails_once_is_retried_by_dagster(project_copy: Path, catalog_env):
    source = project_copy / "examples/ingestion/nightscout/glucose.py"
    text = source.read_text()
    assert "retry_delay_seconds=30," in text
    source.write_text(text.replace("retry_delay_seconds=30,", "retry_delay_seconds=1,"))
    cascade = Path(sys.executable).with_name("cascade")
    subprocess.run([cascade, "gen"], cwd=project_copy, check=True, capture_output=True)
    generated = (project_copy / "generated/assets/nightscout/glucose_entries.py").read_text()
    assert "retry_policy=dg.RetryPolicy(max_retries=3, delay=1)" in generated

    # dlt retries HTTP errors itself; with one attempt the 500 reaches Dagster's retry policy.
    env = {**catalog_env, "RUNTIME__REQUEST_MAX_ATTEMPTS": "1", "PYTHONPATH": str(project_copy)}
    result = subprocess.run(
        [sys.executable, "-c", RUN],
        cwd=project_copy,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"success": True, "retries": 1, "requests": 2, "rows": 288}
