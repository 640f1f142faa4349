from pandera.pandas import DataFrameModel


class Events(DataFrameModel):
    event_id: str
    dateString: str
