"""Behaviour that needs a real Celery worker consuming from the real broker (Redis in `make test`)."""

import pytest
from django.core import mail
from django.db import connections
from django.urls import reverse

from config.celery import app
from tests.celery_worker import wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.worker]


def test_a_password_reset_mail_is_delivered_by_the_worker(
    worker, client, supplier_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_reset_password"), {"email": supplier_user.email})
    assert response.status_code == 302
    assert wait_for(lambda: len(mail.outbox) == 1), "the worker did not send the reset mail"
    message = mail.outbox[0]
    assert message.to == [supplier_user.email]
    assert message.subject.startswith("[Supplyline] ")
    assert "/accounts/password/reset/key/" in message.body


def test_html_alternatives_survive_the_trip_through_the_broker(worker):
    from suppliers.tasks import send_email

    send_email.delay(subject="Hello", body="plain", to=["x@example.com"], html="<p>rich</p>")
    assert wait_for(lambda: any(m.subject == "Hello" for m in mail.outbox))
    sent = next(m for m in mail.outbox if m.subject == "Hello")
    assert sent.alternatives[0][0] == "<p>rich</p>"


_backend_pids: list[int] = []


@app.task(name="tests.record_backend_pid")
def record_backend_pid(*, then_close: bool = False) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        _backend_pids.append(cursor.fetchone()[0])
    if then_close:  # so the test database can be dropped at the end of the run
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_tasks_reuse_the_database_connection_of_the_worker(worker, monkeypatch):
    # Celery's Django fix-up would open a new connection for every task (a cost larger than a
    # delivery's claim); the worker keeps one for CONN_MAX_AGE like a web process does.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)  # `make test` runs with 0
    _backend_pids.clear()
    for n in range(3):
        record_backend_pid.apply_async(kwargs={"then_close": n == 2}, queue="critical")
    assert wait_for(lambda: len(_backend_pids) == 3)
    assert len(set(_backend_pids)) == 1, _backend_pids
