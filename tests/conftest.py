"""Named fixtures: Alice works for ACME, Bob for BOLT (the outsider), Charlie is a buyer."""

from collections.abc import Iterator
from decimal import Decimal

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.test import Client

from config.celery import QUEUE_NAMES, app
from purchasing.models import LineStatus, POStatus, PurchaseOrder
from suppliers.models import Supplier, User
from tests.factories import (
    BuyerFactory,
    ItemFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    ScheduleLineFactory,
    SiteFactory,
    SupplierFactory,
    SupplierMembershipFactory,
    UserFactory,
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Rate-limit counters live in the (Redis) cache: each test starts from none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _mfa_not_required(settings):
    """Most tests sign buyers and supplier admins in with force_login and no second factor.

    The tests of MFA itself turn the requirement back on (tests/suppliers/test_mfa.py).
    """
    settings.SUPPLYLINE_MFA_REQUIRED = False


@pytest.fixture
def portal_defaults(settings):
    """The portal defaults the tests reason about, whatever the environment says."""
    settings.SUPPLYLINE_TOLERANCES = {
        "price_pct": Decimal(2),
        "quantity_pct": Decimal(5),
        "days_early": 3,
        "days_late": 2,
    }
    settings.SUPPLYLINE_ACK_DEADLINE_HOURS = 48
    settings.SUPPLYLINE_REMINDER_HOURS = 12
    return settings


@pytest.fixture
def buyer(db) -> User:
    return BuyerFactory.create(email="charlie@example.com")


@pytest.fixture
def supplier(buyer) -> Supplier:
    return SupplierFactory.create(code="ACME", name="Acme Industrial Supply", buyer=buyer)


@pytest.fixture
def other_supplier(buyer) -> Supplier:
    return SupplierFactory.create(code="BOLT", name="Bolt & Nut Co", buyer=buyer)


@pytest.fixture
def supplier_user(supplier) -> User:
    user = UserFactory.create(email="alice@example.com")
    SupplierMembershipFactory.create(user=user, supplier=supplier)
    return user


@pytest.fixture
def outsider(other_supplier) -> User:
    user = UserFactory.create(email="bob@example.com")
    SupplierMembershipFactory.create(user=user, supplier=other_supplier)
    return user


@pytest.fixture
def po(supplier) -> PurchaseOrder:
    """An ACME PO with two lines, the second already promised in two deliveries."""
    order = PurchaseOrderFactory.create(supplier=supplier, number="PO-100001")
    PurchaseOrderLineFactory.create(po=order, line_number=10)
    split = PurchaseOrderLineFactory.create(po=order, line_number=20, ordered_quantity=60)
    ScheduleLineFactory.create(line=split, schedule_number=1, quantity=40)
    ScheduleLineFactory.create(line=split, schedule_number=2, quantity=20)
    return order


@pytest.fixture
def shippable_po(supplier) -> PurchaseOrder:
    """An acknowledged ACME PO to site WH-EAST, ready to ship: line 10 (100 of SKU-BOLT), line 20 (60 of SKU-NUT)."""
    supplier.gs1_company_prefix = "0614141"
    supplier.save(update_fields=["gs1_company_prefix"])
    site = SiteFactory.create(code="WH-EAST", name="East warehouse")
    order = PurchaseOrderFactory.create(supplier=supplier, number="PO-200001", site=site, status=POStatus.ACKNOWLEDGED)
    for number, sku, quantity in ((10, "SKU-BOLT", 100), (20, "SKU-NUT", 60)):
        PurchaseOrderLineFactory.create(
            po=order,
            line_number=number,
            item=ItemFactory.create(sku=sku),
            ordered_quantity=quantity,
            status=LineStatus.ACKNOWLEDGED,
        )
    return order


@pytest.fixture
def alice_client(client: Client, supplier_user) -> Client:
    client.force_login(supplier_user)
    return client


@pytest.fixture
def bob_client(outsider) -> Client:
    client = Client()
    client.force_login(outsider)
    return client


@pytest.fixture
def buyer_client(buyer) -> Client:
    client = Client()
    client.force_login(buyer)
    return client


@pytest.fixture(scope="module")
def worker() -> Iterator[object]:
    """A solo worker consuming every queue from the real broker, shared by the tests of a module.

    Started before any test's database transaction: starting a worker closes the thread's database
    connections (Celery's Django fix-up). A test that gives it work must wait for that work to finish
    (``tests.celery_worker.drain``) before it ends, or a task could outlive the test's database.
    """
    app.control.purge()  # nothing left over from an earlier run
    with start_worker(
        app, pool="solo", queues=list(QUEUE_NAMES), perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10
    ) as running:
        yield running
