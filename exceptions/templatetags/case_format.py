"""How the queue shows a case: its SLA timer and the facts its rule recorded (``details``)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django import template

from exceptions.models import ExceptionCase

register = template.Library()


def duration(delta: dt.timedelta) -> str:
    """A span as people read a timer: "45 min", "3 h 20 min", "2 d 4 h"."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@register.filter
def sla_timer(case: ExceptionCase) -> str:
    """Time left until the case's SLA is due, or how long it has been overdue."""
    if case.is_resolved:
        return "Resolved"
    left = case.time_left()
    return f"{duration(left)} left" if left > dt.timedelta(0) else f"Overdue by {duration(left)}"


@dataclass
class DetailRow:
    """One fact of a case's details: plain text, a table (a list of records) or name/value pairs (a record)."""

    label: str
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)


def _label(key: str) -> str:
    return key.replace("_", " ").strip().capitalize() or key


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(_text(v) for v in value) or "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _row(key: str, value: Any) -> DetailRow:
    if isinstance(value, dict):
        return DetailRow(_label(key), pairs=[(_label(str(k)), _text(v)) for k, v in value.items()])
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keys = list(dict.fromkeys(k for record in value for k in record))
        return DetailRow(
            _label(key), headers=[_label(k) for k in keys], rows=[[_text(r.get(k)) for k in keys] for r in value]
        )
    return DetailRow(_label(key), text=_text(value))


@register.filter
def detail_rows(details: Any) -> list[DetailRow]:
    """The details JSON a rule stored, as rows a person can read; anything not a record shows as one row."""
    if not isinstance(details, dict):
        return [] if details in (None, "", [], {}) else [DetailRow("Details", text=_text(details))]
    return [_row(str(key), value) for key, value in details.items()]
