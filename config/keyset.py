"""Keyset (cursor) pagination for long HTML lists.

OFFSET pagination reads and throws away every row before the page, so page 400
of a 20,000-row list costs 400 pages of work, and a row inserted meanwhile shifts
everything by one. A keyset page instead starts where the previous one ended:
``WHERE order_date < d OR (order_date = d AND id < i) ORDER BY order_date DESC,
id DESC LIMIT n``, which an index on the same columns answers by reading about
n rows, whatever the page.

The ordering must end on a unique column (the primary key) and use no nullable
column, so that every row has exactly one place.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class KeysetPage[M: Model]:
    items: list[M]
    next_cursor: str | None
    previous_cursor: str | None

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_cursor or self.previous_cursor)


def _keys(ordering: tuple[str, ...]) -> list[tuple[str, bool]]:
    return [(field.lstrip("-"), field.startswith("-")) for field in ordering]


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps([str(value) for value in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValueError):
        raise InvalidCursor("That page link is not valid.") from None
    if not isinstance(values, list) or len(values) != width or not all(isinstance(v, str) for v in values):
        raise InvalidCursor("That page link is not valid.")
    return values


def _beyond(keys: list[tuple[str, bool]], values: list[str], *, forward: bool) -> Q:
    """Rows strictly after (forward) or before the cursor in the list's order."""
    condition = Q()
    for depth, (field, descending) in enumerate(keys):
        # Going forward through a descending key means smaller values.
        lookup = "lt" if descending == forward else "gt"
        ties = {name: values[i] for i, (name, _) in enumerate(keys[:depth])}
        condition |= Q(**ties, **{f"{field}__{lookup}": values[depth]})
    return condition


def paginate[M: Model](
    queryset: QuerySet[M],
    *,
    ordering: tuple[str, ...],
    page_size: int,
    after: str | None = None,
    before: str | None = None,
) -> KeysetPage[M]:
    """One page of ``queryset`` in ``ordering``, after or before a cursor.

    Raises InvalidCursor for a cursor this ordering did not produce.
    """
    keys = _keys(ordering)
    forward = before is None
    cursor = after if forward else before
    if cursor:
        try:
            queryset = queryset.filter(_beyond(keys, decode_cursor(cursor, len(keys)), forward=forward))
        except (ValidationError, ValueError, TypeError):
            # Well-formed JSON whose values do not fit the fields (a date that is not a date).
            raise InvalidCursor("That page link is not valid.") from None
    reversed_ordering = tuple(("" if desc else "-") + name for name, desc in keys)
    rows = list(queryset.order_by(*(ordering if forward else reversed_ordering))[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    if not forward:
        rows.reverse()

    def cursor_of(row: M) -> str:
        return encode_cursor([getattr(row, name) for name, _ in keys])

    has_next = more if forward else True
    has_previous = bool(cursor) if forward else more
    return KeysetPage(
        items=rows,
        next_cursor=cursor_of(rows[-1]) if rows and has_next else None,
        previous_cursor=cursor_of(rows[0]) if rows and has_previous else None,
    )


def paginate_request[M: Model](
    request: HttpRequest, queryset: QuerySet[M], *, ordering: tuple[str, ...]
) -> KeysetPage[M]:
    """The page a list view's ``after``/``before`` query parameters ask for, ``SUPPLYLINE_PAGE_SIZE`` long;
    a cursor that does not fit shows the first page with a warning instead of an error."""
    size = settings.SUPPLYLINE_PAGE_SIZE
    try:
        return paginate(
            queryset,
            ordering=ordering,
            page_size=size,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        )
    except InvalidCursor as error:
        messages.warning(request, f"{error} Showing the first page.")
        return paginate(queryset, ordering=ordering, page_size=size)
