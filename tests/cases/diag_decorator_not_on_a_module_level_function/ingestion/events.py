from cascade.runtime import cascade_ingestion
from cascade.runtime import cascade_ingestion as ingest
from models.events import Events


@cascade_ingestion(table_name="a", unique_key="event_id", validation_schema=Events, group="app")
class Events2:
    pass


class Holder:
    @ingest(table_name="b", unique_key="event_id", validation_schema=Events, group="app")
    def method(self, partition_date: str):
        return None


def outer():
    @cascade_ingestion(table_name="c", unique_key="event_id", validation_schema=Events, group="app")
    def inner(partition_date: str):
        return None

    return inner


by_hand = cascade_ingestion(table_name="d", unique_key="event_id", validation_schema=Events, group="app")(lambda partition_date: None)


@cascade_ingestion(table_name="e", unique_key="event_id", validation_schema=Events, group="app")
def fine(partition_date: str):
    return None
