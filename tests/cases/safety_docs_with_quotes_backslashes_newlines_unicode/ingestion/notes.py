from cascade.runtime import cascade_ingestion
from models.notes import Notes


@cascade_ingestion(
    table_name="notes",
    unique_key="note_id",
    validation_schema=Notes,
    group="safety",
)
def notes(partition_date: str):
    """Loads notes: "quoted", \"\"\"triple\"\"\", back\\slash, ünïcode ✓.

    Second paragraph with a trailing quote"
    """
    return None
