"""pytest plugin (entry point `pytest11`): snapshot tests of a Cascade project's table schemas.

    def test_schemas(cascade_schemas, cascade_snapshot):
        assert cascade_schemas == cascade_snapshot

`cascade_schemas` compiles the project in memory (the same compilation `cascade gen` runs, field
ids locked by the generated output on disk) and gives each table's schema as text
(review/schema_text.py), by table identifier. `cascade_snapshot` compares that with one
plain text file per table under __snapshots__/, through syrupy. After an intended schema
change: pytest --snapshot-update.

The project is the folder of pytest's rootdir, or the `cascade_project` ini option (relative to
the rootdir), or the `cascade_project` fixture overridden in a conftest.py or parametrized.

This module loads in every pytest run of an environment where Cascade is installed, so it
imports only pytest at load time; the compiler and syrupy are imported when a test asks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PROJECT_INI = "cascade_project"

# Compiled schemas (or the diagnostics that stopped the compile) per project folder, once per
# session: every test that asks for the same project shares one compilation.
_compiled = pytest.StashKey[dict[Path, "dict[str, str] | str"]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        PROJECT_INI,
        "Folder (relative to the rootdir) whose pyproject.toml has the [tool.cascade] table "
        "that the cascade_schemas fixture compiles.",
        default=".",
    )


@pytest.fixture
def cascade_project(request: pytest.FixtureRequest) -> Path:
    """The Cascade project folder: the rootdir, or the `cascade_project` ini option."""
    return request.config.rootpath / str(request.config.getini(PROJECT_INI))


@pytest.fixture
def cascade_schemas(request: pytest.FixtureRequest, cascade_project: Path | str) -> dict[str, str]:
    """Each table's schema as text, by table identifier (`raw.glucose_entries`), sorted."""
    # A parametrized `cascade_project` may be a string; relative paths start at the rootdir.
    project = (request.config.rootpath / cascade_project).resolve()
    compiled = request.config.stash.setdefault(_compiled, {})
    if project not in compiled:
        compiled[project] = compile_schema_texts(project)
    result = compiled[project]
    if isinstance(result, str):
        # The compiler's own diagnostics are the whole story; a traceback through this
        # fixture would only bury them.
        pytest.fail(result, pytrace=False)
    return dict(result)


@pytest.fixture
def cascade_snapshot(request: pytest.FixtureRequest):
    """Table schema snapshots, one file per table: `assert cascade_schemas == cascade_snapshot`."""
    try:
        from cascade.compiler.review.schema_snapshot import SchemaSnapshots
    except ImportError as error:
        pytest.fail(f"cascade_snapshot needs syrupy ({error}): pip install syrupy", pytrace=False)
    return SchemaSnapshots(request.getfixturevalue("snapshot"))


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object):
    # No SchemaSnapshots exists before its module is imported: other assertions pay nothing.
    module = sys.modules.get("cascade.compiler.review.schema_snapshot")
    if module is None or op != "==":
        return None
    for side in (left, right):
        if isinstance(side, module.SchemaSnapshots):
            return side.explain()
    return None


def compile_schema_texts(project: Path) -> dict[str, str] | str:
    """The schema texts of the project's tables, or the diagnostics text if it does not compile."""
    from cascade.compiler.config import ConfigError, load_config
    from cascade.compiler.diagnostics import has_errors
    from cascade.compiler.driver.compile import analyze_project
    from cascade.compiler.review.schema_text import render_schema_texts

    try:
        config = load_config(project)
    except ConfigError as error:
        return f"cascade: cannot read the project in {project}:\n{error.diagnostic.format_text()}"
    ingestions, diagnostics = analyze_project(config)
    if has_errors(diagnostics):
        lines = "\n".join(d.format_text() for d in diagnostics)
        return f"cascade: the project in {project} does not compile:\n{lines}"
    return render_schema_texts(ingestions)
