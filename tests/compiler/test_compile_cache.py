"""The content-hash cache: same output as a cold compile, only changed modules re-parsed, and
nothing in the cache folder (planted by a pull request, damaged, foreign) ever runs or is
trusted."""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import cascade.compiler.driver.build as build
import cascade.compiler.driver.cache as cache_module
import cascade.compiler.frontend.parse as parse
from cascade.compiler import compile_project, load_config
from cascade.compiler.cli import main
from cascade.compiler.driver.cache import (
    FORMAT_VERSION,
    PARTS_FILE,
    RESULT_FILE,
    CompileCache,
    digest,
    key_path,
)
from cascade.compiler.driver.codec import (
    decode_module_facts,
    decode_table_lock,
    encode_module_facts,
    encode_table_lock,
)
from cascade.compiler.driver.previous import previous_locks
from cascade.compiler.resolve import naming
from tests.helpers import REPO_ROOT

MODEL = "examples/schemas/nightscout.py"
GENERATED_SCHEMA = "generated/schemas/nightscout/glucose_entries.py"


@pytest.fixture(autouse=True)
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache folder (where the signing key lives), private to each test."""
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder


@pytest.fixture
def parsed_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records which modules the compiler actually parses (cache misses)."""
    seen: list[str] = []
    real = parse.parse_module

    def recording(path: str, module: str, source: str):
        seen.append(path)
        return real(path, module, source)

    monkeypatch.setattr(parse, "parse_module", recording)
    return seen


def compile_with_cache(project: Path):
    config = load_config(project)
    cache = CompileCache(project / ".cascade" / "cache")
    compilation = compile_project(config, cache=cache)
    cache.save()
    return compilation


def test_a_warm_compile_equals_a_cold_one_and_parses_nothing(project_copy: Path, parsed_paths):
    cold = compile_project(load_config(project_copy))
    first = compile_with_cache(project_copy)
    assert first.files == cold.files
    assert parsed_paths  # the first run parsed every module
    parsed_paths.clear()
    second = compile_with_cache(project_copy)
    assert second.files == cold.files
    assert parsed_paths == []


def test_a_changed_model_is_the_only_module_parsed_again(project_copy: Path, parsed_paths):
    compile_with_cache(project_copy)
    parsed_paths.clear()
    model = project_copy / MODEL
    model.write_text(model.read_text().replace('"Entry type"', '"Kind of entry"'))
    changed = compile_with_cache(project_copy)
    assert parsed_paths == [MODEL]
    assert changed.files == compile_project(load_config(project_copy)).files
    schema = changed.files["generated/schemas/nightscout/glucose_entries.py"]
    assert 'doc="Kind of entry"' in schema


def test_a_module_that_appears_later_invalidates_the_cached_result(project_copy: Path):
    ingestion = project_copy / "examples/ingestion/nightscout/glucose.py"
    ingestion.write_text(
        ingestion.read_text().replace(
            "from examples.schemas.nightscout import", "from examples.schemas.later import"
        )
    )
    missing = compile_with_cache(project_copy)
    assert not missing.ok
    assert "cannot find module 'examples.schemas.later'" in missing.diagnostics[0].message
    (project_copy / "examples/schemas/later.py").write_text((project_copy / MODEL).read_text())
    found = compile_with_cache(project_copy)
    assert found.ok, [d.format_text() for d in found.diagnostics]


def test_a_damaged_cache_file_is_a_miss(project_copy: Path):
    compile_with_cache(project_copy)
    for name in (RESULT_FILE, PARTS_FILE):
        (project_copy / ".cascade/cache" / name).write_bytes(b"not a pickle")
    assert compile_with_cache(project_copy).ok


# -- incremental: after an edit, exactly what depended on it is compiled again --------------
# A small shop: two tables read models/orders.py (which imports models/base.py), one reads
# models/users.py, and ingestion/helpers.py holds no ingestion.

SHOP = {
    "pyproject.toml": """\
[tool.cascade]
sources = ["ingestion"]
out = "generated"
namespace = "raw"
partition_start = "2024-01-01"
""",
    "models/__init__.py": "",
    "models/base.py": """\
from pandera.pandas import DataFrameModel, Field


class Keyed(DataFrameModel):
    id: str = Field(nullable=False, unique=True, description="Record id")
""",
    "models/orders.py": """\
from pandera.pandas import Field

from models.base import Keyed


class Orders(Keyed):
    amount: int = Field(ge=0, description="Amount")
""",
    "models/users.py": """\
from pandera.pandas import DataFrameModel, Field


class Users(DataFrameModel):
    id: str = Field(nullable=False, description="User id")
    name: str = Field(description="Name")
""",
    "models/unused.py": "NOTHING_IMPORTS_THIS = 1\n",
    "ingestion/__init__.py": "",
    "ingestion/helpers.py": "PAGE_SIZE = 100\n",
}
INGESTION = """\
from cascade.runtime import cascade_ingestion
from models.{module} import {model}


@cascade_ingestion(
    table_name="{table}", unique_key="id", validation_schema={model}, group="shop"
)
def {table}(partition_date: str):
    return None
"""
TABLES = {  # table -> (module of models/, model)
    "orders": ("orders", "Orders"),
    "refunds": ("orders", "Orders"),
    "users": ("users", "Users"),
}
SOURCE_MODULES = {f"ingestion/{t}.py" for t in TABLES} | {
    "ingestion/__init__.py",
    "ingestion/helpers.py",
}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    project = tmp_path / "shop"
    files = dict(SHOP)
    for table, (module, model) in TABLES.items():
        files[f"ingestion/{table}.py"] = INGESTION.format(module=module, model=model, table=table)
    for path, text in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(text)
    return project


@dataclass
class Work:
    """What a compilation did rather than take from the cache."""

    resolved: set[str] = field(default_factory=set)  # source modules
    rendered: set[str] = field(default_factory=set)  # tables
    parsed: list[str] = field(default_factory=list)  # modules

    def clear(self) -> None:
        self.resolved.clear()
        self.rendered.clear()
        self.parsed.clear()


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch, parsed_paths: list[str]) -> Work:
    done = Work(parsed=parsed_paths)
    real_resolve, real_render = build.resolve_module, build.render_schema_module

    def resolve(config, module, load_module, locks):
        done.resolved.add(module.path)
        return real_resolve(config, module, load_module, locks)

    def render(ingestion):
        done.rendered.add(ingestion.table_name)
        return real_render(ingestion)

    monkeypatch.setattr(build, "resolve_module", resolve)
    monkeypatch.setattr(build, "render_schema_module", render)
    return done


def gen(project: Path) -> None:
    result = CliRunner().invoke(main, ["gen", "--project", str(project)])
    assert result.exit_code == 0, result.output


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def assert_as_cold(project: Path, compiled) -> None:
    """The cached compile gave what compiling without any cache gives."""
    cold = compile_project(load_config(project))
    assert compiled.files == cold.files
    assert compiled.diagnostics == cold.diagnostics


def schema(compiled, table: str) -> str:
    return compiled.files[f"generated/schemas/shop/{table}.py"]


def test_an_edited_model_renders_again_exactly_the_tables_that_read_it(shop: Path, work: Work):
    gen(shop)
    before = compile_with_cache(shop)
    work.clear()
    edit(shop / "models/orders.py", '"Amount"', '"Amount paid"')
    after = compile_with_cache(shop)
    assert work.parsed == ["models/orders.py"]
    assert work.resolved == {"ingestion/orders.py", "ingestion/refunds.py"}
    assert work.rendered == {"orders", "refunds"}
    for table in ("orders", "refunds"):
        assert schema(before, table) != schema(after, table)
        assert 'doc="Amount paid"' in schema(after, table)
    assert schema(before, "users") == schema(after, "users")
    assert_as_cold(shop, after)


def test_an_edit_nothing_reads_renders_nothing(shop: Path, work: Work):
    gen(shop)
    work.clear()
    edit(shop / "ingestion/helpers.py", "100", "200")  # a source module, without ingestions
    compiled = compile_with_cache(shop)
    assert work.parsed == ["ingestion/helpers.py"]
    assert work.resolved == {"ingestion/helpers.py"}
    assert work.rendered == set()
    assert_as_cold(shop, compiled)
    work.clear()
    edit(shop / "models/unused.py", "1", "2")  # outside the sources, imported by nothing
    compiled = compile_with_cache(shop)
    assert work == Work()
    assert_as_cold(shop, compiled)


def test_an_edited_base_model_renders_again_the_tables_of_the_models_that_import_it(
    shop: Path, work: Work
):
    gen(shop)
    work.clear()
    edit(shop / "models/base.py", '"Record id"', '"Order id"')
    compiled = compile_with_cache(shop)
    assert work.parsed == ["models/base.py"]
    assert work.resolved == {"ingestion/orders.py", "ingestion/refunds.py"}
    assert work.rendered == {"orders", "refunds"}
    assert 'doc="Order id"' in schema(compiled, "refunds")
    assert_as_cold(shop, compiled)


def test_a_deleted_module_is_missed_by_what_read_it(shop: Path, work: Work):
    gen(shop)
    work.clear()
    (shop / "models/users.py").unlink()
    missing = compile_with_cache(shop)
    assert work.resolved == {"ingestion/users.py"}
    assert "cannot find module 'models.users'" in missing.diagnostics[0].message
    assert_as_cold(shop, missing)
    work.clear()
    (shop / "models/users.py").write_text(SHOP["models/users.py"])
    (shop / "ingestion/refunds.py").unlink()
    compiled = compile_with_cache(shop)
    assert work.resolved == {"ingestion/users.py"}
    assert work.rendered == {"users"}
    assert "generated/schemas/shop/refunds.py" not in compiled.files
    assert "dlt_refunds" not in compiled.files["generated/definitions.py"]
    assert_as_cold(shop, compiled)


def test_changed_settings_resolve_every_module_again(shop: Path, work: Work):
    gen(shop)
    work.clear()
    edit(shop / "pyproject.toml", 'namespace = "raw"', 'namespace = "shop"')
    compiled = compile_with_cache(shop)
    assert work.parsed == []  # the facts of a module do not depend on the settings
    assert work.resolved == SOURCE_MODULES
    assert 'identifier="shop.users"' in schema(compiled, "users")
    assert_as_cold(shop, compiled)


def test_a_changed_lock_resolves_its_table_again(shop: Path, work: Work):
    """The previous schema module is the table's field-id lock: edited (a live table whose
    ids differ) or gone, its table is resolved again, and only its table."""
    gen(shop)
    work.clear()
    previous = shop / "generated/schemas/shop/orders.py"
    edit(previous, 'NestedField(2, "amount"', 'NestedField(20, "amount"')
    edit(previous, "last_column_id=", "last_column_id=2")  # 5 -> 25
    compiled = compile_with_cache(shop)
    assert work.parsed == []
    assert work.resolved == {"ingestion/orders.py"}
    assert 'NestedField(20, "amount"' in schema(compiled, "orders")
    assert_as_cold(shop, compiled)
    work.clear()
    previous.unlink()
    compiled = compile_with_cache(shop)
    assert work.resolved == {"ingestion/orders.py"}
    assert 'NestedField(2, "amount"' in schema(compiled, "orders")
    assert_as_cold(shop, compiled)


def test_a_generated_file_edited_by_hand_is_not_taken_for_the_cached_text(shop: Path, work: Work):
    """The cache keeps a formatted text that gen wrote as its digest and reads it back from
    the file: a file changed since is not that text, and check still sees the change."""
    gen(shop)
    work.clear()
    asset = shop / "generated/assets/shop/orders.py"
    written = asset.read_text()
    edit(asset, "def dlt_orders(", "def dlt_orders_changed(")
    result = CliRunner().invoke(main, ["check", "--project", str(shop)])
    assert result.exit_code == 1
    assert "-def dlt_orders_changed(" in result.output and "+def dlt_orders(" in result.output
    assert work.resolved == {"ingestion/orders.py"}  # its cached result had lost its text
    compiled = compile_with_cache(shop)
    assert compiled.files["generated/assets/shop/orders.py"] == written
    assert_as_cold(shop, compiled)


def test_another_compiler_reuses_nothing(shop: Path, work: Work, monkeypatch: pytest.MonkeyPatch):
    gen(shop)
    work.clear()
    monkeypatch.setattr(cache_module, "compiler_fingerprint", lambda: "another compiler")
    compiled = compile_with_cache(shop)
    models = {"models/base.py", "models/orders.py", "models/users.py"}
    assert sorted(work.parsed) == sorted(SOURCE_MODULES | models)
    assert work.resolved == SOURCE_MODULES
    assert_as_cold(shop, compiled)


def test_the_fingerprint_covers_the_installed_ruff_and_dlt(monkeypatch: pytest.MonkeyPatch):
    """ruff formats the output and dlt names the columns: another version of either is
    another compiler (test_the_fingerprint_covers_every_stage_of_the_compiler: its code)."""
    fingerprint = cache_module.compiler_fingerprint()
    versions = cache_module.installed_versions("ruff", "dlt")
    assert any(v.startswith("ruff-") for v in versions)
    assert any(v.startswith("dlt-") for v in versions)
    monkeypatch.setattr(
        cache_module, "installed_versions", lambda *names: ["ruff-0.0.1.dist-info", *versions[1:]]
    )
    assert cache_module.compiler_fingerprint() != fingerprint


def test_dlt_is_asked_only_about_names_it_was_not_asked_before(
    shop: Path, monkeypatch: pytest.MonkeyPatch
):
    gen(shop)
    monkeypatch.setattr(naming, "KNOWN", {})

    def no_dlt():
        raise AssertionError("dlt was imported to name a column it named before")

    monkeypatch.setattr(naming, "_naming", no_dlt)
    edit(shop / "models/orders.py", '"Amount"', '"Amount paid"')
    compiled = compile_with_cache(shop)  # the names come from the cache
    assert compiled.ok
    edit(shop / "models/orders.py", "amount: int", "paid: int")
    with pytest.raises(AssertionError, match="dlt was imported"):
        compile_with_cache(shop)


# -- nothing in the cache folder runs, and nothing unsigned is trusted -----------------------


class Planted:
    """Unpickling this creates `marker`: what a hostile pull request would commit."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def plant(project: Path, data: bytes) -> None:
    """The same bytes under every name the cache reads, and the names it used to read."""
    folder = project / ".cascade" / "cache"
    folder.mkdir(parents=True, exist_ok=True)
    for name in (RESULT_FILE, PARTS_FILE, "result.pickle", "parts.pickle"):
        (folder / name).write_bytes(data)


def check(project: Path):
    return CliRunner().invoke(main, ["check", "--project", str(project)])


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "warning" in line]


def make_stale(project: Path) -> None:
    schema = project / GENERATED_SCHEMA
    schema.write_text(schema.read_text().replace('doc="Entry type"', 'doc="Stale"'))


@pytest.mark.parametrize("stale", [False, True], ids=["up-to-date", "stale"])
def test_a_planted_pickle_runs_nothing_and_check_still_answers(
    project_copy: Path, tmp_path: Path, stale: bool
):
    marker = tmp_path / "pwned"
    plant(project_copy, pickle.dumps({"fingerprint": "x", "result": Planted(marker)}))
    if stale:
        make_stale(project_copy)
    result = check(project_copy)
    assert not marker.exists()
    assert "Traceback" not in result.stderr
    assert len(warnings(result.stderr)) == 1, result.stderr
    assert str(project_copy / ".cascade" / "cache") in warnings(result.stderr)[0]
    if stale:
        assert result.exit_code == 1, result.output
        assert "generated/ is stale" in result.stderr
    else:
        assert result.exit_code == 0, result.output
        assert "is up to date" in result.stdout
    again = check(project_copy)  # rebuilt: the next run has nothing to warn about
    assert again.exit_code == result.exit_code
    assert warnings(again.stderr) == []
    assert not marker.exists()


def damaged_files(project: Path) -> dict[str, bytes]:
    """Ways a cache file can be bad, each built from a good one."""
    good = (project / ".cascade" / "cache" / RESULT_FILE).read_bytes()
    header, _, body = good.partition(b"\n")
    magic, version, signature = header.split(b" ")
    return {
        "random bytes": os.urandom(4096),
        "empty": b"",
        "truncated": good[: len(good) // 2],
        "corrupt json": header + b"\n" + body[:-5] + b"}}}",
        "plain json": body,
        "wrong version": b" ".join([magic, str(FORMAT_VERSION + 1).encode(), signature])
        + b"\n"
        + body,
        "edited body": header + b"\n" + body.replace(b"examples", b"exampleZ"),
        "not utf-8": header + b"\n" + b"\xff\xfe" + body,
    }


@pytest.mark.parametrize(
    "damage",
    [
        "random bytes",
        "empty",
        "truncated",
        "corrupt json",
        "plain json",
        "wrong version",
        "edited body",
        "not utf-8",
    ],
)
def test_a_bad_cache_file_is_ignored_with_one_warning_and_rebuilt(
    project_copy: Path, parsed_paths, capsys: pytest.CaptureFixture[str], damage: str
):
    cold = compile_project(load_config(project_copy))
    compile_with_cache(project_copy)
    plant(project_copy, damaged_files(project_copy)[damage])
    capsys.readouterr()
    parsed_paths.clear()
    rebuilt = compile_with_cache(project_copy)
    assert rebuilt.files == cold.files
    assert parsed_paths  # nothing bad was used
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("cascade: warning:"), err
    parsed_paths.clear()
    assert compile_with_cache(project_copy).files == cold.files
    assert parsed_paths == []  # the rebuilt cache serves the next run
    assert capsys.readouterr().err == ""


def test_a_cache_entry_signed_by_someone_else_is_not_trusted(
    project_copy: Path, user_cache: Path, monkeypatch: pytest.MonkeyPatch
):
    """Cache keys are hashes of public text: anyone can write a well-formed entry that says the
    (stale) generated output is up to date. Only the user's own signature makes it count."""
    make_stale(project_copy)
    stale = {
        p.relative_to(project_copy).as_posix(): p.read_text()
        for p in (project_copy / "generated").rglob("*.py")
    }
    # The attacker, on their own machine, with their own key: a result that claims the stale
    # output is exactly what gen would write.
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache.parent / "attacker"))
    cache = CompileCache(project_copy / ".cascade" / "cache")
    compile_project(load_config(project_copy), cache=cache)
    key, diagnostics, _ = cache.result
    previous = digest(*(f"{p}\n{t}" for p, t in sorted(stale.items())))
    cache.result = (replace(key, previous=previous), diagnostics, None)
    cache.save()
    forged = check(project_copy)
    assert forged.exit_code == 0  # with the attacker's key, the forgery would pass
    # The victim (a CI runner) has its own key, or none yet: the planted file is ignored.
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache))
    result = check(project_copy)
    assert result.exit_code == 1
    assert "generated/ is stale" in result.stderr
    assert len(warnings(result.stderr)) == 1


def test_the_cache_is_served_from_signed_json(project_copy: Path, parsed_paths):
    compile_with_cache(project_copy)
    folder = project_copy / ".cascade" / "cache"
    assert sorted(p.name for p in folder.iterdir()) == [PARTS_FILE, RESULT_FILE]
    for name in (RESULT_FILE, PARTS_FILE):
        assert (folder / name).read_bytes().startswith(b"cascade-compile-cache 1 ")
    assert key_path().is_file() and key_path().stat().st_mode & 0o077 == 0
    assert not key_path().is_relative_to(project_copy)
    # A warm check is answered from the cached result, without parsing anything.
    parsed_paths.clear()
    assert check(project_copy).exit_code == 0
    assert parsed_paths == []


def test_a_symbolic_link_in_the_cache_folder_is_not_followed(project_copy: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (project_copy / ".cascade").mkdir()
    (project_copy / ".cascade" / "cache").symlink_to(outside)
    result = check(project_copy)
    assert result.exit_code == 0
    assert len(warnings(result.stderr)) == 1
    assert list(outside.iterdir()) == []  # nothing written through the link
    (project_copy / ".cascade" / "cache").unlink()
    (project_copy / ".cascade" / "cache").mkdir()
    (project_copy / ".cascade" / "cache" / RESULT_FILE).symlink_to("/dev/zero")
    result = check(project_copy)
    assert result.exit_code == 0
    assert len(warnings(result.stderr)) == 1


def case_modules() -> list[Path]:
    """The example's modules and the cases' (their sources and previous generations)."""
    roots = [REPO_ROOT / "examples", REPO_ROOT / "tests" / "cases"]
    return sorted(
        p
        for root in roots
        for p in root.rglob("*.py")
        if not {"__pycache__", "expected"} & set(p.relative_to(root).parts)
    )


def test_the_facts_of_every_example_and_case_module_round_trip():
    """Every example and case module: what is decoded equals what was parsed."""
    for path in case_modules():
        source = path.read_text(encoding="utf-8", errors="replace")
        facts = parse.parse_module(path.as_posix(), path.stem, source)
        assert decode_module_facts(encode_module_facts(facts)) == facts, path


def test_the_lock_of_every_generated_and_expected_schema_module_round_trips():
    """Every schema module of the repository (generated/, the cases' previous and expected
    output): the lock read from the cache equals the lock read from the file."""
    config = load_config(REPO_ROOT)
    modules = [REPO_ROOT / "generated"] + sorted((REPO_ROOT / "tests" / "cases").glob("*/*"))
    locks = [
        lock
        for root in modules
        for path in root.rglob("schemas/*/*.py")
        for lock in previous_locks(config, {"generated/schemas/x/t.py": path.read_text()}).values()
    ]
    assert len(locks) > 40
    for lock in locks:
        assert decode_table_lock(json.loads(json.dumps(encode_table_lock(lock)))) == lock


def test_every_kind_of_literal_round_trips():
    source = """
from cascade.runtime import cascade_ingestion as ingest
from pandera.typing import Series
import pandera as pa

CONSTANT = (1, -2.5, float("nan"), 1e999, -0.0, b"x\\x00", 3j, ..., None, True, {1: [2, {3}]})
BIG = 10**200

class Model(pa.DataFrameModel):
    value: Series[int] = pa.Field(isin=[1, 2], ge=-1e999, metadata={"k": (b"", ...)})

@ingest(table_name="t", schedule=None, tags=frozenset(), extra=Model.value)
def load(partition_date): ...
"""
    facts = parse.parse_module("m.py", "m", source)
    decoded = decode_module_facts(encode_module_facts(facts))
    assert repr(decoded) == repr(facts)  # repr: nan is not equal to itself


def test_the_fingerprint_covers_every_stage_of_the_compiler() -> None:
    # A change to a renderer must invalidate cached results like a change to the driver.
    import cascade.compiler
    from cascade.compiler.driver.cache import compiler_sources

    root = Path(cascade.compiler.__file__).parent
    covered = {p.relative_to(root).as_posix() for p in compiler_sources()}
    assert {"render/schema_module.py", "frontend/parse.py", "resolve/models.py"} <= covered
    assert covered == {p.relative_to(root).as_posix() for p in root.rglob("*.py")}
