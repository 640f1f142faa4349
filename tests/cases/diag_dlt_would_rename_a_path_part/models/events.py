from datetime import datetime

from pandera.pandas import DataFrameModel, Field


class Events(DataFrameModel):
    event_id: str = Field(description="Event id")
    created_at: datetime
    kind: str
    amount: int | None
    address__2: str | None = Field(nullable=True, description="Second address line")
