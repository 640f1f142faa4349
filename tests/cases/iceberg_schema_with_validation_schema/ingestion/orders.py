from cascade.runtime import cascade_ingestion
from models.orders import ORDERS_SCHEMA, Orders


@cascade_ingestion(
    table_name="orders",
    unique_key="order_id",
    validation_schema=Orders,
    iceberg_schema=ORDERS_SCHEMA,
    group="shop",
)
def orders(partition_date: str):
    """Orders: the explicit schema wins, the model still validates."""
    return None
