from pydantic import BaseModel


class Events(BaseModel):
    event_id: str
