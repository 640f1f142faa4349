from pandera.pandas import DataFrameModel, Field


class Tickets(DataFrameModel):
    ticket_id: str = Field(description="Ticket id")
    title: str
