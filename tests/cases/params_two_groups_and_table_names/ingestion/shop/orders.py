from cascade.runtime import cascade_ingestion
from models.shop import Orders


@cascade_ingestion(
    table_name="shop_orders",
    unique_key="order_id",
    validation_schema=Orders,
    group="shop",
)
def load_orders(partition_date: str):
    """Orders placed in the shop."""
    return None
