"""Dead letters to the distributor's own connectors: one case per connector, listing its dead deliveries.

An ERP outage dead-letters hundreds of deliveries at once; they are one incident, so they make one
case (and one e-mail), keyed by the connector, not one per delivery. The case lists each delivery
it covers with its replay count (``details.deliveries``): a delivery a person's resolution covered
is not raised again until it is replayed and dies again (its replay count changes).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from django.db.models import Q
from django.utils import timezone

from exceptions.models import CaseStatus, CaseType, ExceptionCase, ResolutionCode
from exceptions.rules.base import Outcome
from exceptions.services import Concern, Finding
from planning_sync.models import Connector, Delivery
from purchasing.models import PurchaseOrder

Listed = set[tuple[int, int]]  # (delivery id, its replay count) that a case lists


def connector_key(name: str) -> str:
    return f"{CaseType.DELIVERY_DEAD}:{name}"


def listed(case: ExceptionCase) -> Listed:
    return {(int(d["id"]), int(d["replays"])) for d in case.details.get("deliveries", [])}


def written_off(key: str) -> tuple[Listed, int]:
    """What the cases of ``key`` a person resolved listed, and the latest such case's id (0 if none).

    One query, on the case type's index. Those deliveries, at those replay counts, are dealt with:
    they neither raise a case again nor keep one open.
    """
    rows = (
        ExceptionCase.objects.filter(type=CaseType.DELIVERY_DEAD, dedupe_key=key, status=CaseStatus.RESOLVED)
        .exclude(resolution_code=ResolutionCode.CLEARED)
        .values_list("pk", "details__deliveries")
    )
    pairs: Listed = set()
    latest = 0
    for pk, deliveries in rows:
        latest = max(latest, pk)
        pairs |= {(int(d["id"]), int(d["replays"])) for d in deliveries or []}
    return pairs, latest


def matching(pairs: Iterable[tuple[int, int]]) -> Q:
    """Deliveries that are one of ``pairs``: the same id at the same replay count."""
    by_replays: dict[int, list[int]] = defaultdict(list)
    for pk, replays in pairs:
        by_replays[replays].append(pk)
    condition = Q(pk__in=[])
    for replays, ids in by_replays.items():
        condition |= Q(pk__in=ids, replays=replays)
    return condition


def connector_outcome(connector: Connector, deliveries: Sequence[Delivery], *, episode: str) -> Outcome:
    """One finding for the connector's dead deliveries (and those of its case replayed but not yet delivered)."""
    if not deliveries:
        return f"No delivery to {connector.name} is dead any more: they were delivered after a replay."
    ordered = sorted(deliveries, key=lambda d: (d.created_at, d.pk))
    oldest, newest = ordered[0], ordered[-1]
    dead = [d for d in ordered if d.status == Delivery.Status.DEAD]
    latest_dead = dead[-1] if dead else newest
    types = Counter(d.event.type.removeprefix("supplyline.").removesuffix(".v1") for d in ordered)
    po, supplier, assignee = _owner(ordered)
    if len(ordered) == 1:
        event = oldest.event
        title = f"Sync to {connector.name} failed: {next(iter(types))} {event.subject}"
    else:
        title = f"Sync to {connector.name} failed: {len(ordered)} events"
    replaying = len(ordered) - len(dead)
    summary = (
        f"{len(ordered)} event{'s' if len(ordered) != 1 else ''} did not reach {connector.name} "
        f"({', '.join(f'{n} {t}' for t, n in types.most_common())}), the first on "
        f"{timezone.localtime(oldest.created_at):%Y-%m-%d %H:%M}, "
        f"the last on {timezone.localtime(newest.created_at):%Y-%m-%d %H:%M}"
        + (f"; {replaying} of them replayed and not yet delivered" if replaying else "")
        + f". Last error: {latest_dead.last_error[:300] or 'none recorded'}. Replay them once the cause is fixed."
    )
    return Finding(
        type=CaseType.DELIVERY_DEAD,
        key=connector_key(connector.name),
        title=title,
        summary=summary,
        # The oldest delivery, to replay from the case; a PO's buyer owns it when every event is about POs of one buyer.
        concern=Concern(supplier=supplier, po=po, delivery=oldest),
        assignee=assignee,
        details={
            "episode": episode,
            "connector": connector.name,
            "count": str(len(ordered)),
            "dead": str(len(dead)),
            "first_at": oldest.created_at.isoformat(),
            "last_at": newest.created_at.isoformat(),
            "event_types": {t: str(n) for t, n in types.most_common()},
            "last_error": latest_dead.last_error[:500],
            "last_status_code": str(latest_dead.last_status_code or ""),
            "deliveries": [{"id": str(d.pk), "replays": str(d.replays)} for d in ordered],
        },
    )


def _owner(deliveries: Sequence[Delivery]) -> tuple[int | None, int | None, int | None]:
    """(PO, supplier, buyer) the case concerns: the one PO, and the one buyer of the POs, when all events name POs.

    Events about no PO (a notice, an item) go to nobody, so no supplier's buyer is chosen for them.
    """
    if any(d.event.subject_type != "purchase_order" for d in deliveries):
        return None, None, None
    rows = list(
        PurchaseOrder.objects.filter(number__in={d.event.subject for d in deliveries}).values_list(
            "pk", "supplier_id", "buyer_id"
        )
    )
    if not rows:
        return None, None, None
    buyers = {buyer for _, _, buyer in rows}
    buyer = next(iter(buyers)) if len(buyers) == 1 else None
    if len(rows) == 1:
        return rows[0][0], rows[0][1], buyer
    return None, None, buyer
