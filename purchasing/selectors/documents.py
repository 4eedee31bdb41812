"""Reads of B2B documents and of the expected receipts."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404

from purchasing.models import (
    InboundDocument,
    LineStatus,
    OutboundDocument,
    PurchaseOrderLine,
    ScheduleLine,
    ShipmentLine,
    ShipmentNotice,
    ShipmentStatus,
    Site,
)
from purchasing.rules import Delivery
from purchasing.services import current_terms
from suppliers.models import Supplier, SupplierMembership, User, is_buyer

# Roles that may send documents from the portal; viewers only look.
UPLOADING_ROLES = SupplierMembership.SHIPPING_ROLES


def _visible_documents(user: User | AnonymousUser) -> QuerySet[InboundDocument]:
    documents = InboundDocument.objects.select_related("supplier")
    if is_buyer(user):
        return documents
    return documents.filter(supplier_id__in=SupplierMembership.objects.supplier_ids_of(user))


def inbound_document_list(*, user: User | AnonymousUser) -> QuerySet[InboundDocument]:
    """Documents the user may see (buyers: every supplier's), without their content (up to megabytes each)."""
    return _visible_documents(user).defer("content")


def inbound_document_get(*, user: User | AnonymousUser, pk: int, with_content: bool = False) -> InboundDocument:
    """One document the user may see, or 404; its bytes only when asked for."""
    documents = _visible_documents(user).select_related("received_by")
    try:
        return (documents if with_content else documents.defer("content")).get(pk=pk)
    except InboundDocument.DoesNotExist:
        raise Http404("No such document.") from None


def outbound_document_get(*, user: User | AnonymousUser, pk: int) -> OutboundDocument:
    """A document we sent (a functional acknowledgement, a PO) to one of the user's suppliers, or 404."""
    documents = OutboundDocument.objects.select_related("supplier")
    if not is_buyer(user):
        documents = documents.filter(supplier_id__in=SupplierMembership.objects.supplier_ids_of(user))
    try:
        return documents.get(pk=pk)
    except OutboundDocument.DoesNotExist:
        raise Http404("No such document.") from None


def document_replies(*, document: InboundDocument) -> list[OutboundDocument]:
    """What we answered a document with (997, CONTRL), oldest first, without the content."""
    return list(document.replies.defer("content").order_by("created_at", "id"))


def document_upload_suppliers(*, user: User) -> QuerySet[Supplier]:
    """The active supplier, when the user's role there may upload documents; buyers upload for none."""
    if is_buyer(user):
        return Supplier.objects.none()
    memberships = SupplierMembership.objects.acting(user).filter(role__in=UPLOADING_ROLES)
    return Supplier.objects.filter(pk__in=memberships.values("supplier_id")).order_by("code")


@dataclass(frozen=True)
class CreatedShipment:
    number: str
    pk: int | None  # None: no notice of that number is found; the number is still shown


@dataclass(frozen=True)
class CreatedAcknowledgement:
    po_number: str
    revision: int | None


def document_created(*, document: InboundDocument) -> tuple[list[CreatedShipment], list[CreatedAcknowledgement]]:
    """What a document created, for links: its shipment notices (looked up by supplier and number, preferring
    the notice this document created over a later replacement) and the POs it acknowledged."""
    numbers = [str(number) for number in document.outcome.get("shipments", [])]
    found: dict[str, ShipmentNotice] = {}
    notices = ShipmentNotice.objects.filter(supplier_id=document.supplier_id, number__in=numbers)
    for notice in notices.only("id", "number", "document_id").order_by("-id"):
        current = found.get(notice.number)
        if current is None or (notice.document_id == document.pk and current.document_id != document.pk):
            found[notice.number] = notice
    shipments = [CreatedShipment(n, found[n].pk if n in found else None) for n in numbers]
    acknowledgements = [
        CreatedAcknowledgement(str(answer.get("po_number", "")), answer.get("revision"))
        for answer in document.outcome.get("acknowledgements", [])
    ]
    return shipments, acknowledgements


# Lines still to be shipped (and so to arrive); notices on their way (received and closed ones have arrived).
EXPECTED_LINE_STATUSES = (LineStatus.ACKNOWLEDGED, LineStatus.PARTIALLY_SHIPPED)
EXPECTED_NOTICE_STATUSES = (ShipmentStatus.SUBMITTED, ShipmentStatus.IN_TRANSIT)


@dataclass(frozen=True)
class DueDelivery:
    """A promised delivery the supplier has not shipped (in full) yet."""

    line: PurchaseOrderLine
    promised_date: dt.date
    quantity: Decimal  # as promised
    open_quantity: Decimal  # promised, less what shipped or arrived already


@dataclass(frozen=True)
class NoticeLine:
    """What one shipment notice ships of one PO line, against the line's schedule and ordered quantity."""

    line: PurchaseOrderLine
    quantity: Decimal
    # Due on the notice's arrival day by the line's schedule, less what notices before it bring; None: nothing due.
    scheduled: Decimal | None
    promised_date: dt.date | None  # of the first delivery this shipment fulfils; None: all of it beyond the order
    beyond_ordered: Decimal  # of this quantity, what goes beyond the ordered quantity (with earlier notices)
    arrives: dt.date

    @property
    def schedule_variance(self) -> Decimal:
        """Shipped minus due that day: positive is over, negative short; 0 when nothing was due or it matches."""
        return Decimal(0) if self.scheduled is None else self.quantity - self.scheduled

    @property
    def short_by(self) -> Decimal:
        return max(Decimal(0), -self.schedule_variance)

    @property
    def over_by(self) -> Decimal:
        return max(Decimal(0), self.schedule_variance)

    @property
    def days_late(self) -> int:
        """Days the arrival is after the promised date of what it ships."""
        if self.promised_date is None or self.arrives <= self.promised_date:
            return 0
        return (self.arrives - self.promised_date).days


@dataclass(frozen=True)
class ExpectedNotice:
    notice: ShipmentNotice
    arrives: dt.date  # the estimated arrival, or the ship date when the notice gives none
    lines: list[NoticeLine]
    overdue: bool  # the arrival date passed and nothing was received

    @property
    def is_late(self) -> bool:
        return self.overdue or any(line.days_late for line in self.lines)

    @property
    def has_variance(self) -> bool:
        return any(line.schedule_variance or line.beyond_ordered for line in self.lines)

    @property
    def quantity(self) -> Decimal:
        return sum((line.quantity for line in self.lines), Decimal(0))


@dataclass
class ExpectedDay:
    day: dt.date
    notices: list[ExpectedNotice] = field(default_factory=list)
    deliveries: list[DueDelivery] = field(default_factory=list)

    @property
    def shipped_quantity(self) -> Decimal:
        return sum((notice.quantity for notice in self.notices), Decimal(0))

    @property
    def due_quantity(self) -> Decimal:
        return sum((delivery.open_quantity for delivery in self.deliveries), Decimal(0))

    @property
    def flagged(self) -> int:
        """Notices that are late or differ from the schedule or order."""
        return sum(1 for notice in self.notices if notice.is_late or notice.has_variance)


@dataclass
class ExpectedSite:
    site: Site
    days: dict[dt.date, ExpectedDay] = field(default_factory=dict)
    overdue: list[ExpectedNotice] = field(default_factory=list)  # expected before the range, not received

    def day(self, day: dt.date) -> ExpectedDay:
        return self.days.setdefault(day, ExpectedDay(day))

    @property
    def days_in_order(self) -> list[ExpectedDay]:
        return [self.days[day] for day in sorted(self.days)]


def expected_receipts(
    *, sites: list[Site], start: dt.date, end: dt.date, today: dt.date, overdue: bool = True
) -> list[ExpectedSite]:
    """What is coming to each site by day from ``start`` to ``end``: the shipment notices on their way (by
    estimated arrival, else ship date) and the promised deliveries not shipped yet (by promised date).

    With ``overdue``, notices whose arrival date passed before the range and that nothing was received
    against are listed per site too. A constant number of queries, however many rows.
    """
    by_site = {site.pk: ExpectedSite(site) for site in sites}
    for delivery in _due_deliveries(list(by_site), start, end):
        by_site[delivery.line.po.site_id].day(delivery.promised_date).deliveries.append(delivery)
    cutoff = min(start, today) if overdue else None
    for expected in _expected_notices(list(by_site), start, end, today, cutoff):
        group = by_site[expected.notice.site_id]
        if expected.arrives < start:
            group.overdue.append(expected)
        else:
            group.day(expected.arrives).notices.append(expected)
    return [by_site[site.pk] for site in sites]


def _due_deliveries(site_ids: list[int], start: dt.date, end: dt.date) -> list[DueDelivery]:
    promised_in_range = ScheduleLine.objects.filter(line=OuterRef("pk"), promised_date__range=(start, end))
    lines = (
        PurchaseOrderLine.objects.filter(status__in=EXPECTED_LINE_STATUSES, po__site_id__in=site_ids)
        .filter(Exists(promised_in_range) | Q(need_by_date__range=(start, end)))
        .select_related("po__supplier", "item")
        .prefetch_related("schedule_lines")
        .order_by("po__supplier__code", "po__number", "line_number")
    )
    due: list[DueDelivery] = []
    for line in lines:
        # Goods that arrived without a notice count as shipped too.
        covered = max(line.shipped_quantity, line.received_quantity)
        for delivery, still_open in _unfulfilled(_deliveries(line), covered):
            if start <= delivery.date <= end and still_open > 0:
                due.append(DueDelivery(line, delivery.date, delivery.quantity, still_open))
    return due


def _deliveries(line: PurchaseOrderLine) -> list[Delivery]:
    """The line's promised deliveries by date (as the services read them: unpromised, due whole on need-by)."""
    return sorted(current_terms(line).deliveries, key=lambda delivery: delivery.date)


def _unfulfilled(deliveries: list[Delivery], covered: Decimal) -> list[tuple[Delivery, Decimal]]:
    """Each delivery with what is still open of it, the covered quantity filling the earliest ones first."""
    result = []
    for delivery in deliveries:
        taken = min(covered, delivery.quantity)
        covered -= taken
        result.append((delivery, delivery.quantity - taken))
    return result


def _expected_notices(
    site_ids: list[int], start: dt.date, end: dt.date, today: dt.date, cutoff: dt.date | None
) -> list[ExpectedNotice]:
    # Written without Coalesce so the (site, estimated_arrival) index serves it.
    wanted = Q(estimated_arrival__range=(start, end)) | Q(estimated_arrival__isnull=True, ship_date__range=(start, end))
    if cutoff is not None:
        wanted |= Q(estimated_arrival__lt=cutoff) | Q(estimated_arrival__isnull=True, ship_date__lt=cutoff)
    lines = ShipmentLine.objects.select_related("po_line__po", "po_line__item").prefetch_related(
        "po_line__schedule_lines"
    )
    notices = list(
        ShipmentNotice.objects.filter(wanted, status__in=EXPECTED_NOTICE_STATUSES, site_id__in=site_ids)
        .annotate(arrives=Coalesce("estimated_arrival", "ship_date"))
        .select_related("supplier")
        .prefetch_related(Prefetch("lines", queryset=lines.order_by("position")))
        .order_by("arrives", "supplier__code", "number", "id")
    )
    shipped_before = _shipped_before({line.po_line_id for notice in notices for line in notice.lines.all()})
    return [
        ExpectedNotice(
            notice=notice,
            arrives=notice.arrives,  # type: ignore[attr-defined]
            lines=_notice_lines(notice, shipped_before),
            overdue=notice.arrives < today,  # type: ignore[attr-defined]
        )
        for notice in notices
    ]


def _shipped_before(line_ids: set[int]) -> dict[tuple[int, int], Decimal]:
    """For each (notice, PO line): how much of the line the line's other notices shipped before this one.

    Notices fill a line's deliveries in the order they arrive: received ones first, then by arrival day.
    """
    received_first = F("shipment__received_at").asc(nulls_last=True)
    rows = (
        ShipmentLine.objects.filter(po_line_id__in=line_ids)
        .exclude(shipment__status__in=ShipmentNotice.INACTIVE_STATUSES)
        .annotate(arrives=Coalesce("shipment__estimated_arrival", "shipment__ship_date"))
        .order_by(received_first, "arrives", "shipment__submitted_at", "shipment_id", "position")
        .values_list("shipment_id", "po_line_id", "quantity")
    )
    totals: dict[int, Decimal] = {}
    before: dict[tuple[int, int], Decimal] = {}
    for shipment_id, line_id, quantity in rows:
        before.setdefault((shipment_id, line_id), totals.get(line_id, Decimal(0)))
        totals[line_id] = totals.get(line_id, Decimal(0)) + quantity
    return before


def _notice_lines(notice: ShipmentNotice, shipped_before: dict[tuple[int, int], Decimal]) -> list[NoticeLine]:
    """The notice's quantities per PO line (a line packed in several cartons is one row)."""
    arrives: dt.date = notice.arrives  # type: ignore[attr-defined]
    quantities: dict[int, Decimal] = {}
    lines: dict[int, PurchaseOrderLine] = {}
    for shipped in notice.lines.all():
        quantities[shipped.po_line_id] = quantities.get(shipped.po_line_id, Decimal(0)) + shipped.quantity
        lines[shipped.po_line_id] = shipped.po_line
    result = []
    for line_id, quantity in quantities.items():
        line = lines[line_id]
        before = shipped_before.get((notice.pk, line_id), Decimal(0))
        still_open = _unfulfilled(_deliveries(line), before)
        due = [quantity for delivery, quantity in still_open if delivery.date == arrives]
        fulfilled = [delivery for delivery, quantity in still_open if quantity > 0]
        after = before + quantity
        result.append(
            NoticeLine(
                line=line,
                quantity=quantity,
                scheduled=sum(due, Decimal(0)) if due else None,
                promised_date=fulfilled[0].date if fulfilled else None,
                beyond_ordered=max(Decimal(0), after - max(before, line.ordered_quantity)),
                arrives=arrives,
            )
        )
    return sorted(result, key=lambda row: (row.line.po.number, row.line.line_number))
