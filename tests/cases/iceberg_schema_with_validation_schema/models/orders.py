from datetime import datetime

from pandera.pandas import DataFrameModel, Field
from pyiceberg.schema import Schema
from pyiceberg.types import DecimalType, NestedField, StringType, TimestamptzType


class Orders(DataFrameModel):
    """Orders as the shop API returns them."""

    order_id: str = Field(description="Order id")
    placed_at: datetime = Field(description="When the order was placed")
    total: float = Field(ge=0, description="Order total")


# The table keeps totals as exact decimals, which the model cannot say.
ORDERS_SCHEMA = Schema(
    NestedField(field_id=1, name="order_id", field_type=StringType(), required=True, doc="Order id"),
    NestedField(field_id=2, name="placed_at", field_type=TimestamptzType(), required=True),
    NestedField(field_id=3, name="total", field_type=DecimalType(precision=12, scale=2), required=True),
)
