from cascade.runtime import cascade_ingestion
from models import Tickets


@cascade_ingestion(
    table_name="tickets",
    unique_key="ticket_id",
    validation_schema=Tickets,
    group="support",
)
def tickets(partition_date: str):
    return None
