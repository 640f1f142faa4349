"""Dagster's UI on the project's instance, as a newcomer gets it: `make demo`, then `make ui`.

One copy of the example project, with its embedded catalog and Dagster instance in its own
.cascade/, is loaded by `make demo` and served by `make ui` (`dagster dev`: the webserver and the
daemon, with the fixture servers) on 127.0.0.1. The demo's loads are in the UI with their
metadata and check, and so is the README's command-line load; runs launched by the GraphQL
mutations the UI sends (one partition: a run; several: a backfill) complete and land in the
table; and headless Chromium renders the asset's row count, column schema and Pandera check.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table

from generated.schemas.nightscout.glucose_entries import TABLE
from tests import readme
from tests.e2e.chromium import Chromium
from tests.helpers import REPO_ROOT, copy_example_project, free_port

# Slow: make, dagster dev with its daemon, code servers and runs, and a browser, as processes.
pytestmark = pytest.mark.slow

VENV = Path(sys.executable).parent.parent
ASSET = "dlt_glucose_entries"
ASSET_KEY = {"path": [ASSET]}
CHECK = "pandera_validation"
REPOSITORY = {"repositoryLocationName": "generated.definitions", "repositoryName": "__repository__"}
ROWS_PER_DAY = 288  # the Nightscout fixture's readings: one every five minutes
DEMO_DAY = "2024-01-01"  # the first of the three days `make demo` loads


@dataclass
class DagsterUI:
    """`make ui` serving the project copy `project` at `url`."""

    url: str
    project: Path
    log: Path

    def graphql(self, query: str, **variables: object) -> dict:
        """The answer's data; the test fails on a GraphQL error."""
        request = urllib.request.Request(
            f"{self.url}/graphql",
            data=json.dumps({"query": query, "variables": variables}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.load(response)
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]

    def log_tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-5000:]

    def table(self) -> Table:
        """The table as the project's embedded catalog (.cascade/catalog.db) holds it now."""
        home = self.project / ".cascade"
        catalog = SqlCatalog(
            "cascade",
            uri=f"sqlite:///{home / 'catalog.db'}",
            warehouse=(home / "warehouse").as_uri(),
        )
        return catalog.load_table(TABLE.identifier)


def newcomer_env() -> dict[str, str]:
    """This environment without anything that would point Dagster, the catalog or the example
    ingestions elsewhere: the project's own defaults apply, as on a fresh machine."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DAGSTER_", "PYICEBERG_", "NIGHTSCOUT_"))
        and key not in ("GITHUB_API_BASE_URL", "GITHUB_USER", "GITHUB_TOKEN")
    }


def make(project: Path, target: str, *variables: str) -> list[str]:
    """`make target` in the project copy, whose .venv is this test run's virtualenv, taken as
    installed (`-o`: the copy's newer pyproject.toml must not reinstall it)."""
    return ["make", "-C", str(project), "-o", ".venv/.installed", target, *variables]


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C for the session's process group (make, the fixture servers, dagster dev, its
    webserver, daemon, code servers and runs), then SIGKILL for whatever is left of it."""
    for sig, wait in ((signal.SIGINT, 60), (signal.SIGKILL, 30)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagsterUI]:
    folder = tmp_path_factory.mktemp("ui")
    project = copy_example_project(folder / "project")
    shutil.copy(REPO_ROOT / "Makefile", project / "Makefile")
    # The Makefile's and the README's .venv: this test run's virtualenv.
    (project / ".venv").symlink_to(VENV, target_is_directory=True)
    env = newcomer_env()

    demo = subprocess.run(
        make(project, "demo"), env=env, capture_output=True, text=True, timeout=600
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert (project / ".cascade" / "dagster").is_dir(), "the demo made no Dagster instance"

    port = free_port()
    log = folder / "make-ui.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            make(project, "ui", f"UI_PORT={port}"),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # one process group: everything it starts is stopped with it
        )
    served = DagsterUI(f"http://127.0.0.1:{port}", project, log)
    try:
        # The webserver answers before the code location is loaded: poll until it is.
        deadline = time.monotonic() + 240
        while True:
            assert process.poll() is None, f"make ui exited:\n{served.log_tail()}"
            assert time.monotonic() < deadline, f"no asset served in time:\n{served.log_tail()}"
            try:
                nodes = served.graphql("{ assetNodes { assetKey { path } } }")["assetNodes"]
                if {"assetKey": ASSET_KEY} in nodes:
                    break
            except (urllib.error.URLError, ConnectionError, AssertionError, KeyError, TypeError):
                pass
            time.sleep(0.5)
        yield served
    finally:
        stop(process)


# -- GraphQL: what the UI asks and sends -----------------------------------------------------

MATERIALIZATIONS = """
query Materializations($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    ... on Asset {
      assetMaterializations(limit: 100) {
        runId
        partition
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on TextMetadataEntry { text }
          ... on TableSchemaMetadataEntry { schema { columns { name type } } }
        }
      }
    }
  }
}
"""

CHECK_EXECUTIONS = """
query CheckExecutions($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 100) {
    runId
    status
    evaluation {
      success
      metadataEntries {
        label
        ... on IntMetadataEntry { intValue }
        ... on TextMetadataEntry { text }
      }
    }
  }
}
"""

# The UI's "Materialize…" for one partition: it reads the partition's tags and config ...
PARTITION_TAGS_AND_CONFIG = """
query ConfigPartitionForAssetJobQuery(
  $repositoryName: String!, $repositoryLocationName: String!, $jobName: String!,
  $partitionName: String!, $assetKeys: [AssetKeyInput!]!
) {
  pipelineOrError(params: {pipelineName: $jobName, repositoryName: $repositoryName,
                           repositoryLocationName: $repositoryLocationName}) {
    ... on Pipeline {
      partition(partitionName: $partitionName, selectedAssetKeys: $assetKeys) {
        runConfigOrError { ... on PartitionRunConfig { yaml } }
        tagsOrError { ... on PartitionTags { results { key value } } }
      }
    }
  }
}
"""

# ... and launches one run with them (ui-core/src/runs/RunUtils.tsx) ...
LAUNCH_RUN = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { id } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
  }
}
"""

# ... and for several partitions it launches a backfill (ui-core/src/instance/backfill).
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""

BACKFILL = """
query Backfill($backfillId: String!) {
  partitionBackfillOrError(backfillId: $backfillId) {
    ... on PartitionBackfill { status runs(limit: 100) { id status tags { key value } } }
  }
}
"""

RUN_STATUS = "query Run($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }"

RUN_LOGS = """
query RunLogs($runId: ID!) {
  logsForRun(runId: $runId) {
    ... on EventConnection {
      events {
        __typename
        ... on MessageEvent { message }
        ... on ErrorEvent { error { message } }
      }
    }
  }
}
"""

FROM_UI = {"key": "dagster/from_ui", "value": "true"}  # what the UI adds to what it launches
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def wait_for_run(ui: DagsterUI, run_id: str, timeout: float = 300) -> None:
    """Polls the run until it finishes; the test fails with its logs unless it succeeded."""
    deadline = time.monotonic() + timeout
    status = ""
    while status not in FINISHED:
        assert time.monotonic() < deadline, f"run {run_id} still {status}:\n{ui.log_tail()}"
        time.sleep(0.5)
        status = ui.graphql(RUN_STATUS, runId=run_id)["runOrError"]["status"]
    if status != "SUCCESS":
        events = ui.graphql(RUN_LOGS, runId=run_id)["logsForRun"]["events"]
        lines = [
            f"{e['__typename']}: {e.get('message', '')} {(e.get('error') or {}).get('message', '')}"
            for e in events
        ]
        pytest.fail(f"run {run_id} ended {status}:\n" + "\n".join(lines[-60:]))


def rows_per_day(table: Table) -> Counter[str]:
    readings = table.scan(selected_fields=("date_string",)).to_arrow()["date_string"]
    return Counter(stamp.date().isoformat() for stamp in readings.to_pylist())


def latest_row_count(ui: DagsterUI) -> int:
    """`dagster/row_count` of the asset's latest materialization, as the UI reads it."""
    asset = ui.graphql(MATERIALIZATIONS, assetKey=ASSET_KEY)["assetOrError"]
    assert asset["assetMaterializations"], f"no materialization of {ASSET} in the instance"
    latest = asset["assetMaterializations"][0]  # newest first
    return next(
        e["intValue"] for e in latest["metadataEntries"] if e["label"] == "dagster/row_count"
    )


# -- the tests ----------------------------------------------------------------------------------


def test_the_demo_loads_are_in_the_ui_with_their_metadata_and_check(ui: DagsterUI):
    nodes = ui.graphql("{ assetNodes { assetKey { path } groupName isPartitioned } }")
    assert {"assetKey": ASSET_KEY, "groupName": "nightscout", "isPartitioned": True} in nodes[
        "assetNodes"
    ]

    asset = ui.graphql(MATERIALIZATIONS, assetKey=ASSET_KEY)["assetOrError"]
    loaded = [m for m in asset["assetMaterializations"] if m["partition"] == DEMO_DAY]
    assert len(loaded) == 1, f"{DEMO_DAY}: {len(loaded)} materialization(s) in the instance"
    [demo] = loaded
    metadata = {e["label"]: e for e in demo["metadataEntries"]}
    assert metadata["rows_inserted"]["intValue"] == ROWS_PER_DAY
    assert metadata["dagster/row_count"]["intValue"] >= ROWS_PER_DAY
    assert metadata["table_name"]["text"] == TABLE.identifier
    columns = metadata["dagster/column_schema"]["schema"]["columns"]
    assert [c["name"] for c in columns] == [f.name for f in TABLE.schema.fields]

    checks = ui.graphql(CHECK_EXECUTIONS, assetKey=ASSET_KEY, checkName=CHECK)
    # Dagster 1.13 also records a per-partition execution of the check as planned, which
    # stays without an evaluation (the UI shows it as skipped): the run's evaluated one.
    [check] = [
        c for c in checks["assetCheckExecutions"] if c["runId"] == demo["runId"] and c["evaluation"]
    ]
    assert check["status"] == "SUCCEEDED"
    assert check["evaluation"]["success"] is True
    check_metadata = {e["label"]: e for e in check["evaluation"]["metadataEntries"]}
    assert check_metadata["rows"]["intValue"] == ROWS_PER_DAY


def test_the_readme_command_line_load_shows_in_the_ui(ui: DagsterUI):
    command = readme.block("See it in Dagster's UI", "DAGSTER_HOME=", language="bash").text
    [day] = re.findall(r"--partition (\S+)", command)
    assert day not in ("2024-01-01", "2024-01-02", "2024-01-03"), "a day the demo loaded"

    done = subprocess.run(
        ["bash", "-c", command],
        cwd=ui.project,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    asset = ui.graphql(MATERIALIZATIONS, assetKey=ASSET_KEY)["assetOrError"]
    loaded = [m for m in asset["assetMaterializations"] if m["partition"] == day]
    assert len(loaded) == 1, f"{day}: {len(loaded)} materialization(s) in the UI's instance"
    [load] = loaded
    metadata = {e["label"]: e for e in load["metadataEntries"]}
    assert metadata["rows_inserted"]["intValue"] == ROWS_PER_DAY
    assert rows_per_day(ui.table())[day] == ROWS_PER_DAY


def test_a_partition_launched_from_the_ui_is_loaded(ui: DagsterUI):
    day = "2024-01-05"  # after the demo's three days and the README's command line load
    partition = ui.graphql(
        PARTITION_TAGS_AND_CONFIG,
        jobName="__ASSET_JOB",
        partitionName=day,
        assetKeys=[ASSET_KEY],
        **REPOSITORY,
    )["pipelineOrError"]["partition"]
    tags = partition["tagsOrError"]["results"]
    assert {"key": "dagster/partition", "value": day} in tags
    execution = {
        "mode": "default",
        "executionMetadata": {"tags": [*tags, FROM_UI]},
        "runConfigData": partition["runConfigOrError"]["yaml"],
        "selector": {
            **REPOSITORY,
            "pipelineName": "__ASSET_JOB",
            "assetSelection": [ASSET_KEY],
            "assetCheckSelection": [{"name": CHECK, "assetKey": ASSET_KEY}],
        },
    }
    launched = ui.graphql(LAUNCH_RUN, executionParams=execution)["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched

    wait_for_run(ui, launched["run"]["id"])
    assert rows_per_day(ui.table())[day] == ROWS_PER_DAY


def test_a_backfill_launched_from_the_ui_loads_each_partition(ui: DagsterUI):
    days = ["2024-01-06", "2024-01-07"]
    params = {
        "tags": [FROM_UI],
        "assetSelection": [ASSET_KEY],
        "partitionNames": days,
        "fromFailure": False,
    }
    launched = ui.graphql(LAUNCH_BACKFILL, backfillParams=params)["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched

    # The daemon turns the backfill into runs and launches them.
    deadline = time.monotonic() + 300
    while True:
        backfill = ui.graphql(BACKFILL, backfillId=launched["backfillId"])
        backfill = backfill["partitionBackfillOrError"]
        if backfill["status"] not in ("REQUESTED", "FAILING", "CANCELING"):
            break
        assert time.monotonic() < deadline, f"backfill {backfill}:\n{ui.log_tail()}"
        time.sleep(0.5)
    for run in backfill["runs"]:
        wait_for_run(ui, run["id"])  # fails with the run's logs if it failed
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    # One run for the range: the generated asset's single-run backfill policy.
    [run] = backfill["runs"]
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert tags["dagster/asset_partition_range_start"] == days[0]
    assert tags["dagster/asset_partition_range_end"] == days[-1]
    loaded = rows_per_day(ui.table())
    assert [loaded[day] for day in days] == [ROWS_PER_DAY, ROWS_PER_DAY]


def test_chromium_renders_the_row_count_columns_and_pandera_check(ui: DagsterUI):
    # What the page must show: the latest load's row count, which is the table's (in the
    # browser's en-US format: 1,728).
    row_count = latest_row_count(ui)
    assert row_count == ui.table().scan().count()
    page = f"{ui.url}/assets/{ASSET}"
    with Chromium() as browser:
        browser.open(page)
        browser.wait_for_text(
            [
                rf"Row count\s+{row_count:,}$",
                r"^Columns$",
                r"unique key: _id",
                # Each column with its Iceberg type, from the column schema.
                *(
                    rf"^{re.escape(field.name)}\s+{re.escape(str(field.field_type))}$"
                    for field in TABLE.schema.fields
                ),
            ]
        )
        browser.open(f"{page}?view=checks")
        browser.wait_for_text(
            [
                rf"^{CHECK}$",
                r"Rows satisfy the Pandera model RawGlucoseEntries",
                r"Evaluation result\s+Passed",
                r"model\s+RawGlucoseEntries",
            ]
        )
