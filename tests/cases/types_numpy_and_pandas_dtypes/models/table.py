import numpy as np
import pandas as pd
from pandera.pandas import DataFrameModel


class ArrayTypes(DataFrameModel):
    np_int32: np.int32
    np_float32: np.float32
    np_int8: np.int8
    np_bool: np.bool_
    pd_int32: pd.Int32Dtype
    pd_int64: pd.Int64Dtype
    pd_string: pd.StringDtype
    pd_boolean: pd.BooleanDtype | None
