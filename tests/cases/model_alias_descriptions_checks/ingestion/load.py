from cascade.runtime import cascade_ingestion
from models.table import Glucose


@cascade_ingestion(
    table_name="model_alias_descriptions_checks",
    unique_key='_id',
    validation_schema=Glucose,
    group="cases",
)
def load(partition_date: str):
    return None
