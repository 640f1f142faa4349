from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    cron=None,
    freshness_hours=None,
    max_runtime_seconds=None,
    max_retries=None,
    retry_delay_seconds=None,
)
def events(partition_date: str):
    return None
