from cascade.runtime import cascade_ingestion
from models.table import EngineTypes


@cascade_ingestion(
    table_name="types_pandera_engine_dtypes",
    unique_key='text',
    validation_schema=EngineTypes,
    group="cases",
)
def load(partition_date: str):
    return None
