"""User text can never break or inject into generated code, and the output does not depend on
the machine: file-system order, locale or the user's formatter configuration."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cascade.compiler import compile_project, load_config
from tests.helpers import CASES, project_files

PYPROJECT = (CASES / "params_required_only" / "pyproject.toml").read_text(encoding="utf-8")
MODEL = """\
from pandera.pandas import DataFrameModel, Field


class Notes(DataFrameModel):
    {model_doc}

    note_id: str = Field(description={description})
"""
INGESTION = """\
from cascade.runtime import cascade_ingestion
from models.notes import Notes


@cascade_ingestion(
    table_name="notes",
    unique_key="note_id",
    validation_schema=Notes,
    group="g",
    ignored_keys=({ignored_key},),
)
def load(partition_date: str):
    {ingestion_doc}
    return None
"""
# Fragments that have broken code generators: quotes of every kind, escapes, line ends,
# formatter pragmas, format braces; mixed with arbitrary text (no lone surrogates: they
# cannot be written as UTF-8 source).
FRAGMENTS = ['"', "'", '"""', "'''", "\\", "\\n", "\n", "\r", "\r\n", "\x00", "\t", " "]
FRAGMENTS += ["# fmt: off", "# fmt: on", "# noqa", "{}", "{0}", "%s", "\u2028", "é", "日本", "🧊"]
user_text = st.lists(
    st.sampled_from(FRAGMENTS) | st.text(st.characters(exclude_categories=["Cs"]), max_size=4),
    max_size=12,
).map("".join)


def write_project(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


PROJECT_PACKAGES = ("generated", "ingestion", "models")


def project_modules() -> dict[str, object]:
    return {m: sys.modules[m] for m in list(sys.modules) if m.split(".")[0] in PROJECT_PACKAGES}


@pytest.fixture(autouse=True)
def restore_project_modules():
    """Temp projects import their own `generated` package: put the repo's back afterwards."""
    saved = project_modules()
    yield
    for name in project_modules():
        del sys.modules[name]
    sys.modules.update(saved)


def import_fresh(root: Path, name: str):
    """Imports `name` from the project at `root`, forgetting the modules of earlier examples."""
    for loaded in project_modules():
        del sys.modules[loaded]
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(root))


def generate_and_import(root: Path, description: str, model_doc: str, ingestion_doc: str):
    """Writes a project whose texts are `repr()`s of the arguments (so the input is valid
    Python), compiles it, writes the output and imports the schema and asset modules."""
    write_project(
        root,
        {
            "pyproject.toml": PYPROJECT,
            "models/__init__.py": "",
            "models/notes.py": MODEL.format(
                model_doc=repr(model_doc), description=repr(description)
            ),
            "ingestion/__init__.py": "",
            "ingestion/notes.py": INGESTION.format(
                ingestion_doc=repr(ingestion_doc), ignored_key=repr(ignored_key(description))
            ),
        },
    )
    compilation = compile_project(load_config(root), previous={})
    assert compilation.ok, [d.format_text() for d in compilation.diagnostics]
    write_project(root, compilation.files)
    for text in compilation.files.values():
        # Beyond the docstring: imports, assignments and definitions; no statement of user text.
        body = ast.parse(text).body
        assert all(isinstance(node, DEFINITIONS) for node in body[1:]), text
    return import_fresh(root, "generated.schemas.g.notes"), import_fresh(
        root, "generated.assets.g.notes"
    )


def ignored_key(text: str) -> str:
    """A source key to ignore that holds `text`: a dotted path of non-blank parts."""
    return "meta.k" + text.replace(".", "")


DEFINITIONS = (ast.Import, ast.ImportFrom, ast.Assign, ast.FunctionDef)


def public_names(module) -> set[str]:
    return {name for name in vars(module) if not name.startswith("__")}


@functools.cache
def plain_names() -> tuple[set[str], set[str]]:
    """The names the two modules define when every user text is plain."""
    with tempfile.TemporaryDirectory() as folder:
        schema, asset = generate_and_import(Path(folder), "Plain.", "Plain.", "Plain.")
        return public_names(schema), public_names(asset)


@settings(max_examples=40, deadline=None)
@given(description=user_text, model_doc=user_text, ingestion_doc=user_text)
@example(
    description='\'"""\\\r\n\x00# fmt: on\n"',
    model_doc='Ends in a quote"\n\t"""\\ ünï\u2028',
    ingestion_doc='"""); import os  # \r\n{}\x00\'',
)
# A trailing space inside a docstring line: the formatter would strip it from a
# triple-quoted docstring, so the renderer must fall back to an escaped literal.
@example(description="d", model_doc="a trailing space \nis part of the text", ingestion_doc="i")
def test_user_text_round_trips_exactly_and_executes_nothing(
    description: str, model_doc: str, ingestion_doc: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        schema, asset = generate_and_import(Path(folder), description, model_doc, ingestion_doc)
    [note_id] = [f for f in schema.SCHEMA.fields if f.name == "note_id"]
    assert note_id.doc == (description or None)
    assert schema.TABLE.ignored_keys == (ignored_key(description),)
    # Docstrings as Python shows them (inspect.getdoc), trimmed.
    title = "Iceberg table raw.notes, from the Pandera model Notes."
    model_text = inspect.cleandoc(model_doc)
    expected_doc = f"{title}\n\n{model_text}".strip() if model_text else title
    assert inspect.cleandoc(schema.__doc__) == expected_doc
    [spec] = asset.dlt_notes.specs
    assert spec.description == (inspect.cleandoc(ingestion_doc) or None)
    assert (public_names(schema), public_names(asset)) == plain_names()


# -- maintenance= ---------------------------------------------------------------------------

MAINTENANCE_INGESTION = """\
from cascade.runtime import cascade_ingestion
from models.notes import Notes


@cascade_ingestion(
    table_name="notes",
    unique_key="note_id",
    validation_schema=Notes,
    group="g",
    maintenance={maintenance},
)
def load(partition_date: str):
    return None
"""
UPKEEP_DEFAULTS = {
    "cron": "30 3 * * *",
    "retention_days": 7,
    "orphan_age_hours": 24,
    "target_file_size_mb": None,
}
UPKEEP_BOUNDS = {
    "retention_days": (0, 36500),
    "orphan_age_hours": (1, 876000),
    "target_file_size_mb": (0, 1048576),
    "max_file_rows": (1, 10**9),  # an integer; left out of the call when None
}
CRON_TOKENS = ["*", "0", "3", "30", "59", "60", "*/5", "1-5", "sun", "mon-fri", "jan", "@daily"]
valid_crons = st.tuples(
    st.sampled_from(["0", "30", "*/15", "*"]),
    st.sampled_from(["3", "*", "1-5", "22-2"]),
    st.sampled_from(["*", "1", "*/2"]),
    st.sampled_from(["*", "jan", "1-6"]),
    st.sampled_from(["*", "sun", "mon-fri", "7"]),
).map(" ".join)
crons = (
    valid_crons
    | st.lists(st.sampled_from(CRON_TOKENS), min_size=1, max_size=6).map(" ".join)
    | user_text
)
numbers = (
    st.integers(1, 1000)
    | st.floats(1, 1000)
    | st.integers(-2, 10**7)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.none()
    | st.sampled_from(["7", ""])
)
maintenance_values = (
    st.none()
    | valid_crons
    | crons
    | st.fixed_dictionaries(
        {},
        optional={
            "cron": valid_crons | crons | st.none(),
            "retention_days": numbers,
            "orphan_age_hours": numbers,
            "target_file_size_mb": numbers,
            "max_file_rows": numbers,
        },
    )
    | st.dictionaries(st.text(max_size=4) | st.integers(), numbers, max_size=2)
)


def upkeep_arguments(asset_module: str) -> dict[str, object] | None:
    """The options the generated upkeep op passes and its schedule's cron, read back from the
    module's text; None when it has no upkeep."""
    found: dict[str, object] = {}
    for node in ast.walk(ast.parse(asset_module)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            for keyword in node.keywords:
                if name == "run_upkeep" and keyword.arg in UPKEEP_BOUNDS:
                    found[keyword.arg] = ast.literal_eval(keyword.value)
                elif name == "ScheduleDefinition" and keyword.arg == "cron_schedule":
                    found["cron"] = ast.literal_eval(keyword.value)
    return found or None


@settings(max_examples=40, deadline=None)
@given(maintenance=maintenance_values)
@example(maintenance='30 3 * * *"); import os  #')
@example(maintenance={"cron": "0 4 * * sun\n", "retention_days": 0.5})
@example(maintenance={"target_file_size_mb": 1e-300, "orphan_age_hours": True})
@example(maintenance={"max_file_rows": 1000.0})
@example(maintenance={"max_file_rows": None, "retention_days": 1})
@example(maintenance={"max_file_rows": 10**9})
def test_maintenance_round_trips_into_the_upkeep_job_or_is_refused(maintenance: object) -> None:
    from dagster._utils.schedules import is_valid_cron_string

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_project(
            root,
            {
                "pyproject.toml": PYPROJECT,
                "models/__init__.py": "",
                "models/notes.py": MODEL.format(model_doc='"""Notes."""', description='"d"'),
                "ingestion/__init__.py": "",
                "ingestion/notes.py": MAINTENANCE_INGESTION.format(maintenance=repr(maintenance)),
            },
        )
        compilation = compile_project(load_config(root), previous={})
    if not compilation.ok:
        assert compilation.files == {}
        assert all(d.span.path == "ingestion/notes.py" for d in compilation.diagnostics)
        return
    asset = compilation.files["generated/assets/g/notes.py"]
    definitions = compilation.files["generated/definitions.py"]
    body = ast.parse(asset).body
    assert all(isinstance(node, DEFINITIONS) for node in body[1:]), asset
    found = upkeep_arguments(asset)
    if maintenance is None:
        assert found is None and "upkeep_notes" not in definitions
        return
    written = {"cron": maintenance} if isinstance(maintenance, str) else maintenance
    assert isinstance(written, dict)
    expected = {**UPKEEP_DEFAULTS, **written}
    if expected.get("max_file_rows", 0) is None:
        del expected["max_file_rows"]  # the default: the call the table had without it
    assert found == expected
    assert {k: type(v) for k, v in found.items()} == {k: type(v) for k, v in expected.items()}
    assert "jobs=[upkeep_notes]" in definitions and "upkeep_notes_schedule" in definitions
    # Accepted only within what the upkeep can run: a cron Dagster takes, numbers in range.
    assert is_valid_cron_string(expected["cron"])
    for option, (low, high) in UPKEEP_BOUNDS.items():
        value = expected.get(option)
        assert (
            value is None
            if option in ("target_file_size_mb", "max_file_rows") and value is None
            else (not isinstance(value, bool) and low <= value <= high)
        ), (option, value)
    assert isinstance(expected.get("max_file_rows", 1), int)


# -- the output does not depend on the machine ---------------------------------------------

# Two groups, several folders, and descriptions with quotes and non-ASCII text.
PROJECT_CASES = (
    "params_two_groups_and_table_names",
    "safety_docs_with_quotes_backslashes_newlines_unicode",
)
HOSTILE_RUFF = 'line-length = 40\n[format]\nquote-style = "single"\nindent-style = "tab"\n'
HOSTILE_PYPROJECT = '\n[tool.ruff]\nline-length = 40\n[tool.ruff.format]\nquote-style = "single"\n'


def cases_files() -> dict[str, str]:
    files = {}
    for case in PROJECT_CASES:
        for path in project_files(CASES / case):
            files[path.relative_to(CASES / case).as_posix()] = path.read_text(encoding="utf-8")
    return files


def cascade_gen(root: Path, files: dict[str, str], **env: str) -> dict[str, str]:
    """Runs the installed `cascade gen` on a fresh copy of the project (so that no compile
    cache is shared) and returns what it wrote."""
    write_project(root, files)
    (root / ".tmp").mkdir()
    result = subprocess.run(
        [Path(sys.executable).with_name("cascade"), "gen", "--project", str(root)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    written = sorted((root / "generated").rglob("*.py"))
    return {p.relative_to(root).as_posix(): p.read_bytes().decode("utf-8") for p in written}


@pytest.mark.slow
def test_output_does_not_depend_on_file_order_locale_or_formatter_config(tmp_path: Path) -> None:
    files = cases_files()
    write_project(tmp_path / "forward", files)
    write_project(tmp_path / "backward", dict(reversed(files.items())))
    expected = compile_project(load_config(tmp_path / "forward"), previous={}).files
    assert len(expected) > 5
    assert compile_project(load_config(tmp_path / "backward"), previous={}).files == expected

    assert cascade_gen(tmp_path / "c", files, LC_ALL="C", PYTHONUTF8="0") == expected
    assert cascade_gen(tmp_path / "utf8", files, LC_ALL="C.UTF-8") == expected

    # ruff settings where the project is, above the formatter's temporary folder (TMPDIR) and
    # in the user's configuration folder: none of them may reach the generated code.
    hostile = tmp_path / "hostile"
    hostile_files = {
        **files,
        "pyproject.toml": files["pyproject.toml"] + HOSTILE_PYPROJECT,
        "ruff.toml": HOSTILE_RUFF,
        ".config/ruff/ruff.toml": HOSTILE_RUFF,
    }
    env = {"TMPDIR": str(hostile / ".tmp"), "XDG_CONFIG_HOME": str(hostile / ".config")}
    assert cascade_gen(hostile, hostile_files, **env) == expected
