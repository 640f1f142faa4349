"""Column names as dlt will write them.

dlt normalises every column name with its naming convention (`dateString` becomes
`date_string`, each `__`-separated part of a flattened `parent__child` path on its own:
`address__2` becomes `address___2`), also the names of the Arrow columns Cascade stages, so a
model column whose name dlt would change can never receive data. The rule is dlt's own
(`NamingConvention.normalize_path`), not a copy: it is imported when a model is read, which a
warm `cascade check` (served from the cache) never does.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlt.common.normalizers.naming.snake_case import NamingConvention


@functools.cache
def _naming() -> NamingConvention:
    """dlt's snake_case naming convention, imported on first use (dlt is large)."""
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention()


def dlt_keeps(name: str) -> bool:
    return dlt_name(name) == name


def dlt_name(name: str) -> str:
    return _naming().normalize_path(name)
