from cascade.runtime import cascade_ingestion
from models.table import Metrics


@cascade_ingestion(
    table_name="model_config_options",
    unique_key='metric',
    validation_schema=Metrics,
    group="cases",
)
def load(partition_date: str):
    return None
