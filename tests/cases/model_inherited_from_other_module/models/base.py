from datetime import datetime

from pandera.pandas import DataFrameModel, Field


class RawModel(DataFrameModel):
    source: str = Field(description="Where the row came from")

    class Config:
        strict = False
        coerce = True


class Timestamped(RawModel):
    created_at: datetime = Field(description="Creation time")
    updated_at: datetime | None = Field(nullable=True, description="Last update")
