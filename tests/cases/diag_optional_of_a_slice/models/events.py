from typing import Optional

from pandera.pandas import DataFrameModel


class Events(DataFrameModel):
    event_id: str
    note: Optional[1:2]
