"""Reading data element values (numbers, dates, line numbers, SSCCs) and collecting what is wrong."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from django.core.exceptions import ValidationError

from purchasing import gs1
from purchasing.documents.edifact.syntax import Segment
from purchasing.documents.shapes import Location, Problem

# Enough to show a partner what to fix; a file of garbage must not grow a list without end.
MAX_PROBLEMS = 50

# ISO 9735 allows either decimal mark whatever the UNA says; 6060 and 5118 are at most 35 characters.
_NUMBER = re.compile(r"-?(?:[0-9]{1,30}(?:[.,][0-9]{0,15})?|[.,][0-9]{1,15})")
_LINE_NUMBER = re.compile(r"[0-9]{1,6}")
# DTM 2379 format codes -> the length of the value; all start with the date (CCYYMMDD, or YYMMDD for 101).
_DATE_LENGTHS = {"102": 8, "203": 12, "204": 14, "101": 6}


class StopReading(Exception):
    """Raised by ``Problems`` when reading on would make no sense; the problems say why."""


class Problems:
    """The problems of one interchange. Past MAX_PROBLEMS, ``add`` stops the reading."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def __bool__(self) -> bool:
        return bool(self.items)

    def add(self, message: str, location: Location) -> None:
        self.items.append(Problem(message, location))
        if len(self.items) >= MAX_PROBLEMS:
            self.stop(f"stopped reading after {MAX_PROBLEMS} problems", location)

    def stop(self, message: str, location: Location) -> None:
        self.items.append(Problem(message, location))
        raise StopReading

    def at(self, segment: Segment, message: str, element: int | None = None) -> None:
        self.add(message, segment.location(element))


class Shared:
    """One object per repeated value of a long message: a 20,000-line ship notice names a few orders,
    items and quantities thousands of times, and each parsed copy would be kept. Bounded, so a message
    of unique values costs no more than without it."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._numbers: dict[str, Decimal] = {}

    def text(self, value: str) -> str:
        if len(self._texts) < self.LIMIT:
            return self._texts.setdefault(value, value)
        return self._texts.get(value, value)

    def number(self, value: Decimal) -> Decimal:
        key = str(value)
        if len(self._numbers) < self.LIMIT:
            return self._numbers.setdefault(key, value)
        return self._numbers.get(key, value)


def decimal(segment: Segment, element: int, component: int, problems: Problems, what: str) -> Decimal | None:
    """A numeric component, or None (with a problem when it is there but not a number)."""
    text = segment.value(element, component)
    if not text:
        problems.at(segment, f"{what} is missing", element)
        return None
    if not _NUMBER.fullmatch(text):
        problems.at(segment, f"{what} “{text}” is not a number", element)
        return None
    return Decimal(text.replace(",", "."))


def line_number(text: str, segment: Segment, element: int, problems: Problems) -> int | None:
    if not _LINE_NUMBER.fullmatch(text):
        problems.at(segment, f"line number “{text}” is not a number of up to six digits", element)
        return None
    return int(text)


def date(dtm: Segment, problems: Problems) -> dt.date | None:
    """The date of a DTM's C507 (formats 102, 203, 204 and 101; 102 when the format is omitted)."""
    text, code = dtm.value(1, 2), dtm.value(1, 3) or "102"
    length = _DATE_LENGTHS.get(code)
    if length is None:
        problems.at(dtm, f"date format {code} is not supported (use 102, CCYYMMDD)", 1)
        return None
    if len(text) != length or not text.isascii() or not text.isdigit():
        problems.at(dtm, f"date “{text}” does not match format {code}", 1)
        return None
    if code == "101":
        text = "20" + text
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        problems.at(dtm, f"“{dtm.value(1, 2)}” is not a valid date", 1)
        return None


def sscc(text: str, segment: Segment, element: int, problems: Problems) -> str:
    """An SSCC's 18 digits ("00" or "(00)" in front tolerated); "" with a problem when it is no SSCC."""
    try:
        return gs1.validate_sscc(text)
    except ValidationError as error:
        problems.at(segment, f"“{text}” is not an SSCC: {' '.join(error.messages)}", element)
        return ""
