"""Supplier commitments out to Tryton: acknowledgements onto purchases, shipment notices as supplier shipments.

What each event does (docs/connectors/tryton.md explains the choices):

- ``po.acknowledged``, ``po.line.changed``, ``po.proposal.decided``: the promised date goes onto the
  planned date of the purchase line's draft stock moves (Tryton derives the line's delivery date from
  them); the answer, the notes and any change Tryton cannot take (quantity or price on a confirmed
  purchase) are appended to the purchase's comment, one block per event, marked with the event id so a
  repeat appends nothing.
- ``asn.submitted``, ``asn.replaced``, ``asn.cancelled``: a draft ``stock.shipment.in`` whose reference
  is the ASN number, holding the purchase lines' draft moves for the shipped quantities (a move holding
  more is split, the rest stays open on the purchase); replaced re-fills it, cancelled empties and cancels it.
- any other type: nothing to do.

A PO that this connector did not import from Tryton is none of its business: its events are delivered
without a call. Failures: Tryton unreachable, slow or answering 5xx is retried; a Tryton refusal
(``UserError``) or a missing mapping is permanent (422), with the reason in the delivery's error.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from planning_sync import credentials
from planning_sync.connectors.base import BaseConnector, Outcome, register
from planning_sync.connectors.tryton import mapping
from planning_sync.connectors.tryton.rpc import TrytonClient, TrytonError
from planning_sync.models import Connector, TrytonPurchase
from purchasing.models import PurchaseOrder, PurchaseOrderLine, Site
from purchasing.services import current_terms
from suppliers.models import Supplier

logger = logging.getLogger("supplyline.tryton")

EVENT_PREFIX = "supplyline."
MAPPING_HINT = "map it under Planning sync > Tryton mappings or run manage.py tryton_propose_mappings"
# Unprocessable: Outcome.permanent, so the delivery is dead-lettered at once with the reason.
PERMANENT = 422
REQUIRED_TEXT = ("database", "username", "password")

_clients: dict[tuple[str, str, str, str, float], TrytonClient] = {}
_clients_lock = threading.Lock()


def client_for(connector: Connector) -> TrytonClient:
    """One client per connector settings per process: its session and keep-alive connections are reused."""
    config = connector.config or {}
    credentials.require_readable(config)
    key = (
        str(config.get("url", "")),
        str(config.get("database", "")),
        str(config.get("username", "")),
        str(config.get("password", "")),
        float(connector.timeout_s),
    )
    with _clients_lock:
        if key not in _clients:
            url, database, username, password, timeout = key
            _clients[key] = TrytonClient(
                url=url, database=database, username=username, password=password, timeout=timeout
            )
        return _clients[key]


class Undeliverable(Exception):
    """An event that cannot be carried to Tryton as it stands (unmapped, or not where Tryton can take it)."""


@register
class TrytonConnector(BaseConnector):
    kind = "tryton"
    label = "Tryton ERP (JSON-RPC)"
    # A confirmed Tryton purchase refuses quantity and price changes (the amendment module aside).
    applies_quantity_price_changes = False

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        errors: dict[str, list[str]] = {}
        parts = urlsplit(str(config.get("url", "")))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors["url"] = ["Give the Tryton server's http:// or https:// address, e.g. http://erp.local:8000."]
        for key in REQUIRED_TEXT:
            if not isinstance(config.get(key), str) or not config[key]:
                errors[key] = [f"{key} is required: the Tryton {key} the connector logs in with."]
        warehouse = config.get("warehouse")
        if warehouse is not None and not (isinstance(warehouse, str) and warehouse):
            errors["warehouse"] = ["warehouse, when given, is the code of a Tryton warehouse (e.g. WH)."]
        if errors:
            raise ValidationError(errors)

    def holds(self, po: PurchaseOrder) -> bool:
        try:
            purchase_id = mapping.purchase_id_of(po.erp_id)
        except ValueError:
            return False
        return TrytonPurchase.objects.filter(connector=self.connector, purchase_id=purchase_id).exists()

    def deliver(self, envelope: dict[str, Any]) -> Outcome:
        handler = HANDLERS.get(envelope["type"].removeprefix(EVENT_PREFIX))
        if handler is None:
            return Outcome(delivered=True, status_code=204)
        try:
            handler(_Delivery(self.connector, client_for(self.connector), envelope))
        except Undeliverable as error:
            return Outcome(delivered=False, status_code=PERMANENT, error=str(error))
        except TrytonError as error:
            if error.retryable:
                return Outcome(delivered=False, status_code=error.status_code, error=str(error))
            return Outcome(delivered=False, status_code=error.status_code or PERMANENT, error=str(error))
        return Outcome(delivered=True, status_code=200)


@dataclass(frozen=True)
class _Delivery:
    """One event on its way to one Tryton."""

    connector: Connector
    client: TrytonClient
    envelope: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.envelope["data"]
        return data

    @property
    def marker(self) -> str:
        """What a comment block carries to say this event was applied."""
        return f"[supplyline {self.envelope['id']}]"

    @property
    def day(self) -> str:
        return str(self.envelope.get("time", ""))[:10]


# --- purchases: acknowledgements, changes, decisions ------------------------------------------------


@dataclass(frozen=True)
class _Purchase:
    """A PO this connector imported: its Tryton purchase, and the Tryton line of each of its line numbers."""

    po: PurchaseOrder
    purchase_id: int

    @classmethod
    def of(cls, delivery: _Delivery, po_number: str) -> _Purchase | None:
        po = PurchaseOrder.objects.filter(number=po_number).first()
        if po is None:
            raise Undeliverable(f"PO {po_number} does not exist in the portal.")
        try:
            purchase_id = mapping.purchase_id_of(po.erp_id)
        except ValueError:
            return None
        if not TrytonPurchase.objects.filter(connector=delivery.connector, purchase_id=purchase_id).exists():
            return None  # imported by another Tryton connector
        return cls(po=po, purchase_id=purchase_id)

    def line_id(self, delivery: _Delivery, line_number: int) -> int:
        line = mapping.purchase_line_of(delivery.connector, self.po.erp_id, line_number)
        if line is None:
            raise Undeliverable(
                f"PO {self.po.number} line {line_number} has no Tryton purchase line "
                f"(purchase {self.purchase_id}): it was added outside Tryton."
            )
        return line


def _promise_dates(delivery: _Delivery, purchase: _Purchase, promised: dict[int, dt.date]) -> None:
    """Move the open stock moves of each line to its promised date: Tryton shows a processing purchase
    line's delivery date as the earliest planned date of its moves, and the warehouse plans by them."""
    line_ids = {purchase.line_id(delivery, number): day for number, day in promised.items()}
    if not line_ids:
        return
    lines = delivery.client.read("purchase.line", sorted(line_ids), ["moves"])
    moves = delivery.client.read(
        "stock.move", [m for line in lines for m in line["moves"]], ["state", "origin", "shipment"]
    )
    by_date: dict[dt.date, list[int]] = {}
    for move in moves:
        # Moves on a notice's shipment are planned for its arrival; the rest wait for the promise.
        if move["state"] == "draft" and not move["shipment"]:
            day = line_ids[int(str(move["origin"]).partition(",")[2])]
            by_date.setdefault(day, []).append(move["id"])
    for day, ids in by_date.items():
        delivery.client.write("stock.move", ids, {"planned_date": day})


def _append_comment(delivery: _Delivery, purchase: _Purchase, lines: list[str]) -> None:
    """Append one dated block to the purchase's comment, unless this event's block is already there."""
    (row,) = delivery.client.read("purchase.purchase", [purchase.purchase_id], ["comment"])
    comment = row["comment"] or ""
    if delivery.marker in comment:
        return
    block = "\n".join([f"{delivery.day} {delivery.marker} {lines[0]}", *(f"  {line}" for line in lines[1:])])
    delivery.client.write("purchase.purchase", [purchase.purchase_id], {"comment": f"{comment}\n{block}".strip()})


def _earliest(terms: dict[str, Any]) -> dt.date:
    return min(dt.date.fromisoformat(d["date"]) for d in terms["deliveries"])


def _number(text: str) -> str:
    """A decimal from the event as people write it: 4.000 -> 4, 2.5000 -> 2.5."""
    return f"{Decimal(text).normalize():f}"


def _schedule(terms: dict[str, Any]) -> str:
    return ", ".join(f"{_number(d['quantity'])} on {d['date']}" for d in terms["deliveries"])


def _unapplied(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The changes of quantity or price, which Tryton refuses on a confirmed purchase."""
    changes = []
    for field, label in (("quantity", "quantity"), ("unit_price", "unit price")):
        if Decimal(before[field]) != Decimal(after[field]):
            changes.append(f"{label} {_number(before[field])} -> {_number(after[field])}")
    return changes


def _answer_line(answer: dict[str, Any]) -> str:
    action, outcome = answer["action"], answer["outcome"]
    text = f"line {answer['line_number']}: "
    if action == "accept":
        text += f"accepted, promised {_schedule(answer['proposed'])}"
    elif action == "reject":
        text += f"rejected ({answer['reason_code'] or 'no reason code'}), {_decision_word(outcome)}"
    else:
        changes = _unapplied(answer["before"], answer["proposed"])
        what = "; ".join([*changes, f"deliveries {_schedule(answer['proposed'])}"])
        text += f"change {what}, {_decision_word(outcome)}"
    if answer["note"]:
        text += f'; note: "{answer["note"]}"'
    return text


def _decision_word(outcome: str) -> str:
    return {"applied": "applied", "pending": "waiting for the buyer"}.get(outcome, f"{outcome} by the buyer")


def acknowledged(delivery: _Delivery) -> None:
    data = delivery.data
    purchase = _Purchase.of(delivery, data["po_number"])
    if purchase is None:
        return
    applied = {a["line_number"]: _earliest(a["proposed"]) for a in data["lines"] if a["outcome"] == "applied"}
    _promise_dates(delivery, purchase, applied)
    head = f"{data['po_number']} revision {data['revision']} acknowledged by the supplier ({data['status']})"
    if data["note"]:
        head += f': "{data["note"]}"'
    _append_comment(delivery, purchase, [head, *(_answer_line(a) for a in data["lines"])])


def line_changed(delivery: _Delivery) -> None:
    data = delivery.data
    purchase = _Purchase.of(delivery, data["po_number"])
    if purchase is None:
        return
    _promise_dates(delivery, purchase, {data["line_number"]: _earliest(data["after"])})
    lines = [
        f"{data['po_number']} line {data['line_number']} ({data['item_sku']}) changed: "
        f"deliveries {_schedule(data['after'])}; earliest date set on the line's moves"
    ]
    changes = _unapplied(data["before"], data["after"])
    if changes:
        lines.append(f"NOT APPLIED, change the purchase by hand: {'; '.join(changes)}")
    _append_comment(delivery, purchase, lines)


def proposal_decided(delivery: _Delivery) -> None:
    data = delivery.data
    purchase = _Purchase.of(delivery, data["po_number"])
    if purchase is None:
        return
    line = _answer_line(data)
    if data["reason"]:
        line += f'; buyer\'s reason: "{data["reason"]}"'
    lines = [f"{data['po_number']} buyer {data['decision']} the supplier's answer", line]
    if data["decision"] == "approved" and data["action"] == "reject":
        lines.append("NOT APPLIED: the line is cancelled in the portal; cancel its moves in Tryton by hand")
    _append_comment(delivery, purchase, lines)


# --- shipment notices ---------------------------------------------------------------------------------

SHIPMENT_FIELDS = ["state", "incoming_moves"]


def _mapped_party(delivery: _Delivery, supplier_code: str) -> int | None:
    supplier = Supplier.objects.filter(code=supplier_code).first()
    return mapping.tryton_id(delivery.connector, "supplier", supplier.pk) if supplier else None


def _party(delivery: _Delivery, supplier_code: str) -> int:
    party = _mapped_party(delivery, supplier_code)
    if party is None:
        raise Undeliverable(f"Supplier {supplier_code} is not mapped to a Tryton party: {MAPPING_HINT}.")
    return party


def _warehouse(delivery: _Delivery, site_code: str) -> dict[str, Any]:
    """The Tryton warehouse of the notice's site: its mapping, else the connector's default warehouse."""
    site = Site.objects.filter(code=site_code).first()
    warehouse = mapping.tryton_id(delivery.connector, "site", site.pk) if site else None
    domain: list[Any] = [("type", "=", "warehouse")]
    if warehouse is not None:
        domain.append(("id", "=", warehouse))
    elif default := (delivery.connector.config or {}).get("warehouse"):
        domain.append(("code", "=", default))
    else:
        raise Undeliverable(
            f"Site {site_code} is not mapped to a Tryton warehouse and the connector has no default warehouse: "
            f"{MAPPING_HINT}."
        )
    rows = delivery.client.search_read("stock.location", domain, ["input_location", "storage_location"], limit=1)
    if not rows:
        raise Undeliverable(f"The Tryton warehouse for site {site_code} ({domain[-1][2]}) does not exist.")
    return rows[0]


def _existing_shipment(delivery: _Delivery, party: int) -> dict[str, Any] | None:
    """The notice's shipment in Tryton, found by its reference (the ASN number); cancelled ones are history."""
    rows = delivery.client.search_read(
        "stock.shipment.in",
        [("reference", "=", delivery.data["asn_number"]), ("supplier", "=", party), ("state", "!=", "cancelled")],
        SHIPMENT_FIELDS,
        order=[("id", "DESC")],
        limit=1,
    )
    return rows[0] if rows else None


def _draft_or_refuse(delivery: _Delivery, shipment: dict[str, Any]) -> None:
    if shipment["state"] != "draft":
        raise Undeliverable(
            f"Tryton supplier shipment {shipment['id']} for ASN {delivery.data['asn_number']} is already "
            f"{shipment['state']}: the warehouse is receiving it, so it can no longer be changed."
        )


def _shipped_by_line(delivery: _Delivery) -> dict[int, Decimal] | None:
    """The shipped quantity of each Tryton purchase line on the notice; None when none of its POs came from
    this Tryton (nothing to do), an error when only some did (Tryton would get half a shipment)."""
    shipped: dict[int, Decimal] = {}
    foreign = []
    for line in delivery.data["lines"]:
        purchase = _Purchase.of(delivery, line["po_number"])
        if purchase is None:
            foreign.append(line["po_number"])
            continue
        line_id = purchase.line_id(delivery, line["line_number"])
        shipped[line_id] = shipped.get(line_id, Decimal(0)) + Decimal(line["quantity"])
    if foreign and shipped:
        raise Undeliverable(
            f"ASN {delivery.data['asn_number']} also ships POs not imported from this Tryton: "
            f"{', '.join(sorted(set(foreign)))}."
        )
    return shipped or None


def _line_moves(delivery: _Delivery, shipped: dict[int, Decimal]) -> list[int]:
    """Draft moves of each purchase line for exactly the shipped quantity, splitting a move that holds
    more (its rest stays open on the purchase line, as Tryton does after a partial receipt)."""
    open_moves = delivery.client.search_read(
        "stock.move",
        [("origin", "in", [f"purchase.line,{i}" for i in shipped]), ("state", "=", "draft"), ("shipment", "=", None)],
        ["origin", "quantity"],
        order=[("planned_date", "ASC"), ("id", "ASC")],
    )
    taken = []
    for line_id, quantity in shipped.items():
        moves = [m for m in open_moves if m["origin"] == f"purchase.line,{line_id}"]
        taken += _take(delivery, line_id, moves, quantity)
    return taken


def _take(delivery: _Delivery, line_id: int, moves: list[dict[str, Any]], quantity: Decimal) -> list[int]:
    if not moves:
        raise Undeliverable(
            f"ASN {delivery.data['asn_number']}: Tryton purchase line {line_id} has no open move left to ship against."
        )
    taken: list[int] = []
    rest = quantity
    for move in moves:
        held = Decimal(str(move["quantity"]))
        if rest <= 0:
            break
        if held > rest:
            # Shrink, then copy the rest: a failure in between leaves the rest missing only until Tryton's
            # purchase processing recreates it, where the other order would leave it twice.
            delivery.client.write("stock.move", [move["id"]], {"quantity": float(rest)})
            delivery.client.model("stock.move", "copy", [move["id"]], {"quantity": float(held - rest)})
        taken.append(move["id"])
        rest -= min(held, rest)
    if rest > 0:
        # Shipped beyond the open moves: the last one carries the excess, and Tryton's receipt shows the over-delivery.
        last = moves[-1]
        delivery.client.write("stock.move", [last["id"]], {"quantity": float(Decimal(str(last["quantity"])) + rest)})
    return taken


def _detach(delivery: _Delivery, shipment: dict[str, Any]) -> None:
    """Give the shipment's moves back to their purchase lines, open again and planned for the supplier's
    promised date again (Tryton moved them to the shipment's planned date while they were in it)."""
    if not shipment["incoming_moves"]:
        return
    delivery.client.write(
        "stock.shipment.in", [shipment["id"]], {"incoming_moves": [["remove", shipment["incoming_moves"]]]}
    )
    moves = delivery.client.read("stock.move", shipment["incoming_moves"], ["origin", "purchase"])
    by_date: dict[dt.date, list[int]] = {}
    for move in moves:
        promised = _promised_date(delivery, move["purchase"], int(str(move["origin"]).partition(",")[2]))
        if promised is not None:
            by_date.setdefault(promised, []).append(move["id"])
    for day, ids in by_date.items():
        delivery.client.write("stock.move", ids, {"planned_date": day})


def _promised_date(delivery: _Delivery, purchase_id: int | None, purchase_line_id: int) -> dt.date | None:
    """The earliest date the supplier promises for a Tryton purchase line, as the portal has it now."""
    number = mapping.line_number_of(delivery.connector, purchase_line_id)
    if purchase_id is None or number is None:
        return None
    erp_id = mapping.purchase_erp_id(purchase_id)
    line = PurchaseOrderLine.objects.filter(po__erp_id=erp_id, line_number=number).first()
    return None if line is None else min(d.date for d in current_terms(line).deliveries)


def _arrival(data: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(data["estimated_arrival"] or data["ship_date"])


def asn_submitted(delivery: _Delivery) -> None:
    data = delivery.data
    shipped = _shipped_by_line(delivery)
    if shipped is None:
        return
    party = _party(delivery, data["supplier"])
    shipment = _existing_shipment(delivery, party)
    if shipment is not None and data.get("replaces") is None:
        return  # delivered before
    warehouse = _warehouse(delivery, data["site"])
    if shipment is not None:
        _draft_or_refuse(delivery, shipment)
        _detach(delivery, shipment)
    moves = _line_moves(delivery, shipped)
    values = {
        "planned_date": _arrival(data),
        "incoming_moves": [["add", moves]],
    }
    if shipment is not None:
        delivery.client.write("stock.shipment.in", [shipment["id"]], values)
        return
    delivery.client.create(
        "stock.shipment.in",
        [
            {
                **values,
                "reference": data["asn_number"],
                "supplier": party,
                "warehouse": warehouse["id"],
                # Stored and required; the Tryton client fills them from the warehouse, RPC callers must.
                "warehouse_input": warehouse["input_location"],
                "warehouse_storage": warehouse["storage_location"],
            }
        ],
    )


def asn_cancelled(delivery: _Delivery) -> None:
    party = _mapped_party(delivery, delivery.data["supplier"])
    shipment = None if party is None else _existing_shipment(delivery, party)
    if shipment is None:
        return  # never created (not a Tryton supplier's, or refused), or cancelled before
    _draft_or_refuse(delivery, shipment)
    _detach(delivery, shipment)
    # Cancelled, not deleted: the empty shipment keeps the notice's trace in Tryton.
    delivery.client.model("stock.shipment.in", "cancel", [shipment["id"]])


HANDLERS: dict[str, Callable[[_Delivery], None]] = {
    "po.acknowledged.v1": acknowledged,
    "po.line.changed.v1": line_changed,
    "po.proposal.decided.v1": proposal_decided,
    "asn.submitted.v1": asn_submitted,
    "asn.replaced.v1": asn_submitted,
    "asn.cancelled.v1": asn_cancelled,
}
