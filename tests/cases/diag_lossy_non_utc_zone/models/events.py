from typing import Annotated

import pandas as pd
from pandera.pandas import DataFrameModel


class Events(DataFrameModel):
    event_id: str
    local: Annotated[pd.DatetimeTZDtype, "ns", "Europe/Berlin"]
