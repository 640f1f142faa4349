from cascade.runtime import cascade_ingestion
from models.events import Events


# The upkeep job of `events_schedule` is named `upkeep_events_schedule`, as the schedule of
# `events` is: the definitions module imports one of them under another name.
@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="events_schedule",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
)
def upkeep_events_schedule(partition_date: str):
    return None
