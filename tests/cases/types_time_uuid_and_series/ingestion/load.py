from cascade.runtime import cascade_ingestion
from models.table import Sessions


@cascade_ingestion(
    table_name="types_time_uuid_and_series",
    unique_key='session_id',
    validation_schema=Sessions,
    group="cases",
)
def load(partition_date: str):
    return None
