"""The API against its own OpenAPI document: every operation, generated requests, no 5xx, no answer the schema denies.

Schemathesis loads the live schema from the WSGI app and sends, per operation, a bounded number of cases drawn
from up to three strategies: wholly generated (path parameters mostly name nothing: 404s), generated with the
path parameters of ACME's real objects (PO-100001 awaiting an answer, a shipment notice on PO-200001, a webhook,
an uploaded document), and, for the creating POSTs, one valid request (VALID_REQUESTS) so 201s are checked too.
Every call carries a key with all scopes; the /integration/ feeds take another credential, so they are checked
on their 401s. The requests run in this thread, inside the test's transaction. Hypothesis seeds each run afresh:
a failure prints the seed to reproduce it (``--hypothesis-seed``).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from planning_sync import webhooks
from purchasing.models import InboundDocument
from suppliers.models import ApiScope
from suppliers.services import api_key_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("portal_defaults")]

EXAMPLES_PER_OPERATION = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# Requests that succeed (once), so the 201s' bodies and headers are checked too; generated ones rarely do.
VALID_REQUESTS: dict[str, dict[str, Any]] = {
    "POST /api/v1/purchase-orders/{number}/acknowledgements/": {
        "headers": {"If-Match": "*"},
        "body": {
            "lines": [
                {"line_number": 10, "action": "accept"},
                {
                    "line_number": 20,
                    "action": "change",
                    "deliveries": [{"quantity": "40", "date": "2027-01-10"}, {"quantity": "20", "date": "2027-01-24"}],
                },
            ]
        },
    },
    "POST /api/v1/shipment-notices/": {
        "body": {
            "number": "ASN-SCHEMA-1",
            "ship_date": "2026-12-01",
            "packages": [{"ref": "P1", "kind": "pallet"}],
            "lines": [{"po_number": "PO-200001", "line_number": 20, "quantity": "5", "package_ref": "P1"}],
        }
    },
    "POST /api/v1/webhooks/": {
        "body": {"url": "https://erp.example.com/more", "event_types": ["supplyline.asn.*"], "description": "more"}
    },
}


@contextmanager
def same_connection() -> Iterator[None]:
    """Keep the test's database connection (and transaction) across requests, as Django's test client does
    (which reconnects the handlers after each of its requests: so this wraps only schemathesis's calls)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_settings(settings):
    settings.SUPPLYLINE_API_RATE = 100_000
    settings.SUPPLYLINE_API_BURST = 100_000
    settings.SUPPLYLINE_API_UPLOAD_RATE = 100_000
    settings.SUPPLYLINE_API_UPLOAD_BURST = 100_000
    settings.ALLOWED_HOSTS = ["*"]
    return settings


def _shipment_notice(secret: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = {
        "number": "ASN-SEED-1",
        "ship_date": "2026-12-01",
        "lines": [{"po_number": "PO-200001", "line_number": 10, "quantity": "10"}],
    }
    response = client.post("/api/v1/shipment-notices/", body, format="json")
    assert response.status_code == 201, response.content
    pk: int = response.json()["id"]
    return pk


def test_every_operation_conforms_to_the_schema(api_settings, supplier, po, shippable_po):
    _, secret = api_key_create(
        supplier=supplier, name="schemathesis", scopes=list(ApiScope.values), by=None, expires_at=None
    )
    notice = _shipment_notice(secret)
    webhook, doomed = (
        webhooks.webhook_register(
            supplier=supplier, url=f"https://erp.example.com/{name}", event_types=["supplyline.*"]
        )[0]
        for name in ("kept", "deleted")
    )

    def real_objects(method: str, path: str) -> dict[str, Any]:
        """Path parameters naming ACME's own objects (documents: whichever the uploads left); DELETE gets its own
        webhook, so the delivery log is read of one that still exists."""
        document = InboundDocument.objects.filter(supplier=supplier).values_list("pk", flat=True).first()
        hook = doomed if method == "delete" else webhook
        ids = {"webhooks": hook.pk, "shipment-notices": notice, "documents": document or 0}
        return {"number": po.number, "id": ids.get(path.split("/")[3], 0)}

    headers = {"Authorization": f"Bearer {secret}"}

    with same_connection():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    failures = []
    for operation in operations:
        fixed = real_objects(operation.method, operation.path)
        names = {p.name for p in operation.path_parameters}
        strategies = [operation.as_strategy()]
        if names:
            strategies.append(operation.as_strategy(path_parameters={n: fixed[n] for n in names}))
        if valid := VALID_REQUESTS.get(f"{operation.method.upper()} {operation.path}"):
            path_parameters = {n: fixed[n] for n in names}
            strategies.append(operation.as_strategy(path_parameters=path_parameters, **valid))

        @given(case=st.one_of(*strategies))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: schemathesis.Case) -> None:
            with same_connection():
                case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            conforms()
        except (AssertionError, FailureGroup) as error:  # every operation's failures in one report
            failures.append(f"{operation.method.upper()} {operation.path}:\n{error}")
    assert not failures, "\n\n".join(failures)
