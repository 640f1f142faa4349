from cascade.runtime import cascade_ingestion

from ..models.shop import Orders


@cascade_ingestion(
    table_name="orders",
    unique_key="order_id",
    validation_schema=Orders,
    group="shop",
)
def orders(partition_date: str):
    return None
