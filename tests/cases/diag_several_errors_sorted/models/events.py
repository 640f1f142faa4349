from pandera.pandas import DataFrameModel


class Events(DataFrameModel):
    event_id: str
    _secret: str
    durationMs: int
