from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event",
    validation_schema=Events,
    group="app",
    cron="61 * * * *",
    freshness_hours=(2, 1),
    max_retries=-1,
)
def events(partition_date: str):
    return None
