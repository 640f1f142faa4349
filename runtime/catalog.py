"""The Iceberg catalog as a Dagster resource."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


class IcebergResource(dg.ConfigurableResource):
    """The catalog `catalog_name` from pyiceberg's configuration, or an embedded default.

    pyiceberg's configuration (`.pyiceberg.yaml`, `PYICEBERG_CATALOG__<NAME>__*` variables)
    decides where tables live, so a deployment points Cascade at a REST catalog, Glue or a
    PostgreSQL SqlCatalog without code changes. Only when it names no such catalog do we fall
    back to a SQLite catalog and a local warehouse under `<project_dir>/.cascade`, which makes a
    fresh checkout work with no configuration at all.
    """

    catalog_name: str = "cascade"
    project_dir: str = "."

    def load_catalog(self) -> Catalog:
        # Imported here: loading definitions (which build this resource) needs no catalog code.
        from pyiceberg.catalog import load_catalog
        from pyiceberg.utils.config import Config

        # A fresh Config reads the configuration as it is now; `load_catalog(name)` alone
        # would use the copy pyiceberg took when it was first imported, missing variables set
        # after that. Passing the properties makes both agree.
        configured = Config().get_catalog_config(self.catalog_name)
        if configured is not None:
            # pyiceberg annotates the properties as strings but merges them as the nested
            # RecursiveDict its Config returns (load_catalog's own first step).
            return load_catalog(self.catalog_name, **configured)  # type: ignore[arg-type]
        from pyiceberg.catalog.sql import SqlCatalog  # SQLAlchemy: only for the default

        home = Path(self.project_dir).resolve() / ".cascade"
        warehouse = home / "warehouse"
        warehouse.mkdir(parents=True, exist_ok=True)
        return SqlCatalog(
            self.catalog_name,
            uri=f"sqlite:///{home / 'catalog.db'}",
            warehouse=warehouse.as_uri(),
        )
