from cascade.runtime import cascade_ingestion
from models.table import ArrayTypes


@cascade_ingestion(
    table_name="types_numpy_and_pandas_dtypes",
    unique_key='pd_string',
    validation_schema=ArrayTypes,
    group="cases",
)
def load(partition_date: str):
    return None
