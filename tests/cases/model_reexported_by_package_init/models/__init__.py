"""The project's models, re-exported."""

from .tickets import Tickets

__all__ = ["Tickets"]
