"""What a materialization reports to Dagster."""

from collections.abc import Mapping, Sequence

import dagster as dg
from pyiceberg.schema import Schema


def column_schema(schema: Schema, unique_key: Sequence[str]) -> dg.TableSchema:
    """The generated Iceberg schema as Dagster's column schema, shown in the asset catalog."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=field.name,
                type=str(field.field_type),
                description=field.doc,
                constraints=dg.TableColumnConstraints(nullable=not field.required),
            )
            for field in schema.fields
        ],
        constraints=dg.TableConstraints(other=[f"unique key: {', '.join(unique_key)}"]),
    )


def no_data(
    branch: str,
    partition: Mapping[str, str | int],
    identifier: str,
    check_results: Sequence[dg.AssetCheckResult] = (),
) -> dg.MaterializeResult:
    """The result of a load whose source had no rows: the table is left as it was.
    `partition` is the partitions' metadata (one partition's, or a range's), empty for an
    unpartitioned asset."""
    return dg.MaterializeResult(
        check_results=list(check_results),
        metadata={"status": "no_data", "branch": branch, **partition, "table_name": identifier},
    )
