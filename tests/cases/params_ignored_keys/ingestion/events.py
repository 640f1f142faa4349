from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    # Keys beside kept columns, below a flattened object, a struct, list elements and map
    # values; a key spelled as the source spells it; a load column the source sends; in any
    # order (the contract lists them sorted).
    ignored_keys=(
        "payload.commits",
        "actor.avatarUrl",
        "actor.url",
        "place.geo",
        "track[].alt",
        "sites.value.elevation",
        "org",
        "_dlt_id",
        'quote"and\\backslash',
    ),
)
def events(partition_date: str):
    """Events of the app, one daily partition per UTC day."""
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignored_keys="ping.url",  # one string is one key
)
def pings(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pongs",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignored_keys=None,  # the default: no key ignored
)
def pongs(partition_date: str):
    return None
