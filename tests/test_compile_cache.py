"""The content-hash cache: same output as a cold compile, and only changed modules re-parsed."""

from __future__ import annotations

from pathlib import Path

import pytest

import cascade.compiler.parse as parse
from cascade.compiler import compile_project, load_config
from cascade.compiler.cache import CompileCache

MODEL = "examples/schemas/nightscout.py"


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
    for name in ("result.pickle", "parts.pickle"):
        (project_copy / ".cascade/cache" / name).write_bytes(b"not a pickle")
    assert compile_with_cache(project_copy).ok
