from datetime import datetime
from typing import TypedDict
class L(TypedDict):
    a: int

from pandera.pandas import DataFrameModel, Field


class Events(DataFrameModel):
    event_id: str = Field(description="Event id")
    created_at: datetime
    l: L
