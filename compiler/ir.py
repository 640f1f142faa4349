"""The resolved IR: what the renderers see. Frozen, typed, every part with its source Span."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cascade.compiler.diagnostics import Span
from cascade.runtime import contract

T = TypeVar("T")


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

    @property
    def element_field(self) -> StructField:
        return StructField("element", self.element, self.element_required, field_id=self.element_id)


@dataclass(frozen=True)
class MapType:
    key: IcebergType
    value: IcebergType
    value_required: bool = False
    key_id: int = 0
    value_id: int = 0

    @property
    def key_field(self) -> StructField:
        # Iceberg map keys are always required.
        return StructField("key", self.key, True, field_id=self.key_id)

    @property
    def value_field(self) -> StructField:
        return StructField("value", self.value, self.value_required, field_id=self.value_id)


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
Path = tuple[str, ...]


class TypeVisitor(ABC, Generic[T]):
    """What to make of each node of a type tree; `visit` is the one walk over it, so a new
    type is taught there and in each visitor, nowhere else.

    Like pyiceberg's `PreOrderSchemaVisitor`, a node gets its children as calls that visit
    them, and calls them when it needs them: before its own work, after it, or in between
    (the field-id stage numbers a struct's fields before their types). `path` says where a
    node sits below the column, by struct field names and `element`, `key`, `value`: a
    field's path ends with its own name, a type's is the path of its field.
    """

    def field(self, field: StructField, path: Path, result: Callable[[], T]) -> T:
        """A struct field or a list element, map key or map value (`element_field`, ...), with
        its own id; `result` visits its type."""
        return result()

    @abstractmethod
    def struct(self, value: StructType, path: Path, fields: list[Callable[[], T]]) -> T: ...

    @abstractmethod
    def list(self, value: ListType, path: Path, element: Callable[[], T]) -> T: ...

    @abstractmethod
    def map(self, value: MapType, path: Path, key: Callable[[], T], item: Callable[[], T]) -> T: ...

    @abstractmethod
    def primitive(self, value: PrimitiveType | DecimalType, path: Path) -> T: ...


def visit(value: IcebergType, visitor: TypeVisitor[T], path: Path = ()) -> T:
    if isinstance(value, PrimitiveType | DecimalType):  # first: most columns are
        return visitor.primitive(value, path)
    if isinstance(value, StructType):
        return visitor.struct(value, path, [_visit_field(f, path, visitor) for f in value.fields])
    if isinstance(value, ListType):
        return visitor.list(value, path, _visit_field(value.element_field, path, visitor))
    if isinstance(value, MapType):
        key, item = value.key_field, value.value_field
        return visitor.map(
            value, path, _visit_field(key, path, visitor), _visit_field(item, path, visitor)
        )
    # A type no visitor knows must not be rendered as something it is not.
    raise TypeError(f"no visitor method for Iceberg type {value!r}")


def _visit_field(field: StructField, path: Path, visitor: TypeVisitor[T]) -> Callable[[], T]:
    inner = (*path, field.name)
    return lambda: visitor.field(field, inner, lambda: visit(field.type, visitor, inner))


def nested_fields(value: IcebergType) -> Found:
    """Every field below a type with its path, a field before the fields inside it: struct
    fields, list elements, map keys and values."""
    return visit(value, _NestedFields())


Found = list[tuple[Path, "StructField"]]  # (the field's path, the field)


class _NestedFields(TypeVisitor[Found]):
    def field(self, field: StructField, path: Path, result: Callable[[], Found]) -> Found:
        return [(path, field), *result()]

    def struct(self, value: StructType, path: Path, fields: list[Callable[[], Found]]) -> Found:
        return [found for f in fields for found in f()]

    def list(self, value: ListType, path: Path, element: Callable[[], Found]) -> Found:
        return element()

    def map(
        self, value: MapType, path: Path, key: Callable[[], Found], item: Callable[[], Found]
    ) -> Found:
        return key() + item()

    def primitive(self, value: PrimitiveType | DecimalType, path: Path) -> Found:
        return []


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
class Maintenance:
    """The table's upkeep job (`maintenance=`): when it runs, and the options of `cascade
    maintain` it runs with (numbers as the decorator wrote them)."""

    cron: str
    retention_days: int | float
    orphan_age_hours: int | float
    target_file_size_mb: int | float | None  # None: the table's setting, else 128 MB
    max_file_rows: int | None = None  # None: runtime/compaction.py's DEFAULT_MAX_FILE_ROWS


def asset_name(table_name: str) -> str:
    return f"dlt_{table_name}"


def upkeep_job_name(table_name: str) -> str:
    return f"upkeep_{table_name}"


class _TableNames:
    """The names derived from an ingestion's namespace and table name (both kinds of it)."""

    namespace: str
    table_name: str

    @property
    def identifier(self) -> str:
        return f"{self.namespace}.{self.table_name}"

    @property
    def asset_name(self) -> str:
        return asset_name(self.table_name)

    @property
    def upkeep_job_name(self) -> str:
        """The upkeep job's name; its schedule is this name + `_schedule`."""
        return upkeep_job_name(self.table_name)


@dataclass(frozen=True)
class TableSummary(_TableNames):
    """What the project-wide steps need of one ingestion (the definitions module, the check
    that no two ingestions write one table): all the compile cache keeps of an ingestion whose
    module did not change, besides its rendered modules."""

    function: str
    path: str
    group: str
    table_name: str
    namespace: str
    span: Span
    upkeep: bool = True  # whether the asset module defines an upkeep job and its schedule


@dataclass(frozen=True)
class Ingestion(_TableNames):
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
    # Source keys the table does not keep on purpose, as dotted paths (`payload.commits`):
    # the load drops them without a warning (TableContract.ignored_keys).
    ignored_keys: tuple[str, ...] = ()
    last_column_id: int = 0
    last_partition_id: int = 999
    schema_source: str = ""  # the model class or iceberg_schema constant the schema came from
    # The asset's time partitions, "hourly", "daily", "weekly" or "monthly", from
    # partition_start on; None: unpartitioned, each load reads the whole source.
    partitions: str | None = "daily"
    # The upkeep job and its schedule; None: the table has none (`maintenance=None`).
    maintenance: Maintenance | None = None

    @property
    def summary(self) -> TableSummary:
        return TableSummary(
            self.function,
            self.path,
            self.group,
            self.table_name,
            self.namespace,
            self.span,
            upkeep=self.maintenance is not None,
        )
