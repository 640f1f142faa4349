"""`cascade init` refusing what would not work; the README's block from init to a load runs in
tests/e2e/test_readme.py."""

import sys
from pathlib import Path

import pytest

from tests.helpers import cascade

# Slow: the console scripts and Dagster's CLI, as processes.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def test_init_touches_no_file_of_yours(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'mine'\n", encoding="utf-8")
    refused = cascade(tmp_path, "init")
    assert refused.returncode == 1
    assert refused.stderr.startswith("cascade init: pyproject.toml already exists")
    assert "nothing was written" in refused.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]
    assert (tmp_path / "pyproject.toml").read_text(encoding="utf-8") == "[project]\nname = 'mine'\n"

    bad = cascade(tmp_path, "init", "--package", "Not-A-Package")
    assert bad.returncode == 1 and "lowercase Python identifier" in bad.stderr


@pytest.mark.parametrize(
    ("package", "why"),
    [
        ("generated", "it is where `cascade gen` writes the generated code"),
        ("json", "it would hide the module 'json', which Python or the generated code imports"),
        ("dlt", "it would hide the module 'dlt', which Python or the generated code imports"),
        ("pandas", "a module 'pandas' is already installed"),
    ],
)
def test_init_refuses_a_package_name_that_is_taken(tmp_path: Path, package: str, why: str) -> None:
    refused = cascade(tmp_path, "init", "--package", package)
    assert refused.returncode == 1
    assert f"{package!r} cannot be the project's package: {why}" in refused.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was written
