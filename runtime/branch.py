"""Which names an Iceberg branch may have.

Iceberg itself takes any string as a ref name, but a branch name travels through run tags,
shell commands and `cascade publish`, and a name like " dev" or "dev/" is a typo that would
otherwise create a second branch nobody meant. Cascade accepts what git accepts as a branch
(`git check-ref-format --branch`), which every engine that shows refs can display.
"""

from cascade.runtime.errors import BranchError

# Characters git refuses in a ref name, besides whitespace and control characters.
_FORBIDDEN = "~^:?*[\\"


def branch_name_problem(name: str) -> str | None:
    """Why `name` cannot be a branch, or None when it can."""
    if not name:
        return "it is empty"
    if bad := next((c for c in name if c.isspace() or not c.isprintable()), None):
        return f"it contains whitespace or a control character ({bad!r})"
    if bad := next((c for c in name if c in _FORBIDDEN), None):
        return f"it contains {bad!r} (none of {' '.join(_FORBIDDEN)} may appear)"
    for part, why in (
        ("..", "'..'"),
        ("//", "'//'"),
        ("@{", "'@{'"),
        ("/.", "a part starting with '.'"),
    ):
        if part in name:
            return f"it contains {why}"
    if name.startswith(("/", ".")) or name.endswith(("/", ".")):
        return "it starts or ends with '/' or '.'"
    if name.endswith(".lock"):
        return "it ends with '.lock'"
    if name in ("HEAD", "@"):
        return f"{name!r} is reserved"
    return None


def check_branch_name(name: str) -> None:
    """Raise `BranchError` naming the rule `name` breaks."""
    if (problem := branch_name_problem(name)) is not None:
        raise BranchError(
            f"{name!r} is not a valid branch name: {problem}. A branch name follows git's rules "
            "for a ref name (e.g. dev, backfill/2024-01)."
        )
