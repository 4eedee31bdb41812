"""The JSON-RPC client against a real trytond: sessions, value conversion, and errors that say whether to retry."""

import datetime as dt
import socket
from decimal import Decimal

import pytest

from planning_sync.connectors.tryton.rpc import TrytonClient, TrytonError
from tests.planning_sync.receiver import Receiver


def test_logs_in_on_the_first_call_and_reads_with_the_users_company(tryton):
    client = tryton.connect()

    (party,) = client.search_read("party.party", [("code", "=", "ACME-T")], ["name", "code"])

    assert party == {"id": tryton.ids["supplier"], "name": "ACME Tryton Supplies", "code": "ACME-T"}
    (user,) = client.read("res.user", [tryton.ids["admin"]], ["company"])
    assert user["company"] == tryton.ids["company"]
    client.close()


def test_decimals_and_dates_travel_both_ways(tryton):
    ids = tryton.ids
    (purchase,) = tryton.client.create(
        "purchase.purchase",
        [
            {
                "party": ids["supplier"],
                "invoice_address": ids["supplier_address"],
                "warehouse": ids["warehouse"],
                "currency": ids["usd"],
                "invoice_method": "manual",
                "purchase_date": dt.date(2026, 12, 1),
                "lines": [
                    [
                        "create",
                        [
                            {
                                "product": ids["product_t1"],
                                "quantity": 10.0,
                                "unit": ids["unit"],
                                "unit_price": Decimal("2.5000"),
                            }
                        ],
                    ]
                ],
            }
        ],
    )

    (row,) = tryton.client.read("purchase.purchase", [purchase], ["purchase_date", "total_amount", "write_date"])
    assert row["purchase_date"] == dt.date(2026, 12, 1)
    assert row["total_amount"] == Decimal("25.00")
    assert row["write_date"] is None or isinstance(row["write_date"], dt.datetime)


def test_a_refused_login_is_permanent(tryton):
    client = TrytonClient(
        url=tryton.url, database=tryton.database, username="admin", password="not-the-password", timeout=5
    )

    with pytest.raises(TrytonError) as error:
        client.search_read("party.party", [], ["id"])

    assert (error.value.kind, error.value.retryable, error.value.status_code) == ("auth", False, 401)
    assert "refused the login of 'admin'" in error.value.message


def test_a_user_error_is_permanent_and_readable(tryton):
    with pytest.raises(TrytonError) as error:
        tryton.client.create("currency.currency", [{"name": "No code"}])

    assert error.value.kind == "UserError"
    assert error.value.retryable is False
    assert "Code" in error.value.message
    assert len(error.value.message) <= 500


def test_a_stopped_server_is_a_retryable_network_error(tryton):
    tryton.client.search_read("party.party", [], ["id"])
    tryton.stop()

    with pytest.raises(TrytonError) as error:
        tryton.client.search_read("party.party", [], ["id"])

    assert (error.value.kind, error.value.retryable) == ("network", True)
    tryton.start()
    assert tryton.client.search_read("party.party", [("code", "=", "ACME-T")], ["id"])


def test_a_server_that_does_not_answer_times_out_retryably():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # accepts connections into the backlog and never answers
        client = TrytonClient(
            url=f"http://127.0.0.1:{listener.getsockname()[1]}",
            database="db",
            username="admin",
            password="x",
            timeout=0.2,
        )

        with pytest.raises(TrytonError) as error:
            client.call("common.server.version")

    assert (error.value.kind, error.value.retryable) == ("timeout", True)


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (500, True), (429, True), (400, False)])
def test_http_errors_are_retryable_only_when_the_server_may_recover(status, retryable):
    with Receiver() as receiver:
        receiver.answer(status)
        client = TrytonClient(url=receiver.url, database="db", username="admin", password="x", timeout=2)

        with pytest.raises(TrytonError) as error:
            client.call("common.server.version")

    assert (error.value.kind, error.value.status_code, error.value.retryable) == ("http", status, retryable)


def test_logs_in_again_once_the_session_is_gone(tryton):
    client = tryton.client
    client.search_read("party.party", [], ["id"])
    first_session = client._authorization
    client.call("common.db.logout")  # Tryton forgets the session; the next call answers 401

    rows = client.search_read("party.party", [("code", "=", "ACME-T")], ["id"])

    assert rows == [{"id": tryton.ids["supplier"]}]
    assert client._authorization not in (None, first_session)
