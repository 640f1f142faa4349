from datetime import datetime

from pandera.pandas import Field

from models.base import Timestamped


class Orders(Timestamped):
    """Orders: the base's columns first, an override keeps its place."""

    order_id: str = Field(description="Order id")
    created_at: datetime = Field(description="When the order was placed")
    total: float
