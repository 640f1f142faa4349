from datetime import timedelta
from pandera.pandas import DataFrameModel


class Events(DataFrameModel):
    event_id: str
    duration: timedelta
