"""The runtime package's surface: the decorator, the catalog resource, what importing costs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from cascade.runtime import IcebergResource, cascade_ingestion


def test_the_decorator_only_marks_the_function() -> None:
    def ingest(partition_date: str) -> None:
        return None

    marked = cascade_ingestion(
        table_name="t", unique_key=("a", "b"), group="g", cron="0 * * * *", validate=False
    )(ingest)

    assert marked is ingest
    assert marked.__cascade_ingestion__["table_name"] == "t"
    assert marked.__cascade_ingestion__["unique_key"] == ("a", "b")
    assert marked.__cascade_ingestion__["validate"] is False
    assert marked("2024-01-01") is None


def test_the_decorator_rejects_unknown_parameters() -> None:
    with pytest.raises(TypeError, match="table"):
        cascade_ingestion(table="t", unique_key="a", group="g")  # type: ignore[call-arg]


@pytest.mark.slow
def test_importing_the_decorator_loads_no_heavy_library_and_never_the_compiler() -> None:
    probe = (
        "import sys\n"
        "from cascade.runtime import cascade_ingestion\n"
        "heavy = [m for m in ('dagster', 'dlt', 'pyiceberg', 'pandera') if m in sys.modules]\n"
        "import cascade.runtime.run\n"
        "print(heavy, 'cascade.compiler' in sys.modules)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "[] False"


@pytest.fixture
def unconfigured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No pyiceberg configuration anywhere: no variables, no .pyiceberg.yaml."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYICEBERG_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("PYICEBERG_")]:
        monkeypatch.delenv(name)
    return tmp_path


def test_without_configuration_the_catalog_is_embedded_in_the_project(unconfigured: Path) -> None:
    project = unconfigured / "project"

    catalog = IcebergResource(project_dir=str(project)).load_catalog()
    catalog.create_namespace("raw")

    assert isinstance(catalog, SqlCatalog)
    assert (project / ".cascade" / "catalog.db").is_file()
    assert (project / ".cascade" / "warehouse").is_dir()
    assert catalog.properties["warehouse"] == (project / ".cascade" / "warehouse").as_uri()


def test_pyiceberg_configuration_takes_precedence(
    unconfigured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__URI", f"sqlite:///{unconfigured / 'lake.db'}")
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__WAREHOUSE", (unconfigured / "lake").as_uri())

    catalog = IcebergResource(catalog_name="lake", project_dir=str(unconfigured)).load_catalog()
    catalog.create_namespace("raw")

    assert catalog.name == "lake"
    assert (unconfigured / "lake.db").is_file()
    assert not (unconfigured / ".cascade").exists()


def test_the_generated_definitions_load_against_this_runtime() -> None:
    # The checked-in generated code is the contract: it must import and bind to the runtime.
    from generated.definitions import defs

    assert defs.resolve_asset_graph().get_all_asset_keys()
    assert isinstance(defs.resources["iceberg"], IcebergResource)
