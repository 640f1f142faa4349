"""The Iceberg catalog as a Dagster resource."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from cascade.runtime.errors import CatalogConfigError

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
            try:
                # pyiceberg annotates the properties as strings but merges them as the nested
                # RecursiveDict its Config returns (load_catalog's own first step).
                return load_catalog(self.catalog_name, **configured)  # type: ignore[arg-type]
            except Exception as error:
                if (refusal := _misconfigured(self.catalog_name, error)) is not None:
                    raise refusal from error
                raise  # a catalog that does not answer: the retry policy's business
        from pyiceberg.catalog.sql import SqlCatalog  # SQLAlchemy: only for the default

        home = Path(self.project_dir).resolve() / ".cascade"
        warehouse = home / "warehouse"
        warehouse.mkdir(parents=True, exist_ok=True)
        return SqlCatalog(
            self.catalog_name,
            uri=f"sqlite:///{home / 'catalog.db'}",
            warehouse=warehouse.as_uri(),
        )


def _misconfigured(name: str, error: Exception) -> CatalogConfigError | None:
    """The refusal for a configuration that no retry can fix: an unknown catalog type, a
    missing property (pyiceberg raises ValueError), a library the type needs (NotInstalledError,
    ImportError), an SQLAlchemy URI it cannot parse (ArgumentError). A connection that fails
    raises an OSError and is not one of them."""
    from pyiceberg.exceptions import NotInstalledError
    from sqlalchemy.exc import ArgumentError

    if isinstance(error, OSError) or not isinstance(
        error, ValueError | NotInstalledError | ImportError | ArgumentError
    ):
        return None
    return CatalogConfigError(
        f"The catalog {name!r} is misconfigured in pyiceberg's configuration (.pyiceberg.yaml "
        f"or PYICEBERG_CATALOG__{name.upper()}__* variables): {type(error).__name__}: {error}"
    )
