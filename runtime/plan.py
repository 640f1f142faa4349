"""`cascade plan` / `cascade apply`: what a load would do to each live table, without loading.

A plan compares each table in the catalog with its generated schema module (what is deployed)
by field id, with the same rules and the same refusals as a load (runtime/table.py); apply
carries out the plans that nothing refuses: it creates missing tables and evolves the others,
and writes no data.

Iceberg keeps one schema per table, shared by all its branches: evolving for a branch changes
the columns main's readers see too (new optional columns read as null), so a plan on a branch
also says whether the branch exists or would be created from main's head.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cascade.runtime.change_rules import Change

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema


@dataclass(frozen=True)
class TableTarget:
    """A generated schema module's constants: the table a load makes."""

    identifier: str
    schema: Schema
    partition_spec: PartitionSpec
    retired_field_ids: Mapping[int, str] = field(default_factory=dict)
    last_column_id: int | None = None
    last_partition_id: int | None = None
    allowed_breaking: tuple[str, ...] = ()


@dataclass(frozen=True)
class TablePlan:
    identifier: str
    # "create", "evolve", "up to date", "refused" or "not adopted"
    status: str
    changes: tuple[Change, ...] = ()
    refused: tuple[Change, ...] = ()
    detail: str = ""  # why a table is refused or not adopted
    branch: str = ""  # what happens to the branch, when planning for one

    @property
    def blocked(self) -> bool:
        return self.status in ("refused", "not adopted")


def plan_tables(catalog: Catalog, targets: list[TableTarget], branch: str) -> list[TablePlan]:
    from pyiceberg.exceptions import NoSuchTableError
    from pyiceberg.table.refs import MAIN_BRANCH

    from cascade.runtime.evolution import TableShape
    from cascade.runtime.table import foreign_ids, plan_evolution

    plans = []
    for target in sorted(targets, key=lambda t: t.identifier):
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
        shape = TableShape(target.schema, target.partition_spec)
        changes, refused = plan_evolution(table, shape, target.allowed_breaking)
        status = "refused" if refused else "evolve" if changes else "up to date"
        plans.append(
            TablePlan(target.identifier, status, tuple(changes), tuple(refused), branch=note)
        )
    return plans


def apply_plans(
    catalog: Catalog, targets: list[TableTarget], plans: list[TablePlan], branch: str
) -> None:
    """Creates and evolves the planned tables (callers check `blocked` first), then makes a
    missing branch from main's head. Each table is checked again as it is changed: a table
    that changed since the plan is evolved from what it is now, or refused."""
    from pyiceberg.table.refs import MAIN_BRANCH

    from cascade.runtime.table import prepare_table

    by_identifier = {target.identifier: target for target in targets}
    for plan in plans:
        target = by_identifier[plan.identifier]
        prepared = prepare_table(
            catalog,
            target.identifier,
            target.schema,
            target.partition_spec,
            retired_field_ids=target.retired_field_ids,
            last_column_id=target.last_column_id,
            last_partition_id=target.last_partition_id,
            allowed_breaking=target.allowed_breaking,
        )
        metadata = prepared.table.metadata
        missing = branch and branch != MAIN_BRANCH and branch not in metadata.refs
        if missing and metadata.current_snapshot_id is not None:
            prepared.table.manage_snapshots().create_branch(
                metadata.current_snapshot_id, branch
            ).commit()
