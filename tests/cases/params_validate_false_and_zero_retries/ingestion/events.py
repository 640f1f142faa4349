from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    cron="30 6 * * *",
    freshness_hours=(0.5, 1.5),
    max_runtime_seconds=1,
    max_retries=0,
    retry_delay_seconds=0,
    validate=False,
)
def events(partition_date: str):
    return None
