from pyiceberg.schema import Schema
from pyiceberg.types import NestedField, StringType, StructType, TimestamptzType

from cascade.runtime import cascade_ingestion

ORDERS_SCHEMA = Schema(
    NestedField(1, "order_id", StringType(), required=True),
    NestedField(2, "placed_at", TimestamptzType(), required=True),
    NestedField(3, "order_id", StringType(), required=False),
)
ITEMS_SCHEMA = Schema(
    NestedField(1, "item_id", StringType(), required=True),
    NestedField(
        2,
        "detail",
        StructType(
            NestedField(3, "sku", StringType(), required=False),
            NestedField(4, "sku", StringType(), required=False),
        ),
        required=False,
    ),
)


@cascade_ingestion(
    table_name="orders", unique_key="order_id", iceberg_schema=ORDERS_SCHEMA, group="shop"
)
def orders(partition_date: str):
    return None


@cascade_ingestion(table_name="items", unique_key="item_id", iceberg_schema=ITEMS_SCHEMA, group="shop")
def items(partition_date: str):
    return None
