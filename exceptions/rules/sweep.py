"""The periodic sweep: what time alone makes true, and cases whose condition went away unseen."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator

from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from exceptions.models import CaseType, ExceptionCase
from exceptions.rules.base import BATCH, COMMITTED, PENDING, Outcome, Rules, apply_outcomes
from exceptions.rules.deliveries import connector_key, connector_outcome, listed, matching, written_off
from exceptions.rules.orders import ack_outcomes, line_outcomes, lines_of
from exceptions.rules.shipments import not_received_outcome, notice_key
from exceptions.services import Concern, Finding, case_alert, case_clear, cases_clear_except
from planning_sync.models import Connector, Delivery
from purchasing.models import PurchaseOrder, PurchaseOrderLine, ShipmentLine, ShipmentNotice, ShipmentStatus
from suppliers.models import TermsProposal
from suppliers.self_service import terms_case_key

logger = logging.getLogger("supplyline.exceptions")


def _batches[M: Model](queryset: QuerySet[M], size: int = BATCH) -> Iterator[list[M]]:
    """Keyset batches in primary-key order: bounded memory, and rows inserted meanwhile are not skipped."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk")[:size])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def _raise_batches[M: Model](
    ids: QuerySet[M], load: Callable[[list[int]], list[M]], evaluate: Callable[[list[M]], dict[str, Outcome]]
) -> list[ExceptionCase]:
    """Evaluate the candidates batch by batch, each batch in its own transaction; returns the cases opened."""
    opened: list[ExceptionCase] = []
    for batch in _batches(ids.only("pk")):
        with transaction.atomic():
            opened += apply_outcomes(evaluate(load([row.pk for row in batch])))
    return opened


def _recheck[M: Model](
    type: str, subject: str, load: Callable[[list[int]], list[M]], evaluate: Callable[[list[M]], dict[str, Outcome]]
) -> int:
    """Clear the unresolved cases of ``type`` whose condition no longer holds; returns how many cleared.

    Only clears: what still holds was raised or updated by the candidates' pass. A case whose
    subject is gone (its foreign key was nulled) clears too.
    """
    cleared = 0
    open_cases = ExceptionCase.objects.unresolved().filter(type=type).only("pk", "dedupe_key", f"{subject}_id")
    for cases in _batches(open_cases):
        ids = [pk for case in cases if (pk := getattr(case, f"{subject}_id")) is not None]
        outcomes = evaluate(load(ids))
        clears: dict[str, Outcome] = {}
        for case in cases:
            outcome = outcomes.get(case.dedupe_key)
            if getattr(case, f"{subject}_id") is None:
                clears[case.dedupe_key] = f"What the case was about ({subject.replace('_', ' ')}) no longer exists."
            elif isinstance(outcome, str):
                clears[case.dedupe_key] = outcome
        with transaction.atomic():
            apply_outcomes(clears)
        cleared += len(clears)
    return cleared


def sweep_ack_overdue(now: dt.datetime) -> tuple[int, int]:
    rules = Rules()

    def load(ids: list[int]) -> list[PurchaseOrder]:
        return list(PurchaseOrder.objects.select_related("supplier").filter(pk__in=ids))

    def evaluate(pos: list[PurchaseOrder]) -> dict[str, Outcome]:
        return ack_outcomes(pos, rules, now)

    # Awaiting and past the deadline: po_status_ack_due_idx. Each PO's grace days are applied in ack_outcomes.
    overdue = PurchaseOrder.objects.awaiting_acknowledgement().filter(acknowledgement_due__lte=now)
    opened = _raise_batches(overdue, load, evaluate)
    return len(opened), _recheck(CaseType.ACK_OVERDUE, "po", load, evaluate)


def _line_sweep(type: str, candidates: Q, now: dt.datetime) -> tuple[int, int]:
    rules = Rules()
    today = timezone.localdate(now)

    def load(ids: list[int]) -> list[PurchaseOrderLine]:
        return lines_of(PurchaseOrderLine.objects.filter(pk__in=ids))

    def evaluate(lines: list[PurchaseOrderLine]) -> dict[str, Outcome]:
        return {k: v for k, v in line_outcomes(lines, rules, now, today).items() if k.startswith(f"{type}:")}

    ids = PurchaseOrderLine.objects.filter(pk__in=PurchaseOrderLine.objects.filter(candidates).values("pk"))
    opened = _raise_batches(ids, load, evaluate)
    return len(opened), _recheck(type, "po_line", load, evaluate)


def sweep_proposal_overdue(now: dt.datetime) -> tuple[int, int]:
    # Lines with a pending answer: ack_line_outcome_idx. Each line's threshold is applied in the line rules (orders.py).
    return _line_sweep(CaseType.PROPOSAL_OVERDUE, Q(answers__outcome=PENDING), now)


def sweep_asn_late(now: dt.datetime) -> tuple[int, int]:
    # Committed lines with a promised date passed; each line's grace days are applied in asn_late_outcome.
    promised = Q(status__in=COMMITTED, schedule_lines__promised_date__lt=timezone.localdate(now))
    return _line_sweep(CaseType.ASN_LATE, promised, now)


def sweep_not_received(now: dt.datetime) -> tuple[int, int]:
    rules = Rules()
    today = timezone.localdate(now)

    def load(ids: list[int]) -> list[ShipmentNotice]:
        return list(ShipmentNotice.objects.select_related("supplier").filter(pk__in=ids))

    def evaluate(notices: list[ShipmentNotice]) -> dict[str, Outcome]:
        pos_of: dict[int, dict[int, PurchaseOrder]] = defaultdict(dict)
        for entry in ShipmentLine.objects.filter(shipment__in=notices).select_related("po_line__po"):
            pos_of[entry.shipment_id][entry.po_line.po_id] = entry.po_line.po
        return {
            notice_key(CaseType.SHIPMENT_NOT_RECEIVED, n): not_received_outcome(
                n, list(pos_of[n.pk].values()), rules(CaseType.SHIPMENT_NOT_RECEIVED, n.supplier_id, n.site_id), today
            )
            for n in notices
            # A replaced notice's key is its replacement's, evaluated when the replacement was sent.
            if n.status != ShipmentStatus.REPLACED
        }

    expected = Coalesce("estimated_arrival", "ship_date")
    late = ShipmentNotice.objects.filter(status__in=ShipmentNotice.CHANGEABLE_STATUSES).alias(expected=expected)
    opened = _raise_batches(late.filter(expected__lt=today), load, evaluate)
    return len(opened), _recheck(CaseType.SHIPMENT_NOT_RECEIVED, "shipment", load, evaluate)


GONE_NOTE = "No connector of the distributor has this name any more (dead deliveries are one case per connector)."


def sweep_dead_deliveries(now: dt.datetime) -> tuple[int, int]:
    """Dead letters to the distributor's own connectors (not suppliers' webhooks): one case per connector.

    A connector with no unresolved case costs two small queries: what a person's resolutions
    already covered, and whether any dead delivery is not among it (delivery_monitor_idx:
    connector, status); only then are its dead deliveries read. A connector with an unresolved case
    is read each time, to see what was delivered after a replay. The assignee is e-mailed once,
    when the case opens (``apply_outcomes`` counts only the cases this sweep created).
    """
    opened: list[ExceptionCase] = []
    cleared = 0
    keys: set[str] = set()
    for connector in Connector.objects.filter(supplier__isnull=True).only("pk", "name"):
        key = connector_key(connector.name)
        keys.add(key)
        with transaction.atomic():
            open_case = ExceptionCase.objects.unresolved().filter(dedupe_key=key).first()
            judged, latest = written_off(key)
            wanted = Q(connector=connector, status=Delivery.Status.DEAD) & ~matching(judged)
            if open_case is None:
                if not Delivery.objects.filter(wanted).exists():
                    continue
            else:
                # The open case's deliveries count until delivered: replayed and pending, they still need watching.
                listed_ids = [pk for pk, _ in listed(open_case)]
                wanted |= Q(pk__in=listed_ids) & ~Q(status=Delivery.Status.DELIVERED)
            deliveries = list(Delivery.objects.filter(wanted).select_related("event"))
            outcome = connector_outcome(connector, deliveries, episode=f"after:{latest}")
            opened += apply_outcomes({key: outcome})
            cleared += isinstance(outcome, str) and open_case is not None
    # Cases of a connector that is gone, renamed or now a supplier's (and any left from one case per delivery).
    gone = ExceptionCase.objects.unresolved().filter(type=CaseType.DELIVERY_DEAD).exclude(dedupe_key__in=keys)
    for key in list(gone.values_list("dedupe_key", flat=True)):
        cleared += case_clear(key, note=GONE_NOTE) is not None
    for case in opened:
        case_alert(case, reason=case.summary)
    return len(opened), cleared


TERMS_PREFIX = f"{CaseType.TERMS_PROPOSAL_OVERDUE}:"


def terms_key(proposal: TermsProposal) -> str:
    return terms_case_key(proposal.supplier.code, proposal.pk)


def terms_outcome(proposal: TermsProposal, rules: Rules, now: dt.datetime) -> Outcome:
    rule = rules(CaseType.TERMS_PROPOSAL_OVERDUE, proposal.supplier_id, None)
    name = f"{proposal.supplier.code}'s proposed terms for {proposal.supplier_item.item.sku}"
    if now < proposal.submitted_at + dt.timedelta(hours=float(rule.threshold)):
        return f"{name} have waited less than {rule.threshold.normalize():f} hours."
    return Finding(
        type=CaseType.TERMS_PROPOSAL_OVERDUE,
        key=terms_key(proposal),
        title=f"{proposal.supplier.code} {proposal.supplier_item.item.sku}: item terms awaiting review",
        summary=f"{name}, sent {proposal.submitted_at.isoformat(timespec='minutes')}, have waited for a buyer's "
        f"decision longer than {rule.threshold.normalize():f} hours.",
        concern=Concern(supplier=proposal.supplier_id, item=proposal.supplier_item.item_id),
        details={"episode": f"terms:{proposal.pk}", "proposal": str(proposal.pk)},
    )


def sweep_terms_proposal_overdue(now: dt.datetime) -> tuple[int, int]:
    """Item terms pending a buyer too long (terms_review_idx: status, submitted_at); decided ones clear."""
    rules = Rules()
    opened: list[ExceptionCase] = []
    keys: list[str] = []
    pending = TermsProposal.objects.pending().select_related("supplier", "supplier_item__item")
    for batch in _batches(pending):
        keys += [terms_key(p) for p in batch]
        with transaction.atomic():
            opened += apply_outcomes({terms_key(p): terms_outcome(p, rules, now) for p in batch})
    cleared = cases_clear_except(
        type=CaseType.TERMS_PROPOSAL_OVERDUE,
        prefix=TERMS_PREFIX,
        keep=keys,
        note="The buyer decided on the proposed terms.",
    )
    return len(opened), len(cleared)


SWEEPS: dict[str, Callable[[dt.datetime], tuple[int, int]]] = {
    CaseType.ACK_OVERDUE: sweep_ack_overdue,
    CaseType.PROPOSAL_OVERDUE: sweep_proposal_overdue,
    CaseType.ASN_LATE: sweep_asn_late,
    CaseType.SHIPMENT_NOT_RECEIVED: sweep_not_received,
    CaseType.DELIVERY_DEAD: sweep_dead_deliveries,
    CaseType.TERMS_PROPOSAL_OVERDUE: sweep_terms_proposal_overdue,
}


def rules_sweep(*, now: dt.datetime | None = None) -> dict[str, tuple[int, int]]:
    """Run every time-driven rule: (cases opened, cases cleared) per rule. Safe to run at any time, twice at once.

    Each batch is its own transaction, so a long sweep holds no lock for long and a crash loses
    at most one batch, which the next run redoes.
    """
    now = now or timezone.now()
    results = {rule: sweep(now) for rule, sweep in SWEEPS.items()}
    logger.info("exception rules swept", extra={"results": {k: list(v) for k, v in results.items()}})
    return results
