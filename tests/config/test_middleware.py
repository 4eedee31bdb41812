"""An address with a NUL byte is a 404 on every kind of route, never a database error."""

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
