from pandera.pandas import DataFrameModel, Field


class Events(DataFrameModel):
    event_id: str
    amount: int = Field(alias="")
