"""The table contract: a table as its generated schema module declares it.

`cascade gen` renders one `TableContract` per table (`TABLE` in `<out>/schemas/<group>/
<table>.py`); every later step takes that one object: a load creates or evolves the table to
it (runtime/table.py), `cascade plan`/`apply` compare it with the live table (runtime/plan.py),
`cascade diff` classifies the changes between two generations of it, the compiler reads the
previous generation's contracts as the field-id lock, and `cascade adopt` builds one from a
live table (runtime/adopt.py). A new table property is added here, in the renderer, and in the
step that uses it.

This module imports nothing but the standard library at import time (PyIceberg's types only
for annotations and the default spec), so that the compiler and the generated schema modules
can import it cheaply.

What each generated schema module would otherwise explain in comments:

- `schema` lists one field per line (a struct's fields too), so that a schema change is a
  one-line diff in review. Its identifier fields (Iceberg's `identifier-field-ids`) are the
  unique key's columns: engines such as Spark, Flink, Trino and PyIceberg's `Table.upsert`
  read the key from there.
- `retired_field_ids` are the ids earlier generations gave columns since removed: Iceberg
  never reuses an id, because data files written before still carry it. New columns count on
  from `last_column_id`, new partition fields from `last_partition_id`.
- `allowed_breaking` lists the breaking changes a review accepted (`allow_breaking` in the
  decorator; see `cascade diff`): loads apply them to the table, where Iceberg can.
- `renamed_columns` and `ignored_keys` say how a source's keys reach the columns beyond their
  names: an old name that still fills a renamed column, and the keys dropped on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema

# Columns every table gets after its own, as (name, Iceberg type, doc): dlt's lineage columns,
# which dlt fills in while it stages, and the time Cascade loaded the row.
METADATA_COLUMNS = (
    ("_dlt_load_id", "string", "dlt load id"),
    ("_dlt_id", "string", "dlt row id"),
    ("_cascade_ingested_at", "timestamptz", "When Cascade loaded the row"),
)
METADATA_COLUMN_NAMES = tuple(name for name, _, _ in METADATA_COLUMNS)
INGESTED_AT = METADATA_COLUMN_NAMES[2]


def _unpartitioned() -> PartitionSpec:
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC

    return UNPARTITIONED_PARTITION_SPEC


@dataclass(frozen=True)
class TableContract:
    """One table: `identifier` ("namespace.table"), its `schema` and `partition_spec` with the
    generated field ids, the `unique_key` rows are merged on (column names, also the schema's
    identifier fields), and the id bookkeeping that keeps ids stable across generations.

    `last_column_id` / `last_partition_id` are the highest ids ever given (None: the highest
    in `schema` / `partition_spec`, as in schema modules generated before they were recorded).
    """

    identifier: str
    schema: Schema
    partition_spec: PartitionSpec = field(default_factory=_unpartitioned)
    unique_key: tuple[str, ...] = ()
    retired_field_ids: Mapping[int, str] = field(default_factory=dict)
    last_column_id: int | None = None
    last_partition_id: int | None = None
    allowed_breaking: tuple[str, ...] = ()
    # Old name -> column, for the columns a model renamed (`renamed_from`): a source that still
    # sends the old key fills the renamed column (runtime/records.py), instead of losing it.
    renamed_columns: Mapping[str, str] = field(default_factory=dict)
    # Source keys the table does not keep on purpose (`ignored_keys` in the decorator), as
    # dotted paths like the load's warning about dropped keys names them (`payload.commits`,
    # and everything under it): they are dropped without that warning (runtime/records.py).
    ignored_keys: tuple[str, ...] = ()

    @property
    def namespace(self) -> tuple[str, ...]:
        return tuple(self.identifier.split("."))[:-1]
