from pandera.pandas import DataFrameModel, Field


class Events(DataFrameModel):
    event_id: str
    amount: float = Field(dtype_kwargs=5)
