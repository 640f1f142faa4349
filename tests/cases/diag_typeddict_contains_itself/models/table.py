from __future__ import annotations

from pandera.pandas import DataFrameModel, Field
from typing_extensions import TypedDict


class Node(TypedDict):
    name: str
    children: list[Node]


class Trees(DataFrameModel):
    tree_id: str
    root: Node = Field(description="The whole tree")
