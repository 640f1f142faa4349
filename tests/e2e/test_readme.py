"""Every shell block of README.md runs in a test, as written, so the README cannot show a
command that does not work (Dagster 1.13's `asset materialize` has no `--tags`, for one).

`RUNS` names the test that runs each shell block; a block no test runs fails
`test_every_shell_block_is_run`. The tests take the blocks' text from the README when they run
(tests/readme.py); what they change in it is only a port or a server address, where the README
names one the test cannot have."""

from __future__ import annotations

import ast
import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy
from pyiceberg.catalog import load_catalog

from examples.fixtures.nightscout_server import NightscoutFixtureServer, entries_for_day
from tests import readme
from tests.duckdb_reader import extension_file, query_iceberg
from tests.helpers import REPO_ROOT, edit

pytest_plugins = ["tests.e2e.postgres"]

DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")  # what `make demo` loads
MODEL = Path("examples/schemas/nightscout.py")
INGESTION = Path("examples/ingestion/nightscout/glucose.py")

# The test that runs each shell block: (section, how the block begins, test).
RUNS = [
    (
        "Quick start",
        "make demo",
        "test_quick_start.py::test_readme_commands_work_from_a_fresh_clone",
    ),
    ("See it in Dagster's UI", "make ui", "test_dagster_ui.py::ui"),
    ("Writing an ingestion", "mkdir my_project", "test_the_new_project_block"),
    ("See it in Dagster's UI", ".venv/bin/python -m examples", "test_the_make_ui_command_block"),
    (
        "See it in Dagster's UI",
        "DAGSTER_HOME=$PWD/.cascade/dagster",
        "test_dagster_ui.py::test_the_readme_command_line_load_shows_in_the_ui",
    ),
    ("Branches and publishing", "DAGSTER_HOME=", "test_the_branch_and_publish_block"),
    ("Backfills", "DAGSTER_HOME=", "test_the_backfill_block"),
    ("Looking at the tables", ".venv/bin/cascade show", "test_the_blocks_that_read_the_tables"),
    ("Table upkeep", ".venv/bin/cascade maintain", "test_the_upkeep_block"),
    ("Upkeep jobs in Dagster", "DAGSTER_HOME=", "test_the_upkeep_job_block"),
    ("Catalog configuration", "export PYICEBERG_CATALOG__", "test_the_postgresql_block"),
    ("Walkthrough", "$ cascade gen", "test_the_walkthrough_sessions"),
    ("Adopting a table made elsewhere", "$ cascade plan", "test_the_adoption_session"),
    ("Tests", '.venv/bin/python -m pytest -m "not slow"', "test_the_quick_test_loop_block"),
    ("Tests", ".venv/bin/python -m pytest tests/compiler/", "test_the_golden_update_block"),
]


def runs(block: readme.Block, section: str, beginning: str) -> bool:
    return block.section == section and block.first_line.startswith(beginning)


def test_every_shell_block_is_run() -> None:
    found = readme.shell_blocks()
    unrun = [b for b in found if not any(runs(b, s, p) for s, p, _ in RUNS)]
    assert not unrun, "README shell blocks no test runs (add them to RUNS):\n" + "\n".join(
        f"{b.where()}: {b.first_line}" for b in unrun
    )
    stale = [(s, p) for s, p, _ in RUNS if not any(runs(b, s, p) for b in found)]
    assert not stale, f"RUNS names blocks the README no longer has: {stale}"
    for _, _, test in RUNS:
        module, _, name = test.rpartition("::")
        source = Path(__file__).with_name(module or Path(__file__).name).read_text()
        assert f"def {name}(" in source, f"{test} does not exist"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A checkout of the work in progress (tests/readme.py), in which commands may change
    anything."""
    (tmp_path / "project").mkdir()
    return readme.checkout(tmp_path / "project")


def run_ok(script: str, project: Path, env: dict[str, str]) -> str:
    result = readme.run_script(script, project, env)
    assert result.returncode == 0, f"{script}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def make_demo(project: Path, env: dict[str, str]) -> None:
    """The README's starting point for what follows: the example's tables loaded."""
    assert "inserted=288" in run_ok("make demo", project, env)


def high_readings() -> int:
    """Readings of 180 mg/dL and above in the days `make demo` loads, from the fixture's own
    data (not from the table)."""
    return sum(
        entry["sgv"] >= 180 for day in DAYS for entry in entries_for_day(date.fromisoformat(day))
    )


@pytest.mark.slow
def test_the_new_project_block(tmp_path: Path) -> None:
    # `cascade init` to a load, as written, in an empty folder.
    script = readme.block("Writing an ingestion", "mkdir my_project", language="bash").text
    # Cascade installed: this test run's .venv/bin on PATH.
    done = run_ok(script, tmp_path, readme.shell_env(REPO_ROOT, home=tmp_path / "home"))
    project = tmp_path / "my_project"
    assert (project / ".gitignore").read_text(encoding="utf-8") == ".cascade/\n"
    assert "wrote pipelines/ingestion/events.py" in done
    assert "identifier fields: event_id" in done
    assert "2024-01-05-1" in done and "2024-01-05-2" in done  # the sample rows, from the table
    assert (project / ".cascade" / "catalog.db").is_file()  # the embedded default catalog
    assert (project / ".cascade" / "dagster" / "dagster.yaml").is_file()  # so Dagster warns not


@pytest.mark.slow
def test_the_walkthrough_sessions(project: Path) -> None:
    env = readme.shell_env(project)
    make_demo(project, env)
    sessions = [
        b for b in readme.blocks() if b.section == "Walkthrough" and b.language == "console"
    ]
    assert len(sessions) == 4
    model = project / MODEL

    # 1. the field the README shows, after sys_time, and the import it names
    battery = readme.block("Walkthrough", "    battery:", language="python").text
    edit(
        model,
        "from pandera.pandas import",
        "import pandera.pandas as pa\nfrom pandera.pandas import",
    )
    sys_time = next(line for line in model.read_text().splitlines(True) if "sys_time:" in line)
    edit(model, sys_time, sys_time + battery)
    readme.run_session(sessions[0], project, env)
    diff = subprocess.run(["git", "show", "HEAD", "--", "generated"], cwd=project, env=env,
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    review = readme.block("Walkthrough", "-from pyiceberg.types", language="diff").text
    assert all(line in diff.splitlines() for line in review.splitlines()), diff

    # 2. the rename the README shows in place of `device`, and battery a float | None
    uploader = readme.block("Walkthrough", "    uploader:", language="python").text
    device = '    device: str | None = Field(nullable=True, description="Uploading device")\n'
    edit(model, device, uploader)
    edit(model, "battery: pa.Float32 | None", "battery: float | None")
    readme.run_session(sessions[1], project, env)

    # 3. sys_time deleted: diff and apply refuse, and so does a load
    edit(model, sys_time, "")
    readme.run_session(sessions[2], project, env)
    refusal = next(
        b for b in readme.blocks()
        if b.section == "Walkthrough" and b.first_line.startswith("Table raw.glucose_entries")
    ).text  # fmt: skip
    before = load_catalog_of(project).load_table("raw.glucose_entries").metadata_location
    with NightscoutFixtureServer() as server:
        load = readme.run_script(
            ".venv/bin/dagster asset materialize -m generated.definitions"
            " --select dlt_glucose_entries --partition 2024-01-04",
            project,
            {
                **env,
                "NIGHTSCOUT_BASE_URL": server.url,
                "DAGSTER_HOME": str(project.parent / "home"),
            },
        )
    assert load.returncode == 1 and refusal in load.stdout + load.stderr, load.stderr[-4000:]
    assert load_catalog_of(project).load_table("raw.glucose_entries").metadata_location == before

    # ... until the decorator allows the drop
    allow = 'allow_breaking=("CAS201:sys_time",)'
    assert allow in readme.README.read_text()
    name = '    table_name="glucose_entries",\n'
    edit(project / INGESTION, name, f"{name}    {allow},\n")
    readme.run_session(sessions[3], project, env)


@pytest.mark.slow
def test_the_adoption_session(project: Path) -> None:
    env = readme.shell_env(project)
    section = "Adopting a table made elsewhere"
    made = readme.block(section, "from pyiceberg.schema import", language="python").text
    run_ok(f".venv/bin/python - <<'EOF'\n{made}EOF\n", project, env)
    readme.run_session(readme.block(section, "$ cascade plan", language="console"), project, env)
    module = (project / "generated/schemas/nightscout/glucose_entries.py").read_text()
    assert 'NestedField(2, "_id", StringType(), required=True' in module
    assert '5: "legacy",' in module  # retired: the model lacks it


def load_catalog_of(project: Path):
    from cascade.runtime import IcebergResource

    return IcebergResource(project_dir=str(project)).load_catalog()


@pytest.mark.slow
def test_the_blocks_that_read_the_tables(project: Path) -> None:
    env = readme.shell_env(project)
    make_demo(project, env)

    shown = run_ok(
        readme.block("Looking at the tables", ".venv/bin/cascade show").text, project, env
    )
    assert "raw.glucose_entries" in shown and "_id" in shown and "864" in shown, shown

    # DuckDB's `INSTALL iceberg` downloads the extension once: this machine is offline, so
    # the test installs the files of the duckdb-extension-* packages into the same home first.
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    install = "import duckdb\n" + "".join(
        f"duckdb.sql(\"INSTALL '{extension_file(package, name)}'\")\n"
        for package, name in (
            (duckdb_extension_avro, "avro.duckdb_extension"),
            (duckdb_extension_iceberg, "iceberg.duckdb_extension"),
        )
    )
    run_ok(f".venv/bin/python - <<'EOF'\n{install}EOF\n", project, env)
    reader = readme.block("Looking at the tables", "import duckdb", language="python").text
    printed = run_ok(f".venv/bin/python - <<'EOF'\n{reader}EOF\n", project, env).split()
    assert printed == [str(high_readings())] * 4, printed

    # The table contract's block: the unique key is the table's identifier fields.
    contract = readme.block("The table contract", "from generated.schemas", language="python").text
    *statements, last = contract.strip().splitlines()
    expression, _, expected = last.partition("  # ")
    script = "\n".join([*statements, f"print({expression})"])
    printed = run_ok(f".venv/bin/python - <<'EOF'\n{script}\nEOF\n", project, env).strip()
    assert ast.literal_eval(printed) == ast.literal_eval(expected)


def masked(lines: list[str]) -> list[str]:
    """Lines with their numbers as N: sizes differ by a few bytes from run to run (the load
    times and ids the files hold)."""
    return [re.sub(r"\d+(\.\d+)?", "N", line) for line in lines]


@pytest.mark.slow
def test_the_upkeep_block(project: Path) -> None:
    env = readme.shell_env(project)
    make_demo(project, env)
    table = load_catalog_of(project).load_table("raw.github_repo_stats")
    rows = query_iceberg(table.metadata_location, "SELECT * FROM {table}")

    printed = run_ok(readme.block("Table upkeep", ".venv/bin/cascade maintain").text, project, env)

    dry_run, _, done = printed.partition("cascade maintain: dry run, nothing was changed\n")
    assert "  compaction: would rewrite 18 small files of 6 partitions (" in dry_run, printed
    shown = readme.block("Table upkeep", "raw.github_events:", language="").text
    # What the README shows, but for the sizes; the counts of files and snapshots are the same.
    assert masked(done.splitlines()) == masked(shown.splitlines()), done
    assert [line for line in done.splitlines() if "files 18 -> 6" in line]
    table = load_catalog_of(project).load_table("raw.github_repo_stats")
    assert len(table.inspect.files()) == 6
    assert query_iceberg(table.metadata_location, "SELECT * FROM {table}") == rows


@pytest.mark.slow
def test_the_upkeep_job_block(project: Path) -> None:
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.scheduler.instigation import InstigatorStatus

    env = readme.shell_env(project)
    make_demo(project, env)
    table = load_catalog_of(project).load_table("raw.github_repo_stats")
    rows = query_iceberg(table.metadata_location, "SELECT * FROM {table}")

    run_ok(readme.block("Upkeep jobs in Dagster", "DAGSTER_HOME=").text, project, env)

    # Compacted as `cascade maintain` compacts it (test_the_upkeep_block), the rows unchanged.
    table = load_catalog_of(project).load_table("raw.github_repo_stats")
    assert len(table.inspect.files()) == 6
    assert query_iceberg(table.metadata_location, "SELECT * FROM {table}") == rows
    # The run and the schedule's state are in the project's Dagster instance.
    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(project / ".cascade/dagster")))
    try:
        [record] = instance.fetch_observations(dg.AssetKey("dlt_github_repo_stats"), 10).records
        observation = record.asset_observation
        assert observation is not None
        figures = {key: value.value for key, value in observation.metadata.items()}
        states = {state.name: state.status for state in instance.all_instigator_state()}
    finally:
        instance.dispose()
    assert figures["status"] == "maintained"
    assert (figures["data_files_before"], figures["files_rewritten"]) == (18, 18)
    assert (figures["files_written"], figures["data_files_after"]) == (6, 6)
    assert figures["snapshots_kept"] == 4
    assert states == {"upkeep_github_repo_stats_schedule": InstigatorStatus.RUNNING}


def test_the_make_ui_command_block() -> None:
    # `make ui` (which tests/e2e/test_dagster_ui.py runs) runs what the README says it runs.
    shown = readme.block("See it in Dagster's UI", ".venv/bin/python -m examples").text.split()
    recipe = re.search(r"^ui:.*\n((?:\t.*\n)+)", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert recipe, "Makefile has no ui target"
    command = recipe.group(1).replace("\\\n", " ").replace("$(BIN)", ".venv/bin")
    assert command.replace("$(UI_PORT)", "3000").split() == shown


@pytest.mark.slow
def test_the_branch_and_publish_block(project: Path) -> None:
    env = readme.shell_env(project)
    make_demo(project, env)  # main first: a branch starts from main's head
    script = readme.block("Branches and publishing", "DAGSTER_HOME=").text
    catalog = load_catalog_of(project)
    load, publish = script.split(".venv/bin/cascade publish")
    run_ok(load, project, env)
    table = catalog.load_table("raw.glucose_entries")
    assert table.scan().count() == 864  # main as it was
    dev = table.metadata.refs["dev"].snapshot_id
    assert table.scan(snapshot_id=dev).count() == 864 + 288
    run_ok(".venv/bin/cascade publish" + publish, project, env)
    assert catalog.load_table("raw.glucose_entries").current_snapshot().snapshot_id == dev


@pytest.mark.slow
def test_the_backfill_block(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `dagster asset materialize --partition-range` as written: one run, one commit.
    script = readme.block("Backfills", "DAGSTER_HOME=", language="bash").text
    first, last = re.search(r"--partition-range (\S+)\.\.\.(\S+)", script).groups()
    run_ok(script, project, readme.shell_env(project))
    table = load_catalog_of(project).load_table("raw.glucose_entries")
    assert len(table.snapshots()) == 1
    days = [date.fromisoformat(first) + timedelta(days=n) for n in range(7)]
    assert days[-1] == date.fromisoformat(last)
    per_day = query_iceberg(
        table.metadata_location,
        "SELECT CAST(date_string AS DATE), count(*) FROM {table} GROUP BY 1",
    )
    assert per_day == [(day, len(entries_for_day(day))) for day in days]
    monkeypatch.setenv("DAGSTER_HOME", str(project / ".cascade" / "dagster"))
    instance = dg.DagsterInstance.get()  # the instance the README's command recorded into
    assert len(instance.get_runs()) == 1
    records = instance.fetch_materializations(dg.AssetKey("dlt_glucose_entries"), limit=100)
    assert sorted(r.partition_key for r in records.records) == [d.isoformat() for d in days]


@pytest.mark.slow
def test_the_postgresql_block(project: Path, postgres_uri: str) -> None:
    from tests.e2e.postgres import create_database

    uri = create_database(postgres_uri, "cascade_readme")
    warehouse = (project.parent / "warehouse").as_uri()
    script = readme.block("Catalog configuration", "export PYICEBERG_CATALOG__CASCADE__TYPE").text
    script = script.replace("postgresql+psycopg2://user:password@db-host:5432/cascade", uri)
    script = script.replace("s3://my-bucket/warehouse", warehouse)
    env = readme.shell_env(project)
    run_ok(script + ".venv/bin/cascade apply\n", project, env)
    catalog = load_catalog("cascade", type="sql", uri=uri, warehouse=warehouse)
    assert ("raw", "glucose_entries") in catalog.list_tables("raw")
    assert not (project / ".cascade" / "catalog.db").exists()  # not the embedded default
    engine = sqlalchemy.create_engine(uri)
    try:
        with engine.connect() as connection:
            names = connection.execute(sqlalchemy.text("SELECT table_name FROM iceberg_tables"))
            assert "glucose_entries" in {row[0] for row in names}
    finally:
        engine.dispose()


@pytest.mark.slow
def test_the_quick_test_loop_block(tmp_path: Path) -> None:
    # Run from the repository as written, but only collected: this suite is what runs it.
    script = readme.block("Tests", '.venv/bin/python -m pytest -m "not slow"').text
    result = readme.run_script(script.strip() + " --collect-only -q", REPO_ROOT,
                               readme.shell_env(REPO_ROOT, home=tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = re.search(r"(\d+)/(\d+) tests collected \((\d+) deselected\)", result.stdout)
    assert summary, result.stdout[-2000:]
    selected, total, deselected = map(int, summary.groups())
    assert selected > 1000 and deselected > 100 and selected + deselected == total
    assert "tests/e2e/test_readme.py::test_the_quick_test_loop_block" not in result.stdout


@pytest.mark.slow
def test_the_golden_update_block(project: Path) -> None:
    # Rewriting the goldens of the committed compiler changes none of them.
    script = readme.block("Tests", ".venv/bin/python -m pytest tests/compiler/test_cases.py").text
    run_ok(script, project, readme.shell_env(project))
    status = subprocess.run(["git", "status", "--porcelain"], cwd=project, capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert status == "", status
