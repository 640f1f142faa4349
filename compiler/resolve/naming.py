"""Column names as dlt will write them.

dlt normalises every column name with its naming convention (`dateString` becomes
`date_string`, each `__`-separated part of a flattened `parent__child` path on its own:
`address__2` becomes `address___2`), also the names of the Arrow columns Cascade stages, so a
model column whose name dlt would change can never receive data. The rule is dlt's own
(`NamingConvention.normalize_path`), not a copy: it is imported when a name is met that dlt
has not been asked about before. Importing dlt takes ~0.4 s, most of a `cascade check` after
one model was edited, so its answers are remembered (`KNOWN`, which the compile cache keeps,
under the dlt version) and a model read again asks dlt only about its new names.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

# name -> dlt's name for it: every answer dlt gave in this process or, through the compile
# cache, in an earlier run with the same dlt version.
KNOWN: dict[str, str] = {}


@functools.cache
def _naming() -> NamingConvention:
    """dlt's snake_case naming convention, imported on first use (dlt is large)."""
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention()


def dlt_keeps(name: str) -> bool:
    return dlt_name(name) == name


def dlt_name(name: str) -> str:
    found = KNOWN.get(name)
    if found is None:
        found = KNOWN[name] = _naming().normalize_path(name)
    return found
