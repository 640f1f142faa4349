from cascade.runtime import cascade_ingestion
from models.table import Tickets


@cascade_ingestion(
    table_name="model_constant_from_other_module",
    unique_key='ticket_id',
    validation_schema=Tickets,
    group="cases",
)
def load(partition_date: str):
    return None
