"""`cascade publish <branch>`: fast-forward main to a branch, for every Cascade table.

A branch is where a run writes to try a change (run tag `branch=<name>`); publishing makes that
state main's. Only a fast-forward is safe: when main moved on since the branch was made, setting
main to the branch head would silently drop main's newer snapshots (pyiceberg's
`set_current_snapshot` checks no ancestry), so publish refuses and changes nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


@dataclass(frozen=True)
class PublishStep:
    identifier: str
    status: str  # "fast-forward", "up to date", "no branch", "no table" or "diverged"
    main_snapshot_id: int | None = None
    branch_snapshot_id: int | None = None

    @property
    def refused(self) -> bool:
        return self.status == "diverged"

    @property
    def has_branch(self) -> bool:
        return self.status not in ("no branch", "no table")


def plan_publish(catalog: Catalog, identifiers: list[str], branch: str) -> list[PublishStep]:
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.table.snapshots import is_ancestor_of

    steps = []
    for identifier in sorted(identifiers):
        try:
            metadata = catalog.load_table(identifier).metadata
        except NoSuchTableError:
            steps.append(PublishStep(identifier, "no table"))
            continue
        ref = metadata.refs.get(branch)
        main = metadata.current_snapshot_id
        if ref is None:
            steps.append(PublishStep(identifier, "no branch", main))
        elif ref.snapshot_id == main:
            steps.append(PublishStep(identifier, "up to date", main, ref.snapshot_id))
        elif main is None or is_ancestor_of(ref.snapshot_id, main, metadata):
            steps.append(PublishStep(identifier, "fast-forward", main, ref.snapshot_id))
        else:
            steps.append(PublishStep(identifier, "diverged", main, ref.snapshot_id))
    return steps


def apply_publish(catalog: Catalog, steps: list[PublishStep], branch: str) -> None:
    """Moves main to the branch head on every fast-forward step; callers check `refused` first.

    Each table is its own commit, and each commit asserts that main is still where the plan
    saw it, so a writer that moved main in between makes that table's publish fail instead of
    being overwritten.
    """
    if any(step.refused for step in steps):
        raise ValueError("refusing to publish: a table's main is not an ancestor of the branch")
    from pyiceberg.table.refs import MAIN_BRANCH

    from cascade.runtime.pyiceberg_compat import stage_branch_move

    for step in steps:
        if step.status != "fast-forward":
            continue
        assert step.branch_snapshot_id is not None  # plan_publish: a fast-forward has a head
        table = catalog.load_table(step.identifier)
        with table.transaction() as transaction:
            stage_branch_move(
                transaction, MAIN_BRANCH, step.branch_snapshot_id, step.main_snapshot_id
            )
