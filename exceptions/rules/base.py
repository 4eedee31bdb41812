"""What every rule shares: outcomes, memoized settings, raising and clearing by key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db.models import Q

from exceptions.models import CaseStatus, ExceptionCase, ResolutionCode
from exceptions.services import Concern, Finding, case_clear, case_raise_created
from exceptions.thresholds import Rule, effective, setting_rows
from purchasing.models import AcknowledgementLine, LineStatus, PurchaseOrderLine
from purchasing.rules import decimal_text

Outcome = Finding | str  # a finding, or why the condition does not hold
BATCH = 500
PENDING = AcknowledgementLine.Outcome.PENDING
# Lines whose delivery the supplier committed to and that still have something to ship.
COMMITTED = (LineStatus.ACKNOWLEDGED, LineStatus.PARTIALLY_SHIPPED)
FINISHED = (LineStatus.RECEIVED, LineStatus.CLOSED, LineStatus.CANCELLED)


class Rules:
    """Each rule's effective settings, memoized per supplier and site: one query per scope in a batch or event,
    for every rule at once (an event asks for several rules of the same supplier and site)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[int | None, int | None], list[dict[str, Any]]] = {}
        self._memo: dict[tuple[str, int | None, int | None], Rule] = {}

    def __call__(self, rule: str, supplier_id: int | None, site_id: int | None) -> Rule:
        scope = (rule, supplier_id, site_id)
        if scope not in self._memo:
            if (supplier_id, site_id) not in self._rows:
                self._rows[(supplier_id, site_id)] = setting_rows(supplier_id=supplier_id, site_id=site_id)
            self._memo[scope] = effective(rule, self._rows[(supplier_id, site_id)])
        return self._memo[scope]


def apply_outcomes(outcomes: Mapping[str, Outcome]) -> list[ExceptionCase]:
    """Raise every finding and clear every key that no longer holds. Returns the cases this call opened.

    A case another worker opened meanwhile (two sweeps at once) is updated, not counted as opened,
    so a caller alerting on opened cases alerts once.

    Constant queries besides each raise and clear: which keys are unresolved (the partial unique
    index) and which were resolved by a person for the same episode.
    """
    if not outcomes:
        return []
    unresolved = set(
        ExceptionCase.objects.unresolved().filter(dedupe_key__in=list(outcomes)).values_list("dedupe_key", flat=True)
    )
    findings = [o for o in outcomes.values() if isinstance(o, Finding)]
    judged = _judged([f for f in findings if f.key not in unresolved])
    opened: list[ExceptionCase] = []
    for finding in findings:
        if (finding.key, finding.details.get("episode")) in judged:
            continue
        case, created = case_raise_created(finding)
        if created and case is not None:
            opened.append(case)
    for key, outcome in outcomes.items():
        if isinstance(outcome, str) and key in unresolved:
            case_clear(key, note=outcome)
    return opened


def _judged(findings: Sequence[Finding]) -> set[tuple[str, Any]]:
    """(key, episode) of the cases a person resolved among these findings' keys.

    Looked up through the concern's indexed foreign keys, since only unresolved keys are indexed.
    """
    if not findings:
        return set()
    anchors = Q()
    for name in ("po_line", "shipment", "delivery", "po"):
        ids = {pk for f in findings if (pk := _pk(getattr(f.concern, name))) is not None}
        if ids:
            anchors |= Q(**{f"{name}_id__in": ids})
    rows = (
        ExceptionCase.objects.filter(anchors, dedupe_key__in=[f.key for f in findings], status=CaseStatus.RESOLVED)
        .exclude(resolution_code=ResolutionCode.CLEARED)
        .values_list("dedupe_key", "details__episode")
    )
    return set(rows)


def _pk(value: Any) -> int | None:
    return value if value is None or isinstance(value, int) else value.pk


def day(value: dt.date) -> str:
    return value.isoformat()


def pct(value: Decimal) -> str:
    return decimal_text(value.quantize(Decimal("0.1")))


def line_concern(line: PurchaseOrderLine) -> Concern:
    po = line.po
    return Concern(supplier=po.supplier_id, po=po, po_line=line, item=line.item_id, site=po.site_id)
