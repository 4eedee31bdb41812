"""Cell values as a column needs them (text, numbers, line numbers, dates, choices, SSCCs), or why not."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ValidationError

from purchasing import gs1

type Cell = str | int | float | bool | dt.datetime | dt.date | dt.time | dt.timedelta | Decimal | None


class _Invalid(Exception):
    """A cell that does not hold what its column needs; the message says what it should hold."""


def _is_blank(cell: Cell) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
_WHOLE = re.compile(r"[0-9]+")
_MAX_INT = 2_147_483_647  # what a PositiveIntegerField holds


def _text_of(cell: Cell) -> str:
    if isinstance(cell, float):
        return _float_text(cell)
    if isinstance(cell, dt.datetime) and cell.time() == dt.time():
        return cell.date().isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell).strip()


def _preview(cell: Cell) -> str:
    """The cell as a message quotes it: a long value cut short."""
    return repr(_text_of(cell)[:40])


def _as_text(cell: Cell, max_length: int) -> str:
    text = _text_of(cell)
    if len(text) > max_length:
        raise _Invalid(f"At most {max_length} characters, not {len(text)}.")
    return text


def _float_text(value: float) -> str:
    # Excel keeps 15 significant digits: beyond them a float holds binary noise (12.499999999999998).
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def _as_decimal(cell: Cell, places: int, positive: bool, decimal_comma: bool) -> Decimal:
    number = _decimal_of(cell, decimal_comma)
    if abs(number) >= 10 ** (14 - places):
        raise _Invalid(f"{_preview(cell)} is too large.")
    if number != number.quantize(Decimal(10) ** -places):
        raise _Invalid(f"{_preview(cell)} has more than {places} decimal places.")
    if positive and number <= 0:
        raise _Invalid(f"Must be more than zero, not {number:f}.")
    if number < 0:
        raise _Invalid(f"Cannot be negative ({number:f}).")
    return number


def _decimal_of(cell: Cell, decimal_comma: bool) -> Decimal:
    if isinstance(cell, bool) or not isinstance(cell, str | int | float | Decimal):
        raise _Invalid(f"{_preview(cell)} is not a number.")
    if isinstance(cell, float) and not math.isfinite(cell):
        raise _Invalid(f"{_preview(cell)} is not a number.")
    text = _text_of(cell)
    if decimal_comma and "." not in text:
        text = text.replace(",", ".", 1)
    if isinstance(cell, str) and not _DECIMAL_TEXT.fullmatch(text):
        raise _Invalid(f"{_preview(cell)} is not a number: write it like 12.5, without thousands separators.")
    return Decimal(text)


def _as_line_number(cell: Cell) -> int:
    text = _text_of(cell)
    # The length check comes first: int() refuses strings of over 4,300 digits with a ValueError.
    if isinstance(cell, bool) or not (len(text) <= 10 and _WHOLE.fullmatch(text)) or not 0 < int(text) <= _MAX_INT:
        raise _Invalid(f"{_preview(cell)} is not a line number: a whole number from 1.")
    return int(text)


def _as_date(cell: Cell) -> dt.date:
    if isinstance(cell, dt.datetime):
        if cell.time() != dt.time():
            raise _Invalid(f"{cell.isoformat(sep=' ')} has a time of day: give the date only.")
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    text = _text_of(cell)
    if not isinstance(cell, str) or not _ISO_DATE.fullmatch(text):
        raise _Invalid(f"{_preview(cell)} is not a date: write YYYY-MM-DD, or format the cell as a date.")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _Invalid(f"{text!r} is not a date in the calendar.") from None


def _as_choice(choices: tuple[str, ...]) -> Callable[[Cell], str]:
    def convert(cell: Cell) -> str:
        text = _text_of(cell).lower()
        if text not in choices:
            raise _Invalid(f"{_preview(cell)} is not one of {', '.join(choices)}.")
        return text

    return convert


def _validated(validator: Callable[[str], None], max_length: int, upper: bool = False) -> Callable[[Cell], str]:
    def convert(cell: Cell) -> str:
        text = _as_text(cell, max_length)
        try:
            validator(text.upper() if upper else text)
        except ValidationError as error:
            raise _Invalid(" ".join(error.messages)) from None
        return text.upper() if upper else text

    return convert


def _as_sscc(cell: Cell) -> str:
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        raise _Invalid(
            "The SSCC is a number to Excel, which drops its leading zeros and keeps only 15 digits: "
            "format the column as text and enter it again."
        )
    try:
        return gs1.validate_sscc(_as_text(cell, 40))
    except ValidationError as error:
        raise _Invalid(" ".join(error.messages)) from None
