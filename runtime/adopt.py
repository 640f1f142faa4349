"""`cascade adopt <table>`: take a table made elsewhere under Cascade's care, keeping its ids.

The field-id lock is the previous generation's contract (compiler/resolve/lock.py). Adopting
builds the live table's contract, which the next compile takes as the lock: the columns the
model shares with the table keep the table's ids, new ones count on from the table's last
column id, and the table's columns the model lacks are retired (a load then asks for
`allow_breaking` before it drops them). The table itself is not changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyiceberg.schema import index_by_id

from cascade.runtime.contract import TableContract

if TYPE_CHECKING:
    from pyiceberg.table import Table


def adopted_contract(identifier: str, table: Table) -> TableContract:
    """The contract of a live table as it is: its schema, spec, identifier fields as the
    unique key, the ids of columns dropped from it before as retired (their data may still be
    in old files), and its last column and partition ids."""
    metadata = table.metadata
    schema = table.schema()
    current = set(index_by_id(schema))
    retired = {}
    for old in metadata.schemas:
        for field_id, nested in index_by_id(old).items():
            if field_id not in current:
                retired[field_id] = old.find_column_name(field_id) or nested.name
    return TableContract(
        identifier=identifier,
        schema=schema,
        partition_spec=table.spec(),
        unique_key=tuple(sorted(schema.identifier_field_names())),
        retired_field_ids=dict(sorted(retired.items())),
        last_column_id=metadata.last_column_id,
        last_partition_id=metadata.last_partition_id or None,
    )
