"""Mappings of Tryton parties, products and warehouses: the command that proposes them, the selectors, the admin."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from planning_sync.connectors.tryton import mapping
from planning_sync.models import Connector, TrytonMapping, TrytonPurchase
from tests.factories import ItemFactory, SiteFactory, SupplierFactory
from tests.planning_sync.tryton_server import TrytonServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def connector(tryton: TrytonServer) -> Connector:
    config = {"url": tryton.url, "database": tryton.database, "username": tryton.username}
    return Connector.objects.create(name="tryton", kind="tryton", config={**config, "password": tryton.password})


@pytest.fixture
def offline() -> Connector:
    """A Tryton connector for what needs no server."""
    return Connector.objects.create(name="tryton", kind="tryton", config={"url": "http://127.0.0.1:9"})


def propose(*args: str) -> str:
    out = StringIO()
    call_command("tryton_propose_mappings", "--connector", "tryton", *args, stdout=out)
    return out.getvalue()


def test_the_command_proposes_mappings_by_code_and_saves_nothing_without_apply(tryton, connector):
    SupplierFactory.create(code="ACME", name="Acme Corp", erp_vendor_id="ACME-T")
    ItemFactory.create(sku="SKU-T1")
    SiteFactory.create(code="WH")

    output = propose()

    ids = tryton.ids
    assert output.splitlines() == [
        "Tryton parties → suppliers (party code = ERP vendor id, else supplier code)",
        "  no match  1 'Supplyline Distribution Inc' (id 1)",
        f"  proposed  ACME-T 'ACME Tryton Supplies' (id {ids['supplier']}) → supplier ACME (Acme Corp)",
        "Tryton products → items (product code = SKU)",
        f"  proposed  SKU-T1 '[SKU-T1] Widget' (id {ids['product_t1']}) → item SKU-T1",
        f"  no match  SKU-T2 '[SKU-T2] Gadget' (id {ids['product_t2']})",
        "Tryton warehouses → sites (warehouse code = site code)",
        f"  proposed  WH 'Warehouse' (id {ids['warehouse']}) → site WH",
        "3 proposed, 0 already mapped, 2 without a match.",
        "Dry run: nothing was saved. Run again with --apply to save the proposed mappings.",
    ]
    assert not TrytonMapping.objects.exists()


def test_apply_saves_the_proposed_mappings_once(tryton, connector):
    supplier = SupplierFactory.create(code="ACME-T", erp_vendor_id="V-77")  # matched by its code
    item = ItemFactory.create(sku="SKU-T1")
    site = SiteFactory.create(code="WH")

    output = propose("--apply")

    assert output.splitlines()[-2:] == ["3 proposed, 0 already mapped, 2 without a match.", "Saved 3 mappings."]
    ids = tryton.ids
    assert mapping.tryton_id(connector, "supplier", supplier.pk) == ids["supplier"]
    assert mapping.local_id(connector, "item", ids["product_t1"]) == item.pk
    assert mapping.local_id(connector, "site", ids["warehouse"]) == site.pk
    assert mapping.local_id(connector, "item", ids["product_t2"]) is None
    assert TrytonMapping.objects.get(item=item).tryton_code == "SKU-T1"

    again = propose("--apply")

    assert f"  mapped    WH 'Warehouse' (id {ids['warehouse']}) = site WH" in again.splitlines()
    assert again.splitlines()[-2:] == ["0 proposed, 3 already mapped, 2 without a match.", "Saved 0 mappings."]
    assert TrytonMapping.objects.count() == 3


def test_a_match_already_mapped_to_another_record_is_not_proposed(tryton, connector):
    site = SiteFactory.create(code="WH")
    TrytonMapping.objects.create(connector=connector, kind="site", tryton_id=999, tryton_code="OLD", site=site)

    output = propose()

    assert f"  no match  WH 'Warehouse' (id {tryton.ids['warehouse']})" in output.splitlines()


def test_the_command_names_what_is_wrong(tryton, connector):
    with pytest.raises(CommandError, match="No Tryton connector is named 'erp'"):
        call_command("tryton_propose_mappings", "--connector", "erp")

    tryton.stop()
    with pytest.raises(CommandError, match=r"Could not read from Tryton at http://127\.0\.0\.1:\d+/supplyline/rpc/"):
        propose()


def test_a_mapping_points_at_exactly_the_object_of_its_kind(offline):
    item = ItemFactory.create()
    wrong = TrytonMapping(connector=offline, kind="supplier", tryton_id=3, item=item)

    with pytest.raises(ValidationError, match="Choose exactly the supplier, item or site of the mapping's kind"):
        wrong.full_clean()


def test_erp_ids_name_tryton_purchases_and_shipments():
    assert mapping.purchase_erp_id(42) == "tryton:42"
    assert mapping.purchase_id_of("tryton:42") == 42
    assert mapping.shipment_erp_id(7, 42) == "tryton-shipment:7/42"
    assert mapping.shipment_id_of("tryton-shipment:7/42") == 7
    for not_ours in ("PO-42", "tryton:", "tryton:4x"):
        with pytest.raises(ValueError, match="is not a Tryton purchase"):
            mapping.purchase_id_of(not_ours)
    with pytest.raises(ValueError, match="is not a Tryton receipt"):
        mapping.shipment_id_of("tryton-shipment:7")


def test_line_numbers_are_found_both_ways(offline):
    TrytonPurchase.objects.create(connector=offline, purchase_id=42, revision=1, line_numbers={"101": 1, "102": 2})
    other = Connector.objects.create(name="tryton-2", kind="tryton")

    assert mapping.line_number_of(offline, 102) == 2
    assert mapping.purchase_line_of(offline, "tryton:42", 2) == 102
    assert mapping.line_number_of(other, 102) is None
    assert mapping.purchase_line_of(offline, "tryton:42", 3) is None
    assert mapping.purchase_line_of(offline, "PO-42", 1) is None


def test_the_admin_lists_and_adds_mappings_for_tryton_connectors_only(admin_client, offline):
    Connector.objects.create(name="webhook", kind="webhook", config={"url": "https://erp.example/events"})
    site = SiteFactory.create(code="WH")
    TrytonMapping.objects.create(connector=offline, kind="site", tryton_id=5, tryton_code="WH", site=site)

    listing = admin_client.get(reverse("admin:planning_sync_trytonmapping_changelist"))
    form = admin_client.get(reverse("admin:planning_sync_trytonmapping_add"))

    assert listing.status_code == 200
    assert "WH" in listing.content.decode()
    assert list(form.context["adminform"].form.fields["connector"].queryset) == [offline]
