from datetime import datetime

from pandera.pandas import DataFrameModel, Field


class Events(DataFrameModel):
    event_id: str = Field(description="Event id")
    created_at: datetime
    kind: str
    amount: int | None
