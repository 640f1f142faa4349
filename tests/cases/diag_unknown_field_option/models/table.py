from pandera.pandas import DataFrameModel, Field


class Items(DataFrameModel):
    item_id: str = Field(descripton="typo: not a Pandera option")
