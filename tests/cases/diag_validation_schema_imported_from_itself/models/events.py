from datetime import datetime

from pandera.pandas import DataFrameModel, Field


class Events(DataFrameModel):
    """Events as the API returns them."""

    event_id: str = Field(unique=True, description="Event id")
    created_at: datetime = Field(description="When the event happened")
    kind: str = Field(description="Event kind")
    amount: int | None = Field(nullable=True, description="Amount, if any")
