from pandera.pandas import DataFrameModel, Field

from cascade.runtime import cascade_ingestion


class Orders(DataFrameModel):
    order_id: str = Field(description="Order id")
    total: float | None


@cascade_ingestion(
    table_name="orders",
    unique_key="order_id",
    validation_schema=Orders,
    group="shop",
)
def orders(partition_date: str):
    return None
