"""Our own middleware: an address with a NUL byte is a 404 on every kind of route, never a database error;
every response carries its request id, and so does every log line written while it is served."""

import io
import json
import logging
import re

import pytest
from celery.signals import task_postrun, task_prerun
from pythonjsonlogger.json import JsonFormatter

from config.log_context import PlainFormatter, RequestIdFilter
from suppliers.tasks import prune_idempotency_records

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


@pytest.fixture
def console():
    """The console handler LOGGING sets up, writing into a buffer for the test."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RequestIdFilter) for f in h.filters))
    buffer = io.StringIO()
    stream, formatter = handler.setStream(buffer), handler.formatter
    yield handler, buffer
    handler.setStream(stream)
    handler.setFormatter(formatter)


def test_log_lines_written_while_a_request_is_served_carry_its_id(client, console):
    _, buffer = console
    assert client.get("/no-such-page/", headers={"X-Request-ID": "trace-2"}).status_code == 404
    logging.getLogger("supplyline.test").warning("after the request")
    during, after = buffer.getvalue().splitlines()[-2:]
    assert "WARNING django.request [trace-2] Not Found: /no-such-page/" in during
    assert "[-] after the request" in after


def test_json_log_lines_carry_the_request_id_as_a_field(client, console, settings):
    handler, buffer = console
    options = {key: value for key, value in settings.LOGGING["formatters"]["json"].items() if key != "()"}
    handler.setFormatter(JsonFormatter(**options))
    response = client.get("/no-such-page/")
    line = json.loads(buffer.getvalue().splitlines()[-1])
    assert (line["logger"], line["message"]) == ("django.request", "Not Found: /no-such-page/")
    assert line["request_id"] == response["X-Request-ID"]


def test_log_lines_written_while_a_task_runs_carry_its_id(console, settings):
    """The worker logs through the same handlers (worker_hijack_root_logger is off); its lines carry the task."""
    handler, buffer = console
    options = {key: value for key, value in settings.LOGGING["formatters"]["json"].items() if key != "()"}
    handler.setFormatter(JsonFormatter(**options))
    prune_idempotency_records.apply(task_id="task-7")  # its prerun and postrun signals, as in a worker
    logging.getLogger("supplyline.test").warning("after the task")
    assert json.loads(buffer.getvalue().splitlines()[-1])["task_id"] == "-"
    task_prerun.send(sender=prune_idempotency_records, task_id="task-8", task=prune_idempotency_records)
    logging.getLogger("supplyline.test").warning("in the task")
    task_postrun.send(sender=prune_idempotency_records, task_id="task-8", task=prune_idempotency_records)
    during = json.loads(buffer.getvalue().splitlines()[-1])
    assert (during["message"], during["task_id"], during["request_id"]) == ("in the task", "task-8", "-")


def test_plain_lines_name_the_task_where_there_is_no_request(console, settings):
    """The development console (LOG_FORMAT=plain): a worker's lines say which task wrote them."""
    handler, buffer = console
    handler.setFormatter(PlainFormatter(settings.LOGGING["formatters"]["plain"]["format"]))
    task_prerun.send(sender=prune_idempotency_records, task_id="task-9", task=prune_idempotency_records)
    logging.getLogger("supplyline.test").warning("in the task")
    task_postrun.send(sender=prune_idempotency_records, task_id="task-9", task=prune_idempotency_records)
    assert "WARNING supplyline.test [task task-9] in the task" in buffer.getvalue().splitlines()[-1]
