from datetime import date, datetime

from pandera.pandas import DataFrameModel, Field


class Visits(DataFrameModel):
    visit_id: str = Field(description="Visit id")
    country: str = Field(description="ISO country code")
    user_id: int = Field(description="User id")
    path: str = Field(description="Page path")
    started_at: datetime = Field(description="Start of the visit (UTC)")
    ended_at: datetime = Field(description="End of the visit (UTC)")
    visit_day: date = Field(description="Day of the visit")
