from pandera.pandas import DataFrameModel

from cascade.runtime import cascade_ingestion


class IngestionConfig(DataFrameModel):
    order_id: str


@cascade_ingestion(
    table_name="orders",
    unique_key="order_id",
    validation_schema=IngestionConfig,
    group="shop",
)
def dlt_orders(partition_date: str):
    return None


@cascade_ingestion(
    table_name="refunds",
    unique_key="order_id",
    validation_schema=IngestionConfig,
    group="shop",
)
def table(partition_date: str):
    return None
