"""The content-hash cache: same output as a cold compile, only changed modules re-parsed, and
nothing in the cache folder (planted by a pull request, damaged, foreign) ever runs or is
trusted."""

from __future__ import annotations

import os
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

import cascade.compiler.frontend.parse as parse
from cascade.compiler import compile_project, load_config
from cascade.compiler.cli import main
from cascade.compiler.driver.cache import (
    FORMAT_VERSION,
    PARTS_FILE,
    RESULT_FILE,
    CompileCache,
    decode_module_facts,
    digest,
    encode_module_facts,
    key_path,
)
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
