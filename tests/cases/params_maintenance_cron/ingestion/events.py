from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    maintenance="0 4 * * sun",
)
def events(partition_date: str):
    """Events, with their upkeep on Sundays at 04:00 UTC."""
    return None
