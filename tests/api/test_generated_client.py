"""A Python client generated from our OpenAPI document (openapi-python-client) drives a full flow on a live server.

The client is generated into tmp_path on every run, never committed: if the document stops producing a working
client (a schema the generator refuses, a model that cannot parse our answers), this test fails.
"""

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from purchasing.models import Acknowledgement, ScheduleLine
from suppliers.models import ApiScope
from suppliers.services import api_key_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("portal_defaults")]

PACKAGE = "supplyline_client"
# The raw-body uploads are bytes to a client; the generator knows only application/octet-stream as such.
CONFIG = f"""\
project_name_override: {PACKAGE}
package_name_override: {PACKAGE}
post_hooks: []
content_type_overrides:
  text/csv: application/octet-stream
  application/edi-x12: application/octet-stream
  application/edifact: application/octet-stream
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
"""


@pytest.fixture
def client_package(tmp_path: Path) -> Iterator[ModuleType]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    (tmp_path / "schema.json").write_bytes(OpenApiJsonRenderer().render(schema))
    (tmp_path / "config.yaml").write_text(CONFIG)
    result = subprocess.run(  # noqa: S603  # our venv's generator, fixed arguments
        [
            str(Path(sys.executable).parent / "openapi-python-client"),
            "generate",
            "--path=schema.json",
            "--config=config.yaml",
            "--output-path=generated",
            "--meta=none",
            "--fail-on-warning",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # --meta=none writes the package's contents straight into the output path.
    (tmp_path / "generated").rename(tmp_path / PACKAGE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_generated_client_lists_acknowledges_ships_and_reads_events(
    client_package, live_server, supplier, po, shippable_po, settings
):
    settings.SUPPLYLINE_API_RATE = settings.SUPPLYLINE_API_BURST = 1000
    _, secret = api_key_create(
        supplier=supplier, name="generated", scopes=list(ApiScope.values), by=None, expires_at=None
    )
    client = client_package.AuthenticatedClient(base_url=live_server.url, token=secret, raise_on_unexpected_status=True)
    models = _module("models")

    # List: both of ACME's orders, the one awaiting an answer flagged.
    listed = _module("api.purchase_orders.purchase_orders_list").sync(client=client)
    assert isinstance(listed, models.PaginatedPurchaseOrderSummaryOutputList)
    assert {row.number: row.needs_acknowledgement for row in listed.results} == {
        "PO-100001": True,
        "PO-200001": False,
    }

    # Acknowledge PO-100001, splitting line 20 into two deliveries, at the ETag read.
    detail = _module("api.purchase_orders.purchase_orders_retrieve").sync_detailed(client=client, number="PO-100001")
    etag = detail.headers["ETag"]
    answer = models.AcknowledgementInputRequest.from_dict(
        {
            "note": "From the generated client",
            "lines": [
                {"line_number": 10, "action": "accept"},
                {
                    "line_number": 20,
                    "action": "change",
                    "deliveries": [{"quantity": "40", "date": "2027-01-10"}, {"quantity": "20", "date": "2027-01-24"}],
                },
            ],
        }
    )
    acknowledge = _module("api.purchase_orders.acknowledgements_create")
    key = str(uuid.uuid4())
    first = acknowledge.sync_detailed(
        client=client, number="PO-100001", body=answer, idempotency_key=key, if_match=etag
    )
    assert first.status_code == 201, first.content
    assert isinstance(first.parsed, models.AcknowledgementOutput)
    assert [line.line_number for line in first.parsed.lines] == [10, 20]
    assert "Idempotent-Replayed" not in first.headers

    # The same request again with the same key: the first answer, replayed; one acknowledgement.
    again = acknowledge.sync_detailed(
        client=client, number="PO-100001", body=answer, idempotency_key=key, if_match=etag
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.parsed.id == first.parsed.id
    assert Acknowledgement.objects.filter(po=po).count() == 1
    split = ScheduleLine.objects.filter(line__po=po, line__line_number=20).order_by("schedule_number")
    assert [s.quantity for s in split] == [Decimal(40), Decimal(20)]

    # A shipment notice for PO-200001; the SSCC comes from ACME's GS1 prefix.
    notice = models.ShipmentNoticeInputRequest.from_dict(
        {
            "number": "ASN-GEN-1",
            "ship_date": "2026-12-01",
            "packages": [{"ref": "P1", "kind": "pallet"}],
            "lines": [
                {"po_number": "PO-200001", "line_number": 10, "quantity": "100", "package_ref": "P1"},
                {"po_number": "PO-200001", "line_number": 20, "quantity": "60", "package_ref": "P1"},
            ],
        }
    )
    created = _module("api.shipment_notices.shipment_notices_create").sync_detailed(
        client=client, body=notice, idempotency_key=str(uuid.uuid4())
    )
    assert created.status_code == 201, created.content
    assert isinstance(created.parsed, models.ShipmentNoticeDetailOutput)
    assert created.parsed.number == "ASN-GEN-1"
    assert created.parsed.packages[0].sscc.startswith("00614141")

    # The events feed, followed page by page, holds both changes.
    events_list = _module("api.events.events_list")
    types = []
    after = client_package.types.UNSET
    while True:
        page = events_list.sync(client=client, after=after, limit=2)
        assert isinstance(page, models.EventPageOutput)
        types += [event.type_.value for event in page.results]
        if not page.has_more:
            break
        after = str(page.results[-1].id)
    assert "supplyline.po.acknowledged.v1" in types
    assert "supplyline.asn.submitted.v1" in types
