"""The resolved IR: what the renderers see. Frozen, typed, every part with its source Span."""

from __future__ import annotations

from dataclasses import dataclass

from cascade.compiler.diagnostics import Span
from cascade.runtime import contract


@dataclass(frozen=True)
class PrimitiveType:
    """An Iceberg primitive type by its spec name: string, long, int, double, timestamptz, ..."""

    name: str


# The pyiceberg class of each primitive type, by its spec name.
PRIMITIVE_CLASSES = {
    "string": "StringType",
    "long": "LongType",
    "int": "IntegerType",
    "float": "FloatType",
    "double": "DoubleType",
    "boolean": "BooleanType",
    "date": "DateType",
    "time": "TimeType",
    "timestamp": "TimestampType",
    "timestamptz": "TimestamptzType",
    "binary": "BinaryType",
    "uuid": "UUIDType",
}


@dataclass(frozen=True)
class DecimalType:
    precision: int
    scale: int


@dataclass(frozen=True)
class ListType:
    element: IcebergType
    element_required: bool = False
    element_id: int = 0  # assigned by the field-id stage


@dataclass(frozen=True)
class MapType:
    key: IcebergType
    value: IcebergType
    value_required: bool = False
    key_id: int = 0
    value_id: int = 0


@dataclass(frozen=True)
class StructField:
    name: str
    type: IcebergType
    required: bool
    doc: str = ""
    field_id: int = 0


@dataclass(frozen=True)
class StructType:
    fields: tuple[StructField, ...]


IcebergType = PrimitiveType | DecimalType | ListType | MapType | StructType

# Columns every table gets after its own (runtime/contract.py names them for both sides).
METADATA_COLUMNS = tuple(
    (name, PrimitiveType(type_name), doc) for name, type_name, doc in contract.METADATA_COLUMNS
)
METADATA_COLUMN_NAMES = frozenset(contract.METADATA_COLUMN_NAMES)


@dataclass(frozen=True)
class Column:
    field_id: int
    name: str
    type: IcebergType
    required: bool
    doc: str
    span: Span
    attribute: str = ""  # the model's attribute (a column may take another name, alias=)
    renamed_from: str | None = None


@dataclass(frozen=True)
class TableModel:
    """A Pandera DataFrameModel as the compiler read it, with its columns in table order."""

    class_name: str
    module: str
    docstring: str
    columns: tuple[Column, ...]
    span: Span


@dataclass(frozen=True)
class PartitionField:
    field_id: int
    source: str
    transform: str  # identity, year, month, day, hour, bucket[N], truncate[W]
    name: str
    span: Span


@dataclass(frozen=True)
class RetiredField:
    """A field id a previous generation used and the table may still hold: never reused."""

    field_id: int
    name: str


@dataclass(frozen=True)
class FreshnessHours:
    warn: float
    fail: float


@dataclass(frozen=True)
class Ingestion:
    """One @cascade_ingestion function and everything generated from it."""

    function: str
    module: str
    path: str
    table_name: str
    namespace: str
    group: str
    unique_key: tuple[str, ...]
    model: TableModel | None
    columns: tuple[Column, ...]
    partition_fields: tuple[PartitionField, ...]
    cron: str | None
    freshness: FreshnessHours | None
    max_runtime_seconds: int | None
    max_retries: int
    retry_delay_seconds: int | None
    validate: bool
    partition_start: str
    docstring: str
    span: Span
    retired_fields: tuple[RetiredField, ...] = ()
    # The breaking changes a review accepted, as "CODE:subject" (runtime/change_rules.py).
    allowed_breaking: tuple[str, ...] = ()
    last_column_id: int = 0
    last_partition_id: int = 999
    schema_source: str = ""  # the model class or iceberg_schema constant the schema came from

    @property
    def identifier(self) -> str:
        return f"{self.namespace}.{self.table_name}"

    @property
    def asset_name(self) -> str:
        return f"dlt_{self.table_name}"
