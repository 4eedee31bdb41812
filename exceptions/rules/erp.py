"""A supplier's change the ERP cannot take by itself: the buyer must make it there by hand.

Some ERPs refuse a quantity or price change on a confirmed order (Tryton does: see
docs/connectors/tryton.md). When such a change takes effect in the portal (a change within
tolerance, or a buyer's approval), or a buyer approves a supplier's rejection, and a connector that
holds the PO cannot apply it, a case asks the PO's buyer to change the ERP's order by hand. The
portal cannot see the ERP's order, so the buyer resolves the case once it is done; it clears by
itself only when the line or the PO is cancelled.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exceptions.handlers import Envelope, handles
from exceptions.models import CaseType
from exceptions.rules.base import Outcome, apply_outcomes, line_concern
from exceptions.services import Finding
from planning_sync.connectors.base import connectors_needing_manual_changes
from purchasing.models import LineStatus, PurchaseOrder, PurchaseOrderLine
from purchasing.rules import decimal_text


def manual_key(connector: str, line: PurchaseOrderLine) -> str:
    return f"{CaseType.ERP_MANUAL_CHANGE}:{connector}:{line.po.number}:{line.line_number}"


@handles("po.line.changed", "po.proposal.decided")
def on_line_change(envelope: Envelope) -> None:
    """Raise a case per connector that holds the PO but cannot apply what just took effect."""
    data = envelope["data"]
    wanted = _what_changed(envelope["type"], data)
    if not wanted:
        return
    line = (
        PurchaseOrderLine.objects.select_related("po__supplier", "item")
        .filter(po__number=data["po_number"], line_number=data["line_number"])
        .first()
    )
    if line is None:
        return
    connectors = [c.name for c in connectors_needing_manual_changes(line.po)]
    apply_outcomes({manual_key(name, line): _finding(name, line, wanted, envelope) for name in connectors})


@handles("po.revised", "po.cancelled")
def on_revision(envelope: Envelope) -> None:
    """A cancelled line or PO needs no change any more: its cases clear."""
    po = PurchaseOrder.objects.filter(number=envelope["data"]["po_number"]).first()
    if po is None:
        return
    outcomes: dict[str, Outcome] = {
        manual_key(connector.name, line): f"Line {line.line_number} of {po.number} is cancelled."
        for connector in connectors_needing_manual_changes(po)
        for line in po.lines.select_related("po").filter(status=LineStatus.CANCELLED)
    }
    apply_outcomes(outcomes)


def _what_changed(event_type: str, data: dict[str, Any]) -> dict[str, str]:
    """What the ERP must be told by hand: the new quantity and price, or that the line is cancelled."""
    if event_type.endswith("po.proposal.decided.v1"):
        if data["decision"] == "approved" and data["action"] == "reject":
            return {"cancel": "true"}
        return {}
    before, after = data["before"], data["after"]
    return {
        field: decimal_text(Decimal(after[field]))
        for field in ("quantity", "unit_price")
        if Decimal(before[field]) != Decimal(after[field])
    }


def _finding(connector: str, line: PurchaseOrderLine, wanted: dict[str, str], envelope: Envelope) -> Finding:
    po = line.po
    if "cancel" in wanted:
        what = "cancel the line"
    else:
        what = " and ".join(f"set the {field.replace('_', ' ')} to {value}" for field, value in wanted.items())
    return Finding(
        type=CaseType.ERP_MANUAL_CHANGE,
        key=manual_key(connector, line),
        title=f"{po.number} line {line.line_number}: change it in {connector} by hand",
        summary=f"{po.number} line {line.line_number} ({line.item.sku}) changed in the portal, but {connector} "
        f"cannot take the change on a confirmed order: {what} there.",
        concern=line_concern(line),
        details={"episode": envelope["id"], "connector": connector, "wanted": wanted, "event_id": envelope["id"]},
    )
