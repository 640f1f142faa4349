from cascade.runtime import cascade_ingestion
from models.events import Events

IGNORED = ("actor.url",)


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignored_keys=IGNORED,
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignored_keys=tuple(["actor.url"]),
)
def pings(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pongs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignored_keys=("actor.url", 1, None),
)
def pongs(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pangs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignore_keys=("actor.url",),
)
def pangs(partition_date: str):
    return None
