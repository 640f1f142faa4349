import typing
from typing import Optional, Union

from pandera.pandas import DataFrameModel, Field


class Spellings(DataFrameModel):
    plain: str
    pipe_none: str | None
    optional: Optional[int]
    union_none: Union[float, None]
    qualified_optional: typing.Optional[bool]
    nullable_field: str = Field(nullable=True)
    explicit_not_nullable: str = Field(nullable=False)
    absent_but_not_null: str | None = Field(nullable=False)
