"""The resolved IR: what the renderers see. Frozen, typed, every part with its source Span."""

from __future__ import annotations

from dataclasses import dataclass

from cascade.compiler.diagnostics import Span


@dataclass(frozen=True)
class PrimitiveType:
    """An Iceberg primitive type by its spec name: string, long, int, double, timestamptz, ..."""

    name: str


@dataclass(frozen=True)
class DecimalType:
    precision: int
    scale: int


IcebergType = PrimitiveType | DecimalType


@dataclass(frozen=True)
class Column:
    field_id: int
    name: str
    type: IcebergType
    required: bool
    doc: str
    span: Span


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
    model: TableModel
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

    @property
    def identifier(self) -> str:
        return f"{self.namespace}.{self.table_name}"

    @property
    def asset_name(self) -> str:
        return f"dlt_{self.table_name}"
