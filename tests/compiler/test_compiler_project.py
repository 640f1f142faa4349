"""`cascade gen` and `cascade check` on the example project: freshness, stability, diffs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cascade.compiler import compile_project, load_config
from cascade.compiler.cli import main
from cascade.compiler.driver.previous import existing_generated_files
from cascade.compiler.driver.write import stale_diff
from tests.helpers import REPO_ROOT

GLUCOSE = "examples/ingestion/nightscout/glucose.py"
ASSET = "generated/assets/nightscout/glucose_entries.py"


def compile_files(project: Path) -> dict[str, str]:
    compilation = compile_project(load_config(project))
    assert compilation.ok, [d.format_text() for d in compilation.diagnostics]
    return compilation.files


def changed_lines(before: dict[str, str], after: dict[str, str]) -> dict[str, list[tuple]]:
    """Per file, the (old, new) line pairs that differ; files must keep their line count."""
    assert before.keys() == after.keys()
    changes = {}
    for path in before:
        old, new = before[path].splitlines(), after[path].splitlines()
        assert len(old) == len(new), path
        pairs = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
        if pairs:
            changes[path] = pairs
    return changes


def test_generated_folder_equals_a_fresh_compile_of_examples():
    config = load_config(REPO_ROOT)
    compilation = compile_project(config)
    assert compilation.ok
    diff = stale_diff(config, compilation.files, existing_generated_files(config))
    assert diff == "", f"generated/ is stale; run `cascade gen`:\n{diff}"


@pytest.mark.slow
def test_cascade_check_console_script_passes_on_the_repo():
    # The installed console script, as CI and pre-commit run it.
    cascade = Path(sys.executable).with_name("cascade")
    result = subprocess.run([cascade, "check"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_gen_twice_changes_nothing(project_copy: Path):
    runner = CliRunner()
    first = runner.invoke(main, ["gen", "--project", str(project_copy)])
    assert first.exit_code == 0, first.output
    snapshot = {p: p.read_bytes() for p in (project_copy / "generated").rglob("*.py")}
    second = runner.invoke(main, ["gen", "--project", str(project_copy)])
    assert second.exit_code == 0, second.output
    assert "0 changed" in second.output
    assert {p: p.read_bytes() for p in (project_copy / "generated").rglob("*.py")} == snapshot


def test_reordering_imports_changes_no_generated_line(project_copy: Path):
    before = compile_files(project_copy)
    source = project_copy / GLUCOSE
    text = source.read_text()
    imports = (
        "from cascade.runtime import cascade_ingestion\n"
        "from examples.schemas.nightscout import RawGlucoseEntries\n"
    )
    assert imports in text
    swapped = (
        "from examples.schemas.nightscout import RawGlucoseEntries\n"
        "from cascade.runtime import cascade_ingestion as ingest\n"
    )
    source.write_text(text.replace(imports, swapped).replace("@cascade_ingestion(", "@ingest("))
    assert compile_files(project_copy) == before


def test_changing_the_docstring_changes_only_the_asset_description(project_copy: Path):
    before = compile_files(project_copy)
    source = project_copy / GLUCOSE
    old_doc = "Glucose readings from Nightscout, one daily partition per UTC day."
    new_doc = "CGM readings, one partition per UTC day."
    source.write_text(source.read_text().replace(old_doc, new_doc))
    changes = changed_lines(before, compile_files(project_copy))
    assert list(changes) == [ASSET]
    [(old, new)] = changes[ASSET]
    assert old.strip() == f'description="{old_doc}",'
    assert new.strip() == f'description="{new_doc}",'


def test_check_fails_with_a_diff_and_the_command_when_stale(project_copy: Path):
    source = project_copy / "examples/schemas/nightscout.py"
    source.write_text(source.read_text().replace('"Entry type"', '"Kind of entry"'))
    result = CliRunner().invoke(main, ["check", "--project", str(project_copy)])
    assert result.exit_code == 1
    assert "--- a/generated/schemas/nightscout/glucose_entries.py" in result.output
    assert '-    NestedField(8, "type", StringType(), required=False, doc="Entry type"),' in (
        result.output
    )
    assert '+    NestedField(8, "type", StringType(), required=False, doc="Kind of entry"),' in (
        result.output
    )
    assert "run: cascade gen" in result.output
    # check never writes
    assert (
        '"Entry type"'
        in (project_copy / "generated/schemas/nightscout/glucose_entries.py").read_text()
    )


def test_gen_removes_orphaned_generated_files_and_keeps_user_files(project_copy: Path):
    orphan = project_copy / "generated/assets/old_group/old_table.py"
    orphan.parent.mkdir()
    orphan.write_text("# Code generated by cascade gen from gone.py. DO NOT EDIT.\n")
    user_file = project_copy / "generated/README.txt"
    user_file.write_text("not ours")
    result = CliRunner().invoke(main, ["gen", "--project", str(project_copy)])
    assert result.exit_code == 0, result.output
    assert "removed generated/assets/old_group/old_table.py" in result.output
    assert not orphan.parent.exists()
    assert user_file.read_text() == "not ours"


@pytest.mark.slow
def test_a_user_mistake_is_a_located_diagnostic_and_nothing_is_written(project_copy: Path):
    source = project_copy / GLUCOSE
    source.write_text(source.read_text().replace('table_name="glucose_entries"', 'table="x"'))
    before = {p: p.read_bytes() for p in (project_copy / "generated").rglob("*.py")}
    result = subprocess.run(
        [Path(sys.executable).with_name("cascade"), "gen"],
        cwd=project_copy,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = source.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if 'table="x"' in text)
    assert (
        f"{GLUCOSE}:{line}:5: error: unknown @cascade_ingestion parameter 'table'\n"
        "  hint: did you mean 'table_name'?"
    ) in result.stderr
    assert "missing the required parameter 'table_name'" in result.stderr
    assert {p: p.read_bytes() for p in (project_copy / "generated").rglob("*.py")} == before


@pytest.mark.slow
def test_the_compiler_does_not_import_user_modules(project_copy: Path):
    # An ingestion module whose import leaves a marker file: gen must read it, not run it.
    marker = project_copy / "imported.marker"
    tripwire = project_copy / "examples/ingestion/nightscout/tripwire.py"
    tripwire.write_text(
        "from pathlib import Path\n"
        "from cascade.runtime import cascade_ingestion\n"
        "from examples.schemas.nightscout import RawGlucoseEntries\n"
        f"Path({str(marker)!r}).write_text('imported')\n\n\n"
        "@cascade_ingestion(table_name='tripwire', unique_key='_id',\n"
        "                   validation_schema=RawGlucoseEntries, group='nightscout')\n"
        "def tripwire(partition_date: str):\n"
        "    return None\n"
    )
    result = subprocess.run(
        [Path(sys.executable).with_name("cascade"), "gen"],
        cwd=project_copy,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (project_copy / "generated/assets/nightscout/tripwire.py").is_file()
    assert not marker.exists()


def test_github_format_prints_one_annotation_per_diagnostic(project_copy: Path):
    source = project_copy / GLUCOSE
    text = source.read_text()
    text = text.replace('cron="0 */1 * * *"', 'cron="0 25 * * *"')
    text = text.replace("freshness_hours=(1, 24)", "freshness_hours=(24, 1)")
    source.write_text(text)
    result = CliRunner().invoke(
        main, ["check", "--project", str(project_copy), "--format", "github"]
    )
    assert result.exit_code == 1
    lines = text.splitlines()
    cron_line = next(n for n, line in enumerate(lines, 1) if "cron=" in line)
    fresh_line = next(n for n, line in enumerate(lines, 1) if "freshness_hours=" in line)
    annotations = [line for line in result.output.splitlines() if line.startswith("::")]
    assert annotations == [
        f"::error file={GLUCOSE},line={cron_line},col=5::invalid cron '0 25 * * *': hour field "
        "'25': '25' is outside 0-23 (hint: for example \"0 */1 * * *\" (every hour) or "
        '"30 6 * * *" (every day at 06:30 UTC))',
        f"::error file={GLUCOSE},line={fresh_line},col=5::freshness_hours must be (warn_hours, "
        "fail_hours) with 0 < warn < fail, got (24, 1) (hint: for example freshness_hours=(1, 24))",
    ]


@pytest.mark.parametrize("command", [["gen"], ["check"], ["plan"], ["apply"], ["publish", "dev"]])
def test_an_unreadable_schema_module_stops_every_command_before_it_acts(
    project_copy: Path, command: list[str]
) -> None:
    # A merge left its markers in a generated schema module: its field ids cannot be read, so
    # gen must not renumber the table, and publish must not leave the table behind.
    path = project_copy / "generated" / "schemas" / "nightscout" / "glucose_entries.py"
    text = path.read_text(encoding="utf-8")
    conflicted = text.replace("SCHEMA = Schema(", "<<<<<<< HEAD\nSCHEMA = Schema(", 1)
    path.write_text(conflicted, encoding="utf-8")
    result = CliRunner().invoke(main, [*command, "--project", str(project_copy)])
    assert result.exit_code == 1, result.output
    assert "generated/schemas/nightscout/glucose_entries.py:" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert path.read_text(encoding="utf-8") == conflicted  # nothing written
    assert not (project_copy / ".cascade" / "catalog.db").exists()  # no catalog touched


def test_version_names_the_installed_distribution() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"cascade, version {version('cascade-lakehouse')}\n"
