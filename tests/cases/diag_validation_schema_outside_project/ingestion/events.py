from cascade.runtime import cascade_ingestion
from company_models.events import SharedEvents


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=SharedEvents,
    group="app",
)
def events(partition_date: str):
    return None
