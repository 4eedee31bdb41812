"""Each rule's thresholds and SLA, from the built-in defaults and the admin's overrides."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db.models import Q

from exceptions.models import CaseType, RuleSetting, Severity


@dataclass(frozen=True)
class Rule:
    """What a rule fires on and how urgent its cases are. ``threshold`` means what DESCRIPTIONS says."""

    is_enabled: bool
    severity: int
    sla_hours: int
    threshold: Decimal
    grace_days: int


DEFAULTS: dict[str, Rule] = {
    CaseType.ACK_OVERDUE: Rule(True, Severity.MEDIUM, 24, Decimal(0), 0),
    CaseType.PROPOSAL_OVERDUE: Rule(True, Severity.MEDIUM, 24, Decimal(24), 0),
    CaseType.PROMISE_AFTER_NEED: Rule(True, Severity.HIGH, 24, Decimal(0), 0),
    CaseType.QUANTITY_SHORT: Rule(True, Severity.MEDIUM, 48, Decimal(0), 0),
    CaseType.PRICE_OUT_OF_TOLERANCE: Rule(True, Severity.MEDIUM, 48, Decimal(0), 0),
    CaseType.ASN_LATE: Rule(True, Severity.HIGH, 24, Decimal(0), 1),
    CaseType.ASN_MISMATCH: Rule(True, Severity.MEDIUM, 24, Decimal(0), 0),
    CaseType.SHIPMENT_NOT_RECEIVED: Rule(True, Severity.HIGH, 24, Decimal(0), 2),
    CaseType.DELIVERY_DEAD: Rule(True, Severity.CRITICAL, 4, Decimal(0), 0),
    CaseType.SUPPLY_RISK: Rule(True, Severity.HIGH, 8, Decimal(0), 0),
    CaseType.ERP_MANUAL_CHANGE: Rule(True, Severity.MEDIUM, 24, Decimal(0), 0),
    CaseType.COMPLIANCE_EXPIRED: Rule(True, Severity.HIGH, 72, Decimal(0), 0),
    CaseType.TERMS_PROPOSAL_OVERDUE: Rule(True, Severity.LOW, 48, Decimal(48), 0),
}

# What each rule checks and what its threshold and grace days mean (shown in the admin and the docs).
DESCRIPTIONS: dict[str, str] = {
    CaseType.ACK_OVERDUE: "A PO's acknowledgement deadline passed without an answer. Grace days: days after the "
    "deadline before a case opens.",
    CaseType.PROPOSAL_OVERDUE: "A supplier's proposal has waited for a buyer's decision longer than the threshold, "
    "in hours.",
    CaseType.PROMISE_AFTER_NEED: "A line's promised date is later than its need-by date by more than the threshold, "
    "in days.",
    CaseType.QUANTITY_SHORT: "A supplier rejected a line, or offers less than the ordered quantity by more than "
    "the threshold, in percent (a cut within the supplier's quantity tolerance is applied without a buyer).",
    CaseType.PRICE_OUT_OF_TOLERANCE: "A supplier asked for a price beyond the supplier's price tolerance by more than "
    "the threshold, in percentage points.",
    CaseType.ASN_LATE: "A schedule line's promised date passed by more than the grace days with no shipment notice "
    "covering it.",
    CaseType.ASN_MISMATCH: "A shipment notice ships more or less of a line than is due, by more than the threshold, "
    "in percent.",
    CaseType.SHIPMENT_NOT_RECEIVED: "A shipment notice is not received by its estimated arrival plus the grace days.",
    CaseType.DELIVERY_DEAD: "Deliveries to the ERP or the planning system stopped retrying (dead letters): one case "
    "per connector, listing them.",
    CaseType.SUPPLY_RISK: "The projected balance of an item at a site falls below safety stock or zero because of "
    "a change. Threshold: the shortfall, in units, below which no case opens.",
    CaseType.ERP_MANUAL_CHANGE: "A quantity or price change (or an approved rejection) took effect in the portal on a "
    "PO that an ERP holds and that cannot take it on a confirmed order (Tryton): the buyer makes it there by hand.",
    CaseType.COMPLIANCE_EXPIRED: "A supplier's required compliance document (a certificate, a declaration) expired "
    "and no valid approved replacement is on file; the case clears itself once one is approved.",
    CaseType.TERMS_PROPOSAL_OVERDUE: "A supplier's proposed lead time or minimum order quantity for an item has waited "
    "for a buyer's decision longer than the threshold, in hours.",
}

FIELDS = ("is_enabled", "severity", "sla_hours", "threshold", "grace_days")


def rule_for(rule: str, *, supplier_id: int | None = None, site_id: int | None = None) -> Rule:
    """The effective settings of ``rule`` for a supplier and site: one query."""
    return effective(rule, setting_rows(supplier_id=supplier_id, site_id=site_id, rules=[rule]))


def setting_rows(
    *, supplier_id: int | None, site_id: int | None, rules: list[str] | None = None
) -> list[dict[str, Any]]:
    """The admin's rows that apply to a supplier and site, of ``rules`` (None: every rule), in one query."""
    scope = Q(supplier__isnull=True) | Q(supplier_id=supplier_id)
    scope &= Q(site__isnull=True) | Q(site_id=site_id)
    rows = RuleSetting.objects.filter(scope).order_by()  # ordered below, without the admin's joins
    if rules is not None:
        rows = rows.filter(rule__in=rules)
    return list(rows.values("rule", "supplier_id", "site_id", *FIELDS))


def effective(rule: str, rows: list[dict[str, Any]]) -> Rule:
    """``rule``'s defaults overridden by its ``rows``, from the least specific to the most, each row setting
    the fields it sets: default (no supplier, no site) < site < supplier < both."""
    ordered = sorted(
        (row for row in rows if row["rule"] == rule),
        key=lambda r: (r["supplier_id"] is not None, r["site_id"] is not None),
    )
    result = DEFAULTS[rule]
    for row in ordered:
        result = replace(result, **{name: row[name] for name in FIELDS if row[name] is not None})
    return result
