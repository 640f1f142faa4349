from pandera.pandas import DataFrameModel


class Orders(DataFrameModel):
    order_id: str
    total: float
