"""One factory per model. The tests use them, and so does `manage.py seed_demo`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from factory.django import DjangoModelFactory

from exceptions.models import CaseStatus, CaseType, ExceptionCase, Severity
from purchasing.models import Item, LineStatus, POStatus, PurchaseOrder, PurchaseOrderLine, ScheduleLine, Site
from suppliers.models import BUYERS_GROUP, Supplier, SupplierItem, SupplierMembership, User

DEMO_PASSWORD = "demo1234"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(DEMO_PASSWORD)


def _join_buyers(user: User, create: bool) -> None:
    if create:
        user.groups.add(Group.objects.get_or_create(name=BUYERS_GROUP)[0])


class BuyerFactory(UserFactory):
    email = factory.Sequence(lambda n: f"buyer{n}@example.com")
    is_staff = True

    buyers_group = factory.PostGeneration(lambda user, create, extracted, **kwargs: _join_buyers(user, create))


class SupplierFactory(DjangoModelFactory[Supplier]):
    class Meta:
        model = Supplier
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"SUP{n:04d}")
    name = factory.Faker("company")
    erp_vendor_id = factory.Sequence(lambda n: f"V{100000 + n}")
    timezone = "America/Chicago"
    buyer = factory.SubFactory(BuyerFactory)


class SupplierMembershipFactory(DjangoModelFactory[SupplierMembership]):
    class Meta:
        model = SupplierMembership

    user = factory.SubFactory(UserFactory)
    supplier = factory.SubFactory(SupplierFactory)
    role = SupplierMembership.Role.ADMIN


class SiteFactory(DjangoModelFactory[Site]):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"WH{n:02d}")
    name = factory.LazyAttribute(lambda o: f"Warehouse {o.code}")
    timezone = "America/New_York"


class ItemFactory(DjangoModelFactory[Item]):
    class Meta:
        model = Item
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:06d}")
    description = factory.Faker("catch_phrase")
    unit_of_measure = "EA"


class SupplierItemFactory(DjangoModelFactory[SupplierItem]):
    class Meta:
        model = SupplierItem

    supplier = factory.SubFactory(SupplierFactory)
    item = factory.SubFactory(ItemFactory)
    supplier_part_number = factory.Sequence(lambda n: f"P-{n:06d}")
    lead_time_days = 14
    minimum_order_quantity = Decimal(1)
    price = Decimal("10.0000")


class PurchaseOrderFactory(DjangoModelFactory[PurchaseOrder]):
    class Meta:
        model = PurchaseOrder

    number = factory.Sequence(lambda n: f"PO-{400000 + n}")
    erp_id = factory.LazyAttribute(lambda o: f"ERP-{o.number}")
    supplier = factory.SubFactory(SupplierFactory)
    buyer = factory.LazyAttribute(lambda o: o.supplier.buyer or BuyerFactory())
    site = factory.SubFactory(SiteFactory)
    currency = "USD"
    status = POStatus.ISSUED
    order_date = factory.LazyFunction(lambda: timezone.localdate())
    acknowledgement_due = factory.LazyAttribute(
        lambda o: (
            timezone.make_aware(dt.datetime.combine(o.order_date, dt.time(12)))
            + dt.timedelta(hours=o.supplier.effective_ack_deadline_hours)
        )
    )


class PurchaseOrderLineFactory(DjangoModelFactory[PurchaseOrderLine]):
    class Meta:
        model = PurchaseOrderLine

    po = factory.SubFactory(PurchaseOrderFactory)
    line_number = factory.Sequence(lambda n: n + 1)
    item = factory.SubFactory(ItemFactory)
    ordered_quantity = Decimal(100)
    unit_price = Decimal("12.5000")
    need_by_date = factory.LazyAttribute(lambda o: o.po.order_date + dt.timedelta(days=21))
    status = LineStatus.ISSUED


class ScheduleLineFactory(DjangoModelFactory[ScheduleLine]):
    class Meta:
        model = ScheduleLine

    line = factory.SubFactory(PurchaseOrderLineFactory)
    schedule_number = 1
    quantity = factory.LazyAttribute(lambda o: o.line.ordered_quantity)
    promised_date = factory.LazyAttribute(lambda o: o.line.need_by_date)


class ExceptionCaseFactory(DjangoModelFactory[ExceptionCase]):
    """A case as a rule would open it: about a PO of a supplier, assigned to the PO's buyer."""

    class Meta:
        model = ExceptionCase

    type = CaseType.ACK_OVERDUE
    severity = Severity.MEDIUM
    status = CaseStatus.OPEN
    po = factory.SubFactory(PurchaseOrderFactory)
    supplier = factory.LazyAttribute(lambda o: o.po.supplier if o.po else None)
    site = factory.LazyAttribute(lambda o: o.po.site if o.po else None)
    assignee = factory.LazyAttribute(lambda o: o.po.buyer if o.po else None)
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
    title = factory.LazyAttribute(lambda o: f"{o.po.number if o.po else 'Case'}: not acknowledged")
    summary = "The acknowledgement deadline passed."
    opened_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda o: o.opened_at + dt.timedelta(hours=24))
