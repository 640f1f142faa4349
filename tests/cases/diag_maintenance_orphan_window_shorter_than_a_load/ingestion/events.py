from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    max_runtime_seconds=7200,
    maintenance={"orphan_age_hours": 2},
)
def events(partition_date: str):
    return None
