"""Every event the services record is valid CloudEvents and matches its type's JSON Schema.

The lifecycle below drives each purchasing service and ERP import through every branch that
records an event (docs/events.md shows the events it produces), then checks
every row in the outbox, so a service that changes its payload without its
schema, or records a new type without one, fails here.
"""

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from django.utils import timezone

from exceptions.handlers import dispatch
from planning_sync.envelope import cloudevent
from planning_sync.event_schemas import SCHEMA_DIR, UnknownEventType, known_types, validate_event
from planning_sync.models import OutboxEvent
from purchasing import inbound, services
from purchasing.documents.shapes import PackageInput, ShipmentInput, ShipmentLineInput
from purchasing.models import AcknowledgementLine, Channel, POStatus, PurchaseOrder, ReasonCode
from purchasing.rules import Delivery
from purchasing.services import LineChange, LineDecision, NewLine
from suppliers import self_service
from suppliers.models import Supplier, User
from tests.factories import (
    ItemFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    SiteFactory,
    SupplierItemFactory,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("config", "suppliers", "purchasing", "planning_sync", "exceptions")
RECORDED_TYPE = re.compile(r'record_event\(\s*"([a-z_.]+)"')
Action = AcknowledgementLine.Action


@pytest.fixture(autouse=True)
def _portal_defaults(portal_defaults):
    """Pin the tolerances and deadlines these tests reason about."""


# --- the lifecycle ---------------------------------------------------------------------


def run_lifecycle(*, supplier: Supplier, supplier_user: User, buyer: User) -> None:
    """Issue, answer (every kind of answer), decide, revise, re-acknowledge, receive; miss a deadline, cancel."""
    ReasonCode.objects.get_or_create(code="OUT_OF_STOCK", defaults={"label": "Out of stock"})
    need_by = timezone.localdate() + dt.timedelta(days=21)
    po = _issue(supplier, buyer, need_by)
    services.acknowledgement_submit(
        po=po,
        by=supplier_user,
        channel=Channel.WEB,
        expected_version=po.version,
        note="Line 30 carries the steel surcharge.",
        decisions=[
            LineDecision(10, Action.ACCEPT),
            LineDecision(20, Action.CHANGE, deliveries=(Delivery(Decimal(240), need_by + dt.timedelta(days=1)),)),
            LineDecision(30, Action.CHANGE, unit_price=Decimal("41.80")),
            LineDecision(40, Action.REJECT, reason_code="OUT_OF_STOCK", note="Discontinued by the manufacturer."),
            LineDecision(
                50,
                Action.CHANGE,
                deliveries=(Delivery(Decimal(80), need_by), Delivery(Decimal(40), need_by + dt.timedelta(days=2))),
            ),
        ],
    )
    services.proposal_decide(answer=_pending(po, 30), by=buyer, approve=True)
    services.proposal_decide(answer=_pending(po, 40), by=buyer, approve=False, reason="Ship the substitute SKU.")
    services.change_order_issue(
        po=po,
        by=buyer,
        expected_version=_version(po),
        changes=[LineChange(10, quantity=Decimal(120)), LineChange(30, need_by_date=need_by + dt.timedelta(days=7))],
        additions=[NewLine("CHN-40-10FT", Decimal(60), Decimal("3.10"), need_by + dt.timedelta(days=14))],
        cancellations=[20],
    )
    services.acknowledgement_accept_all(po=po, by=supplier_user, channel=Channel.API, expected_version=_version(po))
    _ship(supplier, supplier_user)
    inbound.receipt_import(
        {
            "erp_id": "GR-5000001",
            "po_number": po.number,
            "asn_number": "ASN-7001",
            "received_at": f"{need_by.isoformat()}T08:30:00-06:00",
            "lines": [{"line_number": 10, "quantity": "120"}, {"line_number": 30, "quantity": 45, "close": True}],
        }
    )
    _reject_then_cancel(supplier, supplier_user, buyer)
    late = _miss_a_deadline(supplier)
    _erp_cancels(late)
    _plan()


def _issue(supplier: Supplier, buyer: User, need_by: dt.date) -> PurchaseOrder:
    lines = [("BRG-6204-2RS", 100, "4.25"), ("BLT-M8-40", 240, "0.18"), ("MTR-0.75KW", 50, "38.00")]
    lines += [("GSK-DN50", 500, "0.12"), ("FLT-HYD-10M", 120, "9.50")]
    for sku in [*(sku for sku, _, _ in lines), "CHN-40-10FT"]:
        ItemFactory.create(sku=sku)
    return services.purchase_order_issue(
        number="PO-200001",
        erp_id="4500012345",
        supplier=supplier,
        buyer=buyer,
        site=SiteFactory.create(code="DAL1"),
        order_date=timezone.localdate(),
        lines=[NewLine(sku, Decimal(qty), Decimal(price), need_by) for sku, qty, price in lines],
    )


def _ship(supplier: Supplier, supplier_user: User) -> None:
    """ASN-7001 (a pallet holding a carton) is corrected by a replacement; ASN-7002 is sent, then cancelled."""
    supplier.gs1_company_prefix = "0614141"
    supplier.save(update_fields=["gs1_company_prefix"])
    shipment = ShipmentInput(
        number="ASN-7001",
        ship_date=timezone.localdate(),
        estimated_arrival=timezone.localdate() + dt.timedelta(days=2),
        carrier_scac="ODFL",
        carrier_name="Old Dominion",
        tracking_number="PRO-55501",
        packages=(PackageInput(ref="P1", kind="pallet"), PackageInput(ref="C1", parent_ref="P1")),
        lines=(ShipmentLineInput("PO-200001", 10, Decimal(100), package_ref="C1"),),
    )
    first = services.shipment_notice_submit(supplier=supplier, by=supplier_user, shipment=shipment, channel=Channel.WEB)
    corrected = replace(
        shipment,
        lines=(
            ShipmentLineInput("PO-200001", 10, Decimal(120), package_ref="C1"),
            ShipmentLineInput("PO-200001", 30, Decimal(45), package_ref="P1"),
        ),
    )
    services.shipment_notice_replace(notice=first, by=supplier_user, shipment=corrected, channel=Channel.WEB)
    spare = replace(shipment, number="ASN-7002", packages=(), lines=(ShipmentLineInput("PO-200001", 30, Decimal(5)),))
    second = services.shipment_notice_submit(supplier=supplier, by=supplier_user, shipment=spare, channel=Channel.EDI)
    services.shipment_notice_cancel(notice=second, by=supplier_user, reason="Sent twice by mistake.", channel="web")


def _reject_then_cancel(supplier: Supplier, supplier_user: User, buyer: User) -> None:
    po = PurchaseOrderFactory.create(supplier=supplier, number="PO-200002")
    PurchaseOrderLineFactory.create(po=po, line_number=10, item=ItemFactory.create(sku="GSK-DN50"))
    PurchaseOrderLineFactory.create(po=po, line_number=20, item=ItemFactory.create(sku="BLT-M8-40"))
    services.acknowledgement_submit(
        po=po,
        by=supplier_user,
        channel=Channel.EDI,
        expected_version=None,
        decisions=[LineDecision(10, Action.REJECT, reason_code="OUT_OF_STOCK"), LineDecision(20, Action.ACCEPT)],
    )
    services.proposal_decide(answer=_pending(po, 10), by=buyer, approve=True)


def _miss_a_deadline(supplier: Supplier) -> PurchaseOrder:
    po = PurchaseOrderFactory.create(
        supplier=supplier, number="PO-200003", acknowledgement_due=timezone.now() - dt.timedelta(hours=1)
    )
    PurchaseOrderLineFactory.create(po=po, line_number=10, item=ItemFactory.create(sku="MTR-0.75KW"))
    services.acknowledgement_deadlines_sweep()
    return po


def _erp_cancels(po: PurchaseOrder) -> None:
    line = po.lines.get()
    document = {
        "erp_id": po.erp_id,
        "number": po.number,
        "revision": 2,
        "status": "cancelled",
        "supplier_erp_vendor_id": po.supplier.erp_vendor_id,
        "site_code": po.site.code,
        "order_date": po.order_date.isoformat(),
        "lines": [
            {
                "line_number": line.line_number,
                "item_sku": line.item.sku,
                "quantity": str(line.ordered_quantity),
                "unit_price": str(line.unit_price),
                "need_by_date": line.need_by_date.isoformat(),
            }
        ],
    }
    inbound.purchase_order_import(document)


def _plan() -> None:
    """The ERP counts the stock; the planning system sets safety stock, adds demand, moves it, withdraws it."""
    where = {"item_sku": "BRG-6204-2RS", "site_code": "DAL1"}
    inbound.inventory_import(where | {"quantity": "35", "as_of": "2026-11-29T06:00:00Z"})
    inbound.safety_stock_import(where | {"quantity": "20"})
    demand: dict[str, Any] = where | {"external_id": "SO-88123/10", "date": "2026-12-18", "quantity": "30"}
    demand |= {"kind": "customer_order"}
    demand |= {"priority": 1, "customer_reference": "SO-88123"}
    inbound.demand_import(demand)
    inbound.demand_import(demand | {"quantity": "45", "date": "2026-12-21"})
    inbound.demand_import(demand | {"quantity": 0})


def _pending(po: PurchaseOrder, line_number: int) -> AcknowledgementLine:
    return AcknowledgementLine.objects.get(line__po=po, line__line_number=line_number, outcome="pending")


def _version(po: PurchaseOrder) -> int:
    return PurchaseOrder.objects.values_list("version", flat=True).get(pk=po.pk)


@pytest.fixture
def envelopes(supplier, supplier_user, buyer) -> list[dict[str, Any]]:
    run_lifecycle(supplier=supplier, supplier_user=supplier_user, buyer=buyer)
    return [cloudevent(event) for event in OutboxEvent.objects.order_by("id")]


def first(envelopes: list[dict[str, Any]], short_type: str) -> dict[str, Any]:
    return copy.deepcopy(next(e for e in envelopes if e["type"] == f"supplyline.{short_type}.v1"))


def types_recorded_in(paths: list[Path]) -> set[str]:
    return {f"supplyline.{name}.v1" for path in paths for name in RECORDED_TYPE.findall(path.read_text())}


# --- every emitted event is valid ----------------------------------------------------------


def test_every_recorded_event_matches_its_schema(envelopes):
    item = "BRG-6204-2RS"  # the subject of stock and demand events: the SKU
    assert [(e["subject"], e["type"].removeprefix("supplyline.").removesuffix(".v1")) for e in envelopes] == [
        ("PO-200001", "po.issued"),
        ("PO-200001", "po.line.changed"),  # line 20, moved within tolerance
        ("PO-200001", "po.line.changed"),  # line 50, split within tolerance
        ("PO-200001", "po.acknowledged"),
        ("PO-200001", "po.line.changed"),  # line 30, approved by the buyer
        ("PO-200001", "po.proposal.decided"),
        ("PO-200001", "po.proposal.decided"),  # line 40's rejection, declined
        ("PO-200001", "po.revised"),
        ("PO-200001", "po.acknowledged"),
        ("ASN-7001", "asn.submitted"),
        ("ASN-7001", "asn.replaced"),
        ("ASN-7002", "asn.submitted"),
        ("ASN-7002", "asn.cancelled"),
        ("ASN-7001", "asn.received"),  # closed: line 10 received in full, line 30 closed short
        ("PO-200001", "receipt.recorded"),
        ("PO-200002", "po.acknowledged"),
        ("PO-200002", "po.proposal.decided"),  # a rejection approved: the line is cancelled
        ("PO-200003", "po.acknowledgement.overdue"),
        ("PO-200003", "po.cancelled"),
        (item, "inventory.changed"),
        (item, "safety_stock.changed"),
        (item, "demand.changed"),  # created
        (item, "demand.changed"),  # moved three days later, more of it
        (item, "demand.changed"),  # withdrawn
    ]
    for envelope in envelopes:
        validate_event(envelope)


def test_the_lifecycle_records_every_type_purchasing_can(envelopes):
    assert {e["type"] for e in envelopes} == types_recorded_in(sorted((ROOT / "purchasing").rglob("*.py")))


def test_every_recorded_event_is_a_valid_cloudevent(envelopes):
    for envelope in envelopes:
        parsed = JSONFormat().read(CloudEvent, json.dumps(envelope).encode())
        attributes = dict(parsed.get_attributes())
        assert attributes.pop("time") == dt.datetime.fromisoformat(envelope["time"])
        assert attributes == {name: value for name, value in envelope.items() if name not in ("time", "data")}
        assert parsed.get_extension("supplylinechannel") == envelope["supplylinechannel"]
        assert parsed.get_data() == envelope["data"]


def test_the_answers_carry_each_outcome(envelopes):
    acknowledged = first(envelopes, "po.acknowledged")["data"]
    answers = {line["line_number"]: (line["action"], line["outcome"]) for line in acknowledged["lines"]}
    assert answers == {
        10: ("accept", "applied"),
        20: ("change", "applied"),
        30: ("change", "pending"),
        40: ("reject", "pending"),
        50: ("change", "applied"),
    }
    assert acknowledged["status"] == POStatus.CHANGES_PENDING
    decisions = [(e["data"]["action"], e["data"]["decision"]) for e in envelopes if "decided" in e["type"]]
    assert decisions == [("change", "approved"), ("reject", "declined"), ("reject", "approved")]


def test_a_supply_risk_the_rules_detect_matches_its_schema(supplier, supplier_user, buyer):
    """The exceptions app's own event: a promise moved three weeks later leaves a priority-1 order short."""
    need_by = timezone.localdate() + dt.timedelta(days=14)
    where = {"item_sku": "BRG-6204-2RS", "site_code": "DAL1"}
    ItemFactory.create(sku="BRG-6204-2RS")
    site = SiteFactory.create(code="DAL1")
    inbound.inventory_import(where | {"quantity": "10", "as_of": timezone.now().isoformat()})
    inbound.safety_stock_import(where | {"quantity": "5"})
    demand = {"external_id": "SO-88123/10", "date": (need_by + dt.timedelta(days=2)).isoformat(), "quantity": "80"}
    inbound.demand_import(where | demand | {"kind": "customer_order", "priority": 1, "customer_reference": "SO-88123"})
    po = services.purchase_order_issue(
        number="PO-200001",
        erp_id="4500012345",
        supplier=supplier,
        buyer=buyer,
        site=site,
        order_date=timezone.localdate(),
        lines=[NewLine("BRG-6204-2RS", Decimal(100), Decimal("4.25"), need_by)],
    )
    for event in OutboxEvent.objects.order_by("id"):  # the projection before the supplier's answer
        dispatch(cloudevent(event))
    answered = OutboxEvent.objects.latest("id").pk
    later = (Delivery(Decimal(100), need_by + dt.timedelta(days=21)),)
    decisions = [LineDecision(10, Action.CHANGE, deliveries=later)]
    services.acknowledgement_submit(
        po=po, by=supplier_user, channel=Channel.WEB, expected_version=None, decisions=decisions
    )
    for event in OutboxEvent.objects.filter(pk__gt=answered).order_by("id"):
        dispatch(cloudevent(event))

    [detected] = [cloudevent(e) for e in OutboxEvent.objects.filter(type="supplyline.supply.risk.detected.v1")]
    validate_event(detected)
    assert detected["data"]["cause"]["type"] == "supplyline.po.acknowledged.v1"
    assert [d["external_id"] for d in detected["data"]["demand_at_risk"]] == ["SO-88123/10"]


def test_an_approved_terms_proposal_matches_its_schema(supplier, supplier_user, buyer):
    """The suppliers app's own event: a buyer approves a supplier's new lead time and minimum."""
    supplier_item = SupplierItemFactory.create(supplier=supplier, lead_time_days=14)
    proposal = self_service.terms_propose(
        supplier_item=supplier_item,
        by=supplier_user,
        lead_time_days=35,
        minimum_order_quantity=Decimal("25.5"),
        effective_date=timezone.localdate() + dt.timedelta(days=2),
        note="The mill moved our slot.",
    )
    self_service.terms_decide(proposal=proposal, by=buyer, approve=True)
    [changed] = [cloudevent(e) for e in OutboxEvent.objects.all()]
    validate_event(changed)
    assert changed["type"] == "supplyline.supplier_item.terms.changed.v1"
    assert changed["data"]["after"] == {"lead_time_days": 35, "minimum_order_quantity": "25.500"}


# --- every type has a schema, and the schemas are sound ---------------------------------------


def test_every_type_the_code_records_has_a_schema():
    sources = [path for package in FIRST_PARTY for path in (ROOT / package).rglob("*.py")]
    recorded = types_recorded_in(sources)
    assert "supplyline.po.acknowledged.v1" in recorded  # the pattern still finds the calls
    missing = recorded - known_types()
    assert not missing, f"Add a schema to planning_sync/schemas/ for {sorted(missing)}"


def test_every_schema_file_is_named_after_its_id_and_title():
    for path in SCHEMA_DIR.glob("*.json"):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].endswith(f"/{path.name}")
        if path.stem.startswith("supplyline."):
            assert schema["title"] == path.stem


def test_docs_describe_every_event_type_with_valid_examples():
    docs = (ROOT / "docs" / "events.md").read_text()
    blocks = re.findall(r"```json\n(.*?)\n```", docs, flags=re.DOTALL)
    envelope = json.loads(blocks[0])  # the full event in "The envelope"
    validate_event(envelope)
    sections = re.split(r"^### `(supplyline\.[a-z_.]+\.v\d+)`$", docs, flags=re.MULTILINE)
    documented = dict(zip(sections[1::2], sections[2::2], strict=True))
    assert set(documented) == known_types()
    for event_type, section in documented.items():
        examples = re.findall(r"```json\n(.*?)\n```", section, flags=re.DOTALL)
        assert examples, f"docs/events.md shows no example of {event_type}"
        for example in examples:
            validate_event({**envelope, "type": event_type, "data": json.loads(example)})


# --- what the schemas refuse ---------------------------------------------------------------


def _drop_unit_price(envelope: dict[str, Any]) -> None:
    del envelope["data"]["lines"][0]["before"]["unit_price"]


def _revision_as_string(envelope: dict[str, Any]) -> None:
    envelope["data"]["revision"] = "1"


def _extra_key(envelope: dict[str, Any]) -> None:
    envelope["data"]["lines"][1]["colour"] = "red"


def _impossible_date(envelope: dict[str, Any]) -> None:
    envelope["data"]["lines"][1]["proposed"]["deliveries"][0]["date"] = "2030-02-30"


def _exponent_quantity(envelope: dict[str, Any]) -> None:
    envelope["data"]["lines"][1]["proposed"]["quantity"] = "2.4E+2"


def _unknown_action(envelope: dict[str, Any]) -> None:
    envelope["data"]["lines"][0]["action"] = "maybe"


def _reject_without_reason(envelope: dict[str, Any]) -> None:
    envelope["data"]["lines"][3]["reason_code"] = None


def _accept_left_pending(envelope: dict[str, Any]) -> None:
    envelope["data"]["lines"][0]["outcome"] = "pending"


def _bad_id(envelope: dict[str, Any]) -> None:
    envelope["id"] = "42"


def _time_without_offset(envelope: dict[str, Any]) -> None:
    envelope["time"] = "2030-05-06T09:00:00"


def _unknown_channel(envelope: dict[str, Any]) -> None:
    envelope["supplylinechannel"] = "fax"


def _unversioned_type(envelope: dict[str, Any]) -> None:
    envelope["type"] = "po.acknowledged"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_drop_unit_price, "$.data.lines[0].before: 'unit_price' is a required property"),
        (_revision_as_string, "$.data.revision: '1' is not of type 'integer'"),
        (_extra_key, "$.data.lines[1]: Unevaluated properties are not allowed ('colour' was unexpected)"),
        (_impossible_date, "$.data.lines[1].proposed.deliveries[0].date: '2030-02-30' is not a 'date'"),
        (_exponent_quantity, "$.data.lines[1].proposed.quantity: '2.4E+2' does not match"),
        (_unknown_action, "$.data.lines[0].action: 'maybe' is not one of ['accept', 'reject', 'change']"),
        (_reject_without_reason, "$.data.lines[3].reason_code: None is not of type 'string'"),
        (_accept_left_pending, "$.data.lines[0].outcome: 'applied' was expected"),
        (_bad_id, "cloudevent: $.id: '42' is not a 'uuid'"),
        (_time_without_offset, "cloudevent: $.time: '2030-05-06T09:00:00' is not a 'date-time'"),
        (_unknown_channel, "cloudevent: $.supplylinechannel: 'fax' is not one of"),
        (_unversioned_type, "cloudevent: $.type: 'po.acknowledged' does not match"),
    ],
)
def test_a_bad_event_fails_with_its_path(envelopes, mutate: Callable[[dict[str, Any]], None], expected):
    envelope = first(envelopes, "po.acknowledged")
    mutate(envelope)
    with pytest.raises(jsonschema.ValidationError) as excinfo:
        validate_event(envelope)
    assert expected in excinfo.value.message


def test_an_extra_top_level_key_is_refused(envelopes):
    envelope = first(envelopes, "po.issued")
    envelope["data"]["buyer"] = "charlie@example.com"
    with pytest.raises(jsonschema.ValidationError, match=re.escape("'buyer' was unexpected")) as excinfo:
        validate_event(envelope)
    assert list(excinfo.value.path) == ["data"]


def test_a_revised_line_must_match_its_kind_of_change(envelopes):
    envelope = first(envelopes, "po.revised")
    cancelled = next(line for line in envelope["data"]["lines"] if line["change"] == "cancelled")
    cancelled["fields"] = {"quantity": ["240.000", "0"]}
    with pytest.raises(jsonschema.ValidationError, match=re.escape("$.data.lines[2].fields")):
        validate_event(envelope)


def test_a_declined_proposal_needs_the_buyers_reason(envelopes):
    envelope = next(e for e in envelopes if e["type"].endswith("proposal.decided.v1") and e["data"]["reason"])
    envelope = copy.deepcopy(envelope)
    envelope["data"]["reason"] = ""
    with pytest.raises(jsonschema.ValidationError, match=re.escape("$.data.reason: '' should be non-empty")):
        validate_event(envelope)


def test_a_receipt_time_needs_its_offset(envelopes):
    envelope = first(envelopes, "receipt.recorded")
    envelope["data"]["received_at"] = envelope["data"]["received_at"][:19]
    with pytest.raises(jsonschema.ValidationError, match=re.escape("$.data.received_at: ")):
        validate_event(envelope)


def test_an_unknown_type_names_the_schema_to_add(envelopes):
    envelope = first(envelopes, "po.issued")
    envelope["type"] = "supplyline.x.v1"
    with pytest.raises(UnknownEventType, match=re.escape("no schema for supplyline.x.v1: add planning_sync/schemas/")):
        validate_event(envelope)
