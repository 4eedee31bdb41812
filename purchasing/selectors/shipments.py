"""Reads of shipment notices: lists, the package tree, what a new notice can ship."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.http import Http404

from purchasing.gs1 import sscc_human_readable
from purchasing.models import LineStatus, PurchaseOrderLine, ShipmentLine, ShipmentNotice, ShipmentPackage, Site
from suppliers.models import Supplier, SupplierMembership, User

# Roles that may send, correct and cancel shipment notices; viewers may only look.
SHIPPING_ROLES = SupplierMembership.SHIPPING_ROLES
# Lines a new notice offers: acknowledged and not shipped in full (a shipped line comes back only to be corrected).
SHIPPABLE_LINE_STATUSES = (LineStatus.ACKNOWLEDGED, LineStatus.PARTIALLY_SHIPPED)


def shipment_notice_list(*, user: User | AnonymousUser) -> QuerySet[ShipmentNotice]:
    """Notices the user may see, with supplier and site joined in; their POs come per page from
    ``shipment_notice_po_numbers``."""
    return ShipmentNotice.objects.visible_to(user).select_related("supplier", "site")


def shipment_notice_po_numbers(*, notice_ids: Iterable[int]) -> dict[int, list[str]]:
    """The PO numbers each notice ships against, for a page of notices in one query."""
    rows = (
        ShipmentLine.objects.filter(shipment_id__in=list(notice_ids))
        .values_list("shipment_id", "po_line__po__number")
        .order_by("shipment_id", "po_line__po__number")
        .distinct()
    )
    numbers: dict[int, list[str]] = defaultdict(list)
    for notice_id, number in rows:
        numbers[notice_id].append(number)
    return dict(numbers)


def shipment_notice_get(*, user: User | AnonymousUser, pk: int) -> ShipmentNotice:
    """One notice the user may see, or 404."""
    try:
        return (
            ShipmentNotice.objects.visible_to(user)
            .select_related("supplier", "site", "submitted_by", "replaces")
            .get(pk=pk)
        )
    except ShipmentNotice.DoesNotExist:
        raise Http404("No such shipment notice.") from None


def shipment_notice_replacement(*, notice: ShipmentNotice) -> ShipmentNotice | None:
    """The notice that replaced this one, if one did."""
    return ShipmentNotice.objects.filter(replaces=notice).first()


def shipping_suppliers(*, user: User) -> QuerySet[Supplier]:
    """The active supplier, when the user's role there ships (a membership, not buyer rights); else none."""
    memberships = SupplierMembership.objects.acting(user).filter(role__in=SHIPPING_ROLES)
    return Supplier.objects.filter(pk__in=memberships.values("supplier_id")).order_by("name")


def may_ship(*, user: User, supplier_id: int) -> bool:
    return shipping_suppliers(user=user).filter(pk=supplier_id).exists()


def shipment_ship_to_sites(*, supplier: Supplier) -> QuerySet[Site]:
    """The sites the supplier has lines to ship to, each with ``line_count``, its open lines there."""
    open_lines = Q(purchase_orders__supplier=supplier, purchase_orders__lines__status__in=SHIPPABLE_LINE_STATUSES)
    return (
        Site.objects.annotate(line_count=Count("purchase_orders__lines", filter=open_lines))
        .filter(line_count__gt=0)
        .order_by("code")
    )


def shipment_candidate_lines(
    *,
    supplier: Supplier,
    site: Site,
    including: Iterable[int] = (),
    first_po: str = "",
    limit: int | None = None,
) -> list[PurchaseOrderLine]:
    """The supplier's lines a notice to ``site`` can ship, plus the lines ``including`` names (already on
    the form, or on the notice being corrected, whatever their status now: the service says what is wrong).

    The lines of ``first_po`` come first; ``limit`` bounds the open lines offered, never the included ones.
    """
    base = PurchaseOrderLine.objects.filter(po__supplier=supplier).select_related("po", "item")
    ordering = (Case(When(po__number=first_po, then=Value(0)), default=Value(1)), "po__number", "line_number")
    offered = base.filter(status__in=SHIPPABLE_LINE_STATUSES, po__site=site).order_by(*ordering)
    chosen = {line.pk: line for line in (offered[:limit] if limit is not None else offered)}
    missing = set(including) - set(chosen)
    chosen |= {line.pk: line for line in base.filter(pk__in=missing)}
    return sorted(chosen.values(), key=lambda line: (line.po.number != first_po, line.po.number, line.line_number))


def shipment_candidate_count(*, supplier: Supplier, site: Site) -> int:
    return PurchaseOrderLine.objects.filter(
        po__supplier=supplier, po__site=site, status__in=SHIPPABLE_LINE_STATUSES
    ).count()


@dataclass
class PackageNode:
    """A package of a notice with the packages inside it and the lines packed directly in it."""

    package: ShipmentPackage
    sscc_text: str  # as printed under the barcode: "(00) 0 0614141 000000001 5"
    children: list["PackageNode"] = field(default_factory=list)
    lines: list[ShipmentLine] = field(default_factory=list)

    def all_lines(self) -> list[ShipmentLine]:
        """Its own lines and those of every package inside it, at any depth."""
        return self.lines + [line for child in self.children for line in child.all_lines()]


@dataclass
class ShipmentContents:
    packages: list[PackageNode]  # every package, each after the one holding it
    roots: list[PackageNode]  # packages inside no other
    loose: list[ShipmentLine]  # lines in no package
    lines: list[tuple[ShipmentLine, PackageNode | None]]  # every line, in the notice's order, with its package


def sscc_company_prefix_length(sscc: str, company_prefix: str) -> int | None:
    """The length of the supplier's GS1 prefix when the SSCC was made under it (after the extension digit)."""
    return len(company_prefix) if company_prefix and sscc[1:].startswith(company_prefix) else None


def shipment_notice_contents(*, notice: ShipmentNotice) -> ShipmentContents:
    """The notice's packages as a tree, with its lines in them, in two queries."""
    prefix = notice.supplier.gs1_company_prefix
    nodes = {
        package.pk: PackageNode(
            package,
            sscc_human_readable(package.sscc, company_prefix_length=sscc_company_prefix_length(package.sscc, prefix)),
        )
        for package in notice.packages.order_by("position")
    }
    roots: list[PackageNode] = []
    for node in nodes.values():
        parent = nodes.get(node.package.parent_id) if node.package.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    lines = notice.lines.select_related("po_line__po", "po_line__item").order_by("position")
    rows: list[tuple[ShipmentLine, PackageNode | None]] = []
    loose: list[ShipmentLine] = []
    for line in lines:
        holder = nodes.get(line.package_id) if line.package_id is not None else None
        (holder.lines if holder is not None else loose).append(line)
        rows.append((line, holder))
    return ShipmentContents(packages=list(nodes.values()), roots=roots, loose=loose, lines=rows)
