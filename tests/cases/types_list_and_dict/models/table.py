from typing import Dict, List, Optional

from pandera.pandas import DataFrameModel, Field


class Documents(DataFrameModel):
    doc_id: str
    tags: list[str] = Field(description="Free-form tags")
    counts: dict[str, int] = Field(description="Word counts")
    scores: Optional[List[float]]
    matrix: list[list[int]]
    index: Dict[str, list[str]]
