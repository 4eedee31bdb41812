"""Reading the audit trail: one object's history, newest first, a keyset page at a time.

An object's history covers the rows that belong to it: a purchase order's lines, schedule lines,
acknowledgements and their answers; a shipment notice's packages and lines. Each of those lives in
its own event table, so a page is one UNION ALL over them. Each branch reads at most a page of its
newest events (index on ``pgh_obj_id`` or the parent's foreign key) together with each event's
previous snapshot of the same row, which is what the changes are computed against. A page costs the
same two or three queries however long the history is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.utils import timezone
from django.utils.text import capfirst

from config.audit import models as events
from config.audit.context import Channel
from config.keyset import InvalidCursor, decode_cursor, encode_cursor
from purchasing.models import Acknowledgement, Item, PurchaseOrder, PurchaseOrderLine, ReasonCode, ShipmentNotice, Site
from suppliers.models import Supplier, User

type Snapshot = dict[str, Any]

# Columns no person changes, or that say nothing in a list of changes.
_HIDDEN = {"id"}
_ACTIONS = {"insert": "created", "update": "changed", "delete": "deleted"}


@dataclass(frozen=True)
class Source:
    """One event table in an object's history, and how its rows belong to the object."""

    model: type[models.Model]
    # Newest first within one instant: a higher rank comes first (the object before its parts).
    rank: int
    # SQL over the event table (alias e) selecting the object's rows; %(root)s is the object's id.
    belongs: str
    subject: Callable[[Snapshot, dict[int, int]], str]

    @property
    def tracked(self) -> type[models.Model]:
        return self.model.pgh_tracked_model  # type: ignore[attr-defined, no-any-return]


def _line(numbers: dict[int, int], line_id: Any) -> str:
    return str(numbers.get(line_id, f"#{line_id}"))


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# The lines of a PO, including deleted ones that only the trail remembers.
_PO_LINE_IDS = (
    f"SELECT id FROM {_table(PurchaseOrderLine)} WHERE po_id = %(root)s"  # noqa: S608 - names from the models
    f" UNION SELECT pgh_obj_id FROM {_table(events.PurchaseOrderLineEvent)} WHERE po_id = %(root)s"
)
_PO_ACK_IDS = (
    f"SELECT pgh_obj_id FROM {_table(events.AcknowledgementEvent)} WHERE po_id = %(root)s"  # noqa: S608
    f" UNION SELECT id FROM {_table(Acknowledgement)} WHERE po_id = %(root)s"
)

HISTORIES: dict[str, tuple[Source, ...]] = {
    "po": (
        Source(events.PurchaseOrderEvent, 5, "e.pgh_obj_id = %(root)s", lambda s, n: f"Purchase order {s['number']}"),
        Source(events.PurchaseOrderLineEvent, 4, "e.po_id = %(root)s", lambda s, n: f"Line {s['line_number']}"),
        Source(
            events.ScheduleLineEvent,
            3,
            f"e.line_id IN ({_PO_LINE_IDS})",
            lambda s, n: f"Line {_line(n, s['line_id'])}, delivery {s['schedule_number']}",
        ),
        Source(
            events.AcknowledgementEvent,
            2,
            "e.po_id = %(root)s",
            lambda s, n: f"Acknowledgement of revision {s['revision']}",
        ),
        Source(
            events.AcknowledgementLineEvent,
            1,
            f"e.acknowledgement_id IN ({_PO_ACK_IDS})",
            lambda s, n: f"Answer for line {_line(n, s['line_id'])}",
        ),
    ),
    "shipment": (
        Source(events.ShipmentNoticeEvent, 3, "e.pgh_obj_id = %(root)s", lambda s, n: f"ASN {s['number']}"),
        Source(
            events.ShipmentPackageEvent,
            2,
            "e.shipment_id = %(root)s",
            lambda s, n: f"{str(s['kind']).capitalize()} {s['sscc']}",
        ),
        Source(events.ShipmentLineEvent, 1, "e.shipment_id = %(root)s", lambda s, n: f"Notice line {s['position']}"),
    ),
    "case": (Source(events.ExceptionCaseEvent, 1, "e.pgh_obj_id = %(root)s", lambda s, n: f"Case #{s['id']}"),),
    "membership": (Source(events.SupplierMembershipEvent, 1, "e.pgh_obj_id = %(root)s", lambda s, n: "Membership"),),
    "api_key": (Source(events.ApiKeyEvent, 1, "e.pgh_obj_id = %(root)s", lambda s, n: f"API key {s['prefix']}…"),),
    # What a supplier keeps about itself and its terms with us (docs/self-service.md), and its invitations.
    "supplier": (
        Source(events.SupplierEvent, 6, "e.pgh_obj_id = %(root)s", lambda s, n: f"Supplier {s['code']}"),
        Source(
            events.SupplierContactEvent,
            5,
            "e.supplier_id = %(root)s",
            lambda s, n: f"Contact {s['name']} ({str(s['function']).replace('_', ' ')})",
        ),
        Source(
            events.ShipFromAddressEvent, 4, "e.supplier_id = %(root)s", lambda s, n: f"Ship-from address {s['label']}"
        ),
        Source(
            events.SupplierItemEvent,
            3,
            "e.supplier_id = %(root)s",
            lambda s, n: f"Item terms, part {s['supplier_part_number']}",
        ),
        Source(events.TermsProposalEvent, 2, "e.supplier_id = %(root)s", lambda s, n: f"Terms proposal #{s['id']}"),
        Source(events.InvitationEvent, 1, "e.supplier_id = %(root)s", lambda s, n: f"Invitation of {s['email']}"),
    ),
}


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class AuditEntry:
    at: dt.datetime
    subject: str
    action: str
    # Whether the row's earlier state is in the trail (no for a row older than the trail itself).
    before_known: bool
    changes: list[Change]
    context: dict[str, Any]
    key: tuple[str, int, int] = field(repr=False)

    @property
    def ip(self) -> str:
        return str(self.context.get("ip") or "")

    @property
    def request_id(self) -> str:
        return str(self.context.get("request_id") or "")

    @property
    def actor(self) -> str:
        c = self.context
        if c.get("api_key"):
            return f"API key {c['api_key']}… of {c.get('supplier', '?')}"
        if c.get("email"):
            return f"{c['email']} (user {c.get('user')})"
        if c.get("task"):
            return f"task {c['task']}"
        if c.get("command"):
            return f"manage.py {c['command']}"
        return "unknown (no context: a change outside the portal)" if not c else "nobody signed in"

    @property
    def channel(self) -> str:
        c = self.context
        label = Channel(c["channel"]).label if c.get("channel") in Channel.values else "—"
        if c.get("channel") == Channel.FEED:
            return f"{label}: {c.get('feed')}" + (f" from {c['connector']}" if c.get("connector") else "")
        if c.get("channel") == Channel.DOCUMENT:
            return f"{label} #{c.get('document')}"
        return label


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_cursor: str | None
    previous_cursor: str | None

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_cursor or self.previous_cursor)


def object_history(
    kind: str,
    root: models.Model,
    *,
    after: str | None = None,
    before: str | None = None,
    page_size: int | None = None,
) -> AuditPage:
    """One page of ``root``'s history (``kind`` names it in HISTORIES), newest first.

    Raises InvalidCursor for a cursor this history did not produce. PostgreSQL only.
    """
    size = page_size or settings.SUPPLYLINE_PAGE_SIZE
    sources = HISTORIES[kind]
    forward = before is None
    cursor = _decoded(after if forward else before)
    rows = _rows(sources, root_id=root.pk, cursor=cursor, forward=forward, limit=size + 1)
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    numbers = _line_numbers(root) if kind == "po" else {}
    entries = _entries(rows, sources, numbers)
    has_next = more if forward else True
    has_previous = bool(cursor) if forward else more
    return AuditPage(
        entries=entries,
        next_cursor=_encoded(entries[-1].key) if entries and has_next else None,
        previous_cursor=_encoded(entries[0].key) if entries and has_previous else None,
    )


def _encoded(key: tuple[str, int, int]) -> str:
    return encode_cursor(list(key))


def _decoded(cursor: str | None) -> tuple[dt.datetime, int, int] | None:
    if not cursor:
        return None
    at, rank, pgh_id = decode_cursor(cursor, 3)
    try:
        moment = dt.datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError(at)
        return moment, int(rank), int(pgh_id)
    except ValueError:
        raise InvalidCursor("That page link is not valid.") from None


def _rows(
    sources: Iterable[Source], *, root_id: Any, cursor: tuple[dt.datetime, int, int] | None, forward: bool, limit: int
) -> list[tuple[Any, ...]]:
    """The page's rows: (source index, rank, pgh_id, time, label, snapshot JSON, previous snapshot JSON)."""
    direction, beyond = ("DESC", "<") if forward else ("ASC", ">")
    params: dict[str, Any] = {"root": root_id, "limit": limit}
    if cursor is not None:
        params.update(at=cursor[0], rank=cursor[1], pgh_id=cursor[2])
    branches = []
    for index, source in enumerate(sources):
        # Table names and ranks come from the code above, never from the request; values are parameters.
        table = _table(source.model)
        after = f"AND (e.pgh_created_at, {source.rank}, e.pgh_id) {beyond} (%(at)s, %(rank)s, %(pgh_id)s)"
        branches.append(
            f"""(SELECT {index} AS source, {source.rank} AS rank, e.pgh_id, e.pgh_created_at, e.pgh_label,
                   row_to_json(e)::text AS data,
                   (SELECT row_to_json(p)::text FROM {table} p
                     WHERE p.pgh_obj_id = e.pgh_obj_id AND p.pgh_id < e.pgh_id
                     ORDER BY p.pgh_id DESC LIMIT 1) AS previous
              FROM {table} e
             WHERE ({source.belongs}) {after if cursor is not None else ""}
             ORDER BY e.pgh_created_at {direction}, e.pgh_id {direction}
             LIMIT %(limit)s)"""  # noqa: S608 - names and ranks from the code, values are parameters
        )
    sql = (
        f"SELECT * FROM ({' UNION ALL '.join(branches)}) AS history"  # noqa: S608 - the branches above
        f" ORDER BY pgh_created_at {direction}, rank {direction}, pgh_id {direction} LIMIT %(limit)s"
    )
    with connection.cursor() as db:
        db.execute(sql, params)
        return list(db.fetchall())


def _line_numbers(po: models.Model) -> dict[int, int]:
    return dict(PurchaseOrderLine.objects.filter(po_id=po.pk).values_list("id", "line_number"))


def _entries(rows: list[tuple[Any, ...]], sources: tuple[Source, ...], numbers: dict[int, int]) -> list[AuditEntry]:
    parsed = [(sources[index], label, _load(data), _load(previous)) for index, _, _, _, label, data, previous in rows]
    names = _Names(_user_emails(parsed), numbers, _related_names(parsed))
    entries = []
    for (_, rank, pgh_id, at, label, _, _), (source, _, loaded, previous) in zip(rows, parsed, strict=True):
        snapshot = loaded or {}
        context = snapshot.get("pgh_context") or {}
        entries.append(
            AuditEntry(
                at=at,
                subject=source.subject(snapshot, numbers),
                action=_ACTIONS.get(label, label),
                before_known=previous is not None or label == "insert",
                changes=_changes(source, label, snapshot, previous, names),
                context=context,
                key=(at.isoformat(), rank, pgh_id),
            )
        )
    return entries


def _load(data: str | None) -> Snapshot | None:
    return None if data is None else json.loads(data, parse_float=Decimal)


def _shown_fields(source: Source) -> list[models.Field[Any, Any]]:
    """The tracked model's fields its events copy (not those left out of the trail), less the ones no one reads."""
    copied = {f.column for f in source.model._meta.concrete_fields}
    return [
        f
        for f in source.tracked._meta.concrete_fields
        if f.column in copied and f.column not in _HIDDEN and not getattr(f, "auto_now", False)
    ]


def _user_columns(tracked: type[models.Model]) -> set[str]:
    return {str(f.column) for f in tracked._meta.concrete_fields if f.is_relation and f.related_model is User}


# What a change shows for a foreign key to these models: the field people know the row by.
_NAME_FIELDS: dict[type[models.Model], str] = {
    Item: "sku",
    Site: "code",
    Supplier: "code",
    PurchaseOrder: "number",
    ReasonCode: "code",
    ShipmentNotice: "number",
}


def _related_names(parsed: list[tuple[Source, str, Snapshot | None, Snapshot | None]]) -> dict[tuple[type, int], str]:
    """The name (SKU, code, number) of every item, site, supplier, PO... a page's changes point at: one query
    per kind of row named, whatever the page's length."""
    wanted: dict[type[models.Model], set[int]] = {}
    for source, _, snapshot, previous in parsed:
        for f in source.tracked._meta.concrete_fields:
            if f.is_relation and f.related_model in _NAME_FIELDS:
                column = str(f.column)
                ids = wanted.setdefault(f.related_model, set())
                ids.update(s[column] for s in (snapshot, previous) if s is not None and s.get(column) is not None)
    names: dict[tuple[type, int], str] = {}
    for model, ids in wanted.items():
        if ids:
            rows = model._default_manager.filter(pk__in=ids).values_list("pk", _NAME_FIELDS[model])
            names.update({(model, pk): str(name) for pk, name in rows})
    return names


def _user_emails(parsed: list[tuple[Source, str, Snapshot | None, Snapshot | None]]) -> dict[int, str]:
    """The e-mail of every user a page's changes name (an assignee, a decider...), in one query."""
    ids: set[int] = set()
    for source, _, snapshot, previous in parsed:
        for column in _user_columns(source.tracked):
            ids.update(s[column] for s in (snapshot, previous) if s is not None and s.get(column) is not None)
    return dict(User.objects.filter(pk__in=ids).values_list("pk", "email")) if ids else {}


@dataclass(frozen=True)
class _Names:
    """What a page shows instead of ids: users' e-mails, PO lines' numbers, other rows' names."""

    users: dict[int, str]
    line_numbers: dict[int, int]
    related: dict[tuple[type, int], str] = field(default_factory=dict)


def _changes(source: Source, label: str, snapshot: Snapshot, previous: Snapshot | None, names: _Names) -> list[Change]:
    """An update's changed fields (old and new); a created row's filled-in fields (new), a deleted one's (old)."""
    changes = []
    for f in _shown_fields(source):
        column = str(f.column)
        name, new = capfirst(str(f.verbose_name)), snapshot.get(column)
        if label == "update":
            old = previous.get(column) if previous is not None else None
            if previous is None or old != new:
                changes.append(Change(name, _shown(f, old, names), _shown(f, new, names)))
        elif new not in (None, "", [], {}):
            value = _shown(f, new, names)
            changes.append(Change(name, "", value) if label == "insert" else Change(name, value, ""))
    return changes


def _shown(f: models.Field[Any, Any], value: Any, names: _Names) -> str:
    if value is None:
        return ""
    if f.is_relation and f.related_model is User:
        return names.users.get(value, f"user #{value}")
    if f.is_relation and f.related_model is PurchaseOrderLine and value in names.line_numbers:
        return f"line {names.line_numbers[value]}"
    if f.is_relation:
        return names.related.get((f.related_model, value), f"#{value}")  # type: ignore[arg-type]
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(f, models.DateTimeField) and isinstance(value, str):
        moment = dt.datetime.fromisoformat(value)
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z") if moment.tzinfo else value
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
