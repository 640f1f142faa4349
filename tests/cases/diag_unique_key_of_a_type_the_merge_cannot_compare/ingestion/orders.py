from pyiceberg.schema import Schema
from pyiceberg.types import (
    DecimalType,
    ListType,
    NestedField,
    StringType,
    UUIDType,
    TimestamptzType,
)

from cascade.runtime import cascade_ingestion

ORDERS_SCHEMA = Schema(
    NestedField(1, "order_id", UUIDType(), required=True, doc="Order id"),
    NestedField(2, "placed_at", TimestamptzType(), required=True),
    NestedField(3, "total", DecimalType(12, 2), required=False, doc="Order total"),
    NestedField(4, "tags", ListType(5, StringType(), element_required=False), required=False),
)


@cascade_ingestion(
    table_name="orders",
    unique_key="order_id",
    iceberg_schema=ORDERS_SCHEMA,
    group="shop",
    partition_spec=[("placed_at", "month")],
)
def orders(partition_date: str):
    """Orders, with a hand-written Iceberg schema and no Pandera model."""
    return None
