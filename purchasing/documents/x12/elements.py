"""Element values of one transaction set (numbers, dates, codes), each problem reported where it is."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from purchasing.documents.x12.problems import ProblemLog
from purchasing.documents.x12.tokenizer import Segment

_INTEGER = re.compile(r"[0-9]{1,9}")
# X12 type R: a sign, digits and a decimal point. Decimal() alone would also take "NaN", "1E9" or "٣".
_DECIMAL = re.compile(r"-?(?:[0-9]{1,15}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})")
_DATE = re.compile(r"[0-9]{8}")


class Elements:
    """Reads the element values of one transaction set, reporting each problem against that set."""

    def __init__(self, problems: ProblemLog, set_index: int) -> None:
        self._problems = problems
        self._set_index = set_index

    def problem(self, segment: Segment, message: str, element: int | None = None) -> None:
        self._problems.at(segment, message, element=element, set_index=self._set_index)

    def missing_segment(self, tag: str, st: Segment, message: str) -> None:
        """A mandatory segment that never came; by convention located at its set's ST (see writers)."""
        self._problems.add(message, segment=tag, position=st.position, set_index=self._set_index)

    def text(self, segment: Segment, number: int, what: str) -> str | None:
        value = segment.element(number)
        if not value:
            self.problem(segment, f"{_sentence(what)} is missing.", number)
            return None
        return value

    def integer(self, segment: Segment, number: int, what: str) -> int | None:
        value = self.text(segment, number, what)
        if value is None:
            return None
        if not _INTEGER.fullmatch(value):
            self.problem(segment, f"{_sentence(what)} {value!r} is not a whole number.", number)
            return None
        return int(value)

    def decimal(self, segment: Segment, number: int, what: str, *, required: bool = True) -> Decimal | None:
        value = segment.element(number)
        if not value:
            if required:
                self.problem(segment, f"{_sentence(what)} is missing.", number)
            return None
        if not _DECIMAL.fullmatch(value):
            self.problem(segment, f"{_sentence(what)} {value!r} is not a number.", number)
            return None
        return Decimal(value)

    def date(self, segment: Segment, number: int, what: str, *, required: bool = True) -> dt.date | None:
        value = segment.element(number)
        if not value:
            if required:
                self.problem(segment, f"{_sentence(what)} is missing.", number)
            return None
        try:
            if not _DATE.fullmatch(value):
                raise ValueError(value)
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            self.problem(segment, f"{_sentence(what)} {value!r} is not a date (CCYYMMDD).", number)
            return None


def _sentence(what: str) -> str:
    return what[:1].upper() + what[1:]
