"""Our own middleware: an address with a NUL byte is a 404 on every kind of route, never a database error;
every response carries its request id."""

import re

import pytest

pytestmark = pytest.mark.django_db

NUL_PATHS = [
    "/pos/%00/",
    "/scorecards/%00/",
    "/compliance/suppliers/%00/",
    "/exceptions/supply/%00/SKU-1/",
    "/monitor/connectors/%00/",
]


@pytest.mark.parametrize("path", NUL_PATHS)
def test_a_nul_in_a_portal_address_is_not_found(buyer_client, path):
    assert buyer_client.get(path).status_code == 404


def test_a_nul_in_an_api_address_is_a_problem_not_found(client):
    response = client.get("/api/v1/purchase-orders/PO%00/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


# --- X-Request-ID ---------------------------------------------------------------------------------


def test_a_sane_request_id_is_kept_and_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "erp-7f3a:batch_2.1"})
    assert response["X-Request-ID"] == "erp-7f3a:batch_2.1"


@pytest.mark.parametrize(
    "offered",
    [
        "x" * 129,  # too long for a log line or the trail
        "abc def",  # spaces
        "id\u00e9",  # not ASCII
        "-leading-dash",
        "a;DROP TABLE",
        "",
    ],
)
def test_an_insane_or_missing_request_id_is_replaced_by_a_new_one(client, offered):
    response = client.get("/healthz", headers={"X-Request-ID": offered} if offered else {})
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_each_request_gets_its_own_id(client):
    assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


def test_even_a_refused_address_answers_with_its_request_id(client):
    response = client.get("/pos/PO%00/", headers={"X-Request-ID": "trace-1"})
    assert response.status_code == 404
    assert response["X-Request-ID"] == "trace-1"
