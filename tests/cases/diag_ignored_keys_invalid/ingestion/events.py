from cascade.runtime import cascade_ingestion
from models.events import Events


@cascade_ingestion(
    table_name="events",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignored_keys=(
        # Not a key path.
        "",
        " ",
        "actor..url",
        "payload.",
        # Named twice, or inside an entry.
        "org.url",
        "org.url",
        "repo",
        "repo.url",
        # Not kept: these are fine.
        "actor.url",
        "place.geo",
        "track[].alt",
        "sites.value.elevation",
    ),
)
def events(partition_date: str):
    return None


@cascade_ingestion(
    table_name="pings",
    unique_key="event_id",
    validation_schema=Events,
    group="app",
    ignored_keys=(
        # Keys the table keeps: a column (by its name, or as dlt names the key), a flattened
        # object's key, the old name of a renamed column, a struct field, a list element's
        # field, a map value's field, a map's entry, what is inside a column that is no object.
        "event_id",
        "eventId",
        "actor.login",
        "title",
        "place.country",
        "track[].lat",
        "sites.value.lon",
        "sites.berlin",
        "track.alt",
        "label.first",
        # Keys that hold kept columns.
        "actor",
        "payload",
    ),
)
def pings(partition_date: str):
    return None
