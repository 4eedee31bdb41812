"""EDIFACT: DESADV and ORDRSP in (``parse``), ORDERS and CONTRL out (``orders``, ``contrl``).

The only package that imports pydifact (in ``syntax``). ``parse`` streams: memory holds the segment
being read and the shapes it builds, never the whole file.
"""

from purchasing.documents.edifact.interchange import EdifactMessage, InterchangeError, parse, read_envelope
from purchasing.documents.edifact.syntax import Segment, Separators, segments
from purchasing.documents.edifact.writers import contrl, orders

__all__ = [
    "EdifactMessage",
    "InterchangeError",
    "Segment",
    "Separators",
    "contrl",
    "orders",
    "parse",
    "read_envelope",
    "segments",
]
