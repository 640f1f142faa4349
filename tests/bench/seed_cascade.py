"""The seed's runtime decorator, reduced to the work it does when a module is imported.

The benchmark copies this file into the seed-style project as `seed_cascade.py`. Like the seed's
`@cascade_ingestion`, `seed_cascade_ingestion` builds everything at import: it turns the Pandera
model into a PyIceberg schema (`to_schema()`, then one NestedField per column, plus the dlt and
Cascade metadata fields with the seed's fixed ids 100-102) and builds a Dagster asset with the
same arguments as the asset `cascade gen` writes, then registers it. The asset body calls the
same runtime as the generated asset, so both projects define the same thing; only when the work
happens differs.
"""

import inspect
from datetime import timedelta

import dagster as dg
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DoubleType,
    IcebergType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

from cascade.runtime import IcebergResource, IngestionConfig, run_ingestion
from cascade.runtime.contract import TableContract

NAMESPACE = "raw"
PARTITION_START = "2024-01-01"

# Filled at import by the decorator, as the seed's registry was; the definitions module reads it.
ASSETS: list[dg.AssetsDefinition] = []

# The seed's type table, keyed by the string of Pandera's dtype. Under pandas 3 `str` is
# "string[pyarrow]" and `bytes` has no dtype of its own ("object"), hence the extra keys.
ICEBERG_TYPES: dict[str, IcebergType] = {
    "str": StringType(),
    "string": StringType(),
    "string[pyarrow]": StringType(),
    "int64": LongType(),
    "float64": DoubleType(),
    "bool": BooleanType(),
    "datetime64[ns]": TimestamptzType(),
    "date": DateType(),
    "bytes": BinaryType(),
    "object": BinaryType(),
}
METADATA_FIELDS = (
    NestedField(100, "_dlt_load_id", StringType(), required=True, doc="dlt load id"),
    NestedField(101, "_dlt_id", StringType(), required=True, doc="dlt row id"),
    NestedField(
        102,
        "_cascade_ingested_at",
        TimestamptzType(),
        required=True,
        doc="When Cascade loaded the row",
    ),
)
# Column hints for dlt, as the generated schema modules carry them in DLT_COLUMNS.
DLT_HINTS = {
    StringType(): {"data_type": "text"},
    LongType(): {"data_type": "bigint"},
    DoubleType(): {"data_type": "double"},
    BooleanType(): {"data_type": "bool"},
    TimestamptzType(): {"data_type": "timestamp", "timezone": True},
    DateType(): {"data_type": "date"},
    BinaryType(): {"data_type": "binary"},
}


def iceberg_schema(validation_schema: type) -> Schema:
    """The seed's schema auto-generation: Pandera model -> PyIceberg Schema."""
    pandera_schema = validation_schema.to_schema()
    fields = [
        NestedField(
            field_id,
            name,
            ICEBERG_TYPES[str(column.dtype)],
            required=column.required and not column.nullable,
            doc=column.description,
        )
        for field_id, (name, column) in enumerate(pandera_schema.columns.items(), start=1)
    ]
    return Schema(*fields, *METADATA_FIELDS)


def seed_cascade_ingestion(
    *,
    table_name: str,
    unique_key: str | tuple[str, ...],
    validation_schema: type,
    group: str,
    cron: str | None = None,
    freshness_hours: tuple[float, float] | None = None,
    max_runtime_seconds: int = 300,
    max_retries: int = 3,
    retry_delay_seconds: int = 30,
    validate: bool = True,
):
    def decorator(fn):
        schema = iceberg_schema(validation_schema)
        identifier = f"{NAMESPACE}.{table_name}"
        keys = (unique_key,) if isinstance(unique_key, str) else tuple(unique_key)
        # The seed built dlt column hints at import; the runtime now types rows itself, so they
        # are built (the import-time work measured) and not passed.
        dlt_columns = {  # noqa: F841
            field.name: dict(DLT_HINTS[field.field_type])
            for field in schema.fields
            if field.field_id < 100
        }
        freshness = None
        if freshness_hours is not None:
            warn, fail = freshness_hours
            freshness = dg.FreshnessPolicy.time_window(
                warn_window=timedelta(hours=warn), fail_window=timedelta(hours=fail)
            )

        @dg.asset(
            name=f"dlt_{table_name}",
            group_name=group,
            description=inspect.cleandoc(fn.__doc__ or ""),
            partitions_def=dg.DailyPartitionsDefinition(start_date=PARTITION_START),
            retry_policy=dg.RetryPolicy(max_retries=max_retries, delay=retry_delay_seconds),
            automation_condition=dg.AutomationCondition.on_cron(cron) if cron else None,
            freshness_policy=freshness,
            kinds={"dlt", "iceberg"},
            metadata={
                "cascade/source": inspect.getfile(fn),
                "cascade/table": identifier,
                "cascade/unique_key": ", ".join(keys),
            },
        )
        def asset(
            context: dg.AssetExecutionContext, config: IngestionConfig, iceberg: IcebergResource
        ) -> dg.MaterializeResult:
            return run_ingestion(
                context,
                config=config,
                iceberg=iceberg,
                source=fn,
                validation_schema=validation_schema,
                table=TableContract(
                    identifier=identifier,
                    schema=schema,
                    partition_spec=UNPARTITIONED_PARTITION_SPEC,
                    unique_key=keys,
                ),
                validate=validate,
                max_runtime_seconds=max_runtime_seconds,
            )

        ASSETS.append(asset)
        return fn

    return decorator
