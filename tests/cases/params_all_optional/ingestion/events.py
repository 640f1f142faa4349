from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    partition_spec=[("created_at", "day")],
    cron="0 */1 * * *",
    freshness_hours=(1, 24),
    max_runtime_seconds=600,
    max_retries=5,
    retry_delay_seconds=120,
    validate=True,
)
def events(partition_date: str):
    """Events of the app, one daily partition per UTC day."""
    return None
