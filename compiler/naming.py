"""Column names as dlt will write them.

dlt normalises every column name with its snake_case convention (`dateString` becomes
`date_string`, nested objects are flattened as `parent__child`), so a model column whose name
dlt would change can never receive data.
"""

from __future__ import annotations

import re

# The names dlt's snake_case `normalize_path` leaves unchanged: lowercase ASCII letters, digits
# and underscores, not starting with a digit or a double underscore, not ending with one.
# (A test checks this against dlt itself.) dlt is imported only to suggest the new name: it
# costs a second to import, which `cascade check` must not pay on every commit.
STABLE_NAME = re.compile(r"^(?!__)[a-z_][a-z0-9_]*(?<!_)$")


def dlt_keeps(name: str) -> bool:
    return STABLE_NAME.match(name) is not None


def dlt_name(name: str) -> str:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention().normalize_path(name)
