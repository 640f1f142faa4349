from pandera.pandas import DataFrameModel, Field

from models.constants import STATUS_DOC, STATUSES

PRIORITIES = ["low", "high"]


class Tickets(DataFrameModel):
    ticket_id: str
    status: str = Field(isin=STATUSES, description=STATUS_DOC)
    priority: str = Field(isin=PRIORITIES)
