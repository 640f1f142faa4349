"""`cascade plan` / `cascade apply`: what a load would do to each live table, without loading.

A plan compares each table in the catalog with its contract (runtime/contract.py: what the
deployed schema module declares) by field id, with the same rules and the same refusals as a
load (runtime/table.py); apply carries out the plans that nothing refuses: it creates missing
tables and evolves the others, and writes no data.

Iceberg keeps one schema per table, shared by all its branches: evolving for a branch changes
the columns main's readers see too (new optional columns read as null), so a plan on a branch
also says whether the branch exists or would be created from main's head.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cascade.runtime.change_rules import Change

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from cascade.runtime.contract import TableContract


@dataclass(frozen=True)
class TablePlan:
    identifier: str
    # "create", "evolve", "up to date", "refused" or "not adopted"
    status: str
    changes: tuple[Change, ...] = ()
    refused: tuple[Change, ...] = ()
    detail: str = ""  # why a table is refused or not adopted
    branch: str = ""  # what happens to the branch, when planning for one
    allowed: tuple[str, ...] = ()  # the contract's allowed_breaking

    @property
    def blocked(self) -> bool:
        return self.status in ("refused", "not adopted")


def plan_tables(catalog: Catalog, contracts: list[TableContract], branch: str) -> list[TablePlan]:
    """One plan per contract, by identifier; reads the catalog and changes nothing."""
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.table.refs import MAIN_BRANCH

    from cascade.runtime.table import adoption_helps, foreign_ids, plan_evolution

    plans = []
    for target in sorted(contracts, key=lambda c: c.identifier):
        try:
            table = catalog.load_table(target.identifier)
        except NoSuchTableError:
            note = f"branch {branch!r} is made by the first load of main" if branch else ""
            plans.append(TablePlan(target.identifier, "create", branch=note))
            continue
        note = ""
        if branch and branch != MAIN_BRANCH:
            if branch in table.metadata.refs:
                note = f"branch {branch!r} exists"
            elif table.metadata.current_snapshot_id is None:
                note = f"branch {branch!r} cannot be made before main's first load"
            else:
                note = f"branch {branch!r} is created from main's head"
        if foreign := foreign_ids(table, target.schema):
            detail = "; ".join(foreign) + f" (run `cascade adopt {target.identifier}`)"
            plans.append(TablePlan(target.identifier, "not adopted", detail=detail, branch=note))
            continue
        changes, refused = plan_evolution(table, target, target.allowed_breaking)
        status = "refused" if refused else "evolve" if changes else "up to date"
        detail = ""
        if adoption_helps(table, refused):
            detail = f"not created by Cascade: `cascade adopt {target.identifier}` fits the schema"
        plans.append(
            TablePlan(
                target.identifier,
                status,
                tuple(changes),
                tuple(refused),
                detail=detail,
                branch=note,
                allowed=target.allowed_breaking,
            )
        )
    return plans


def apply_plans(
    catalog: Catalog, contracts: list[TableContract], plans: list[TablePlan], branch: str
) -> None:
    """Creates and evolves the planned tables (callers check `blocked` first), then makes a
    missing branch from main's head. Each table is checked again as it is changed: a table
    that changed since the plan is evolved from what it is now, or refused."""
    from pyiceberg.table.refs import MAIN_BRANCH

    from cascade.runtime.table import prepare_table

    by_identifier = {contract.identifier: contract for contract in contracts}
    for plan in plans:
        prepared = prepare_table(catalog, by_identifier[plan.identifier])
        metadata = prepared.table.metadata
        missing = branch and branch != MAIN_BRANCH and branch not in metadata.refs
        if missing and metadata.current_snapshot_id is not None:
            prepared.table.manage_snapshots().create_branch(
                metadata.current_snapshot_id, branch
            ).commit()
