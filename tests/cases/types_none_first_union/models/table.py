from pandera.pandas import DataFrameModel


class NoneFirst(DataFrameModel):
    key: str
    none_first: None | str
