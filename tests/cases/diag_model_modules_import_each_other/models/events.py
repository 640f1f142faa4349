from datetime import datetime

from pandera.pandas import Field

from models.base import Base


class Events(Base):
    event_id: str = Field(description="Event id")
    created_at: datetime
    kind: str
