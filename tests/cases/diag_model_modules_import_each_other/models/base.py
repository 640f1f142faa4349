from pandera.pandas import DataFrameModel

from models.events import Events  # noqa: F401  (for a type hint somewhere)


class Base(DataFrameModel):
    pass
