import numpy as np
from pandera.pandas import DataFrameModel


class Events(DataFrameModel):
    event_id: str
    counter: np.uint64
