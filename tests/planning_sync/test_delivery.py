"""The delivery engine against a real HTTP receiver on 127.0.0.1 and real PostgreSQL row locks."""

import datetime as dt
import json
import random
from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from planning_sync import delivery, tasks
from planning_sync.connectors import Outcome, connector_for
from planning_sync.connectors.webhook import WebhookConnector, retry_after_seconds
from planning_sync.models import Connector, Delivery, OutboxEvent, Subscription
from planning_sync.outbox import record_event
from tests.factories import PurchaseOrderFactory
from tests.planning_sync.receiver import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def erp(receiver, settings) -> Connector:
    settings.PLANNING_SYNC = {**settings.PLANNING_SYNC, "retry_base_s": 0.01, "retry_cap_s": 0.05}
    connector = Connector.objects.create(
        name="erp", kind="webhook", config={"url": receiver.url}, timeout_s=2, max_attempts=4
    )
    Subscription.objects.create(connector=connector, event_type="supplyline.po.*")
    return connector


def _record(po, type_="po.acknowledged", **data) -> OutboxEvent:
    with transaction.atomic():
        return record_event(type_, subject=po, data={"po_number": po.number, **data}, critical=True)


def _deliver_all(rounds: int = 20) -> None:
    """Dispatch until nothing is due (retries are scheduled a few ms ahead in these tests)."""
    for _ in range(rounds):
        Delivery.objects.filter(status=Delivery.Status.FAILED).update(next_attempt_at=timezone.now())
        if not delivery.dispatch(priority=None, budget_s=5):
            return


def test_an_event_gets_one_delivery_per_subscribed_connector(erp, supplier):
    other = Connector.objects.create(name="planning", kind="webhook", config={"url": "http://127.0.0.1:9/x"})
    Subscription.objects.create(connector=other, event_type="supplyline.po.acknowledged.v1")
    Connector.objects.create(name="idle", kind="webhook", config={"url": "http://127.0.0.1:9/y"})
    event = _record(PurchaseOrderFactory(supplier=supplier))
    assert set(event.deliveries.values_list("connector__name", flat=True)) == {"erp", "planning"}
    assert _record(PurchaseOrderFactory(supplier=supplier), "po.revised").deliveries.count() == 1


def test_a_connector_with_a_delivery_class_gets_every_delivery_in_that_class(erp, supplier):
    rules = Connector.objects.create(
        name="rules", kind="webhook", config={"url": "http://127.0.0.1:9/x"}, delivery_class=5
    )
    Subscription.objects.create(connector=rules, event_type="supplyline.*")
    event = _record(PurchaseOrderFactory(supplier=supplier))  # a critical event
    priorities = dict(event.deliveries.values_list("connector__name", "priority"))
    assert priorities == {"erp": OutboxEvent.Priority.CRITICAL, "rules": OutboxEvent.Priority.DEFAULT}


def test_a_disabled_connector_or_subscription_gets_nothing(erp, supplier):
    Connector.objects.filter(pk=erp.pk).update(is_enabled=False)
    assert not _record(PurchaseOrderFactory(supplier=supplier)).deliveries.exists()


def test_a_delivery_posts_the_cloudevent_with_its_id_as_idempotency_key(erp, receiver, supplier):
    po = PurchaseOrderFactory(supplier=supplier)
    event = _record(po)
    _deliver_all()
    (request,) = receiver.requests
    body = json.loads(request["body"])
    assert body["specversion"] == "1.0"
    assert body["id"] == str(event.event_id) == request["headers"]["Idempotency-Key"]
    assert body["type"] == "supplyline.po.acknowledged.v1"
    assert body["subject"] == po.number
    assert request["headers"]["Content-Type"] == "application/cloudevents+json"
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_one_pos_events_go_out_in_commit_order_and_a_failure_holds_back_only_that_po(erp, receiver, supplier, settings):
    settings.PLANNING_SYNC = {**settings.PLANNING_SYNC, "retry_base_s": 60, "retry_cap_s": 60}
    first_po, second_po = PurchaseOrderFactory(supplier=supplier), PurchaseOrderFactory(supplier=supplier)
    a1 = _record(first_po, step=1)
    b1 = _record(second_po, step=1)
    a2 = _record(first_po, step=2)
    receiver.answer(500)  # a1 fails once
    delivery.dispatch(priority=None, budget_s=5)
    sent = [e["id"] for e in receiver.events()]
    assert sent == [str(a1.event_id), str(b1.event_id)]  # a2 waits behind the failed a1; b1 went on
    assert Delivery.objects.get(event=a2).status == Delivery.Status.PENDING
    _deliver_all()
    ids = [e["id"] for e in receiver.events()]
    assert ids.index(str(a2.event_id)) > ids.index(str(a1.event_id), 1)


def test_claim_skips_rows_another_worker_holds(erp, supplier):
    _record(PurchaseOrderFactory(supplier=supplier))
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get()
        # A second connection would skip the locked row; in this connection, prove the lease excludes it.
        claimed = delivery.claim(priority=None)
        assert [d.pk for d in claimed] == [locked.pk]
    assert delivery.claim(priority=None) == []  # in flight under its lease


def test_an_expired_lease_is_claimed_again_and_the_late_finisher_is_fenced_off(erp, supplier):
    _record(PurchaseOrderFactory(supplier=supplier))
    (first,) = delivery.claim(priority=None)
    later = timezone.now() + dt.timedelta(seconds=60)
    (second,) = delivery.claim(priority=None, now=later)
    assert second.attempts == first.attempts + 1
    assert delivery.finish(first, Outcome(delivered=True, status_code=200)) == "stale"
    assert delivery.finish(second, Outcome(delivered=True, status_code=200)) == Delivery.Status.DELIVERED


def test_retries_back_off_and_honour_retry_after(erp, supplier):
    _record(PurchaseOrderFactory(supplier=supplier))
    (claimed,) = delivery.claim(priority=None)
    now = timezone.now()
    delivery.finish(claimed, Outcome(delivered=False, status_code=429, retry_after=0.04), now=now)
    row = Delivery.objects.get()
    assert row.status == Delivery.Status.FAILED
    assert row.next_attempt_at >= now + dt.timedelta(seconds=0.04)
    assert row.last_status_code == 429


def test_full_jitter_stays_within_the_exponential_ceiling():
    rng = random.Random(7)
    delays = [delivery.backoff(n, base=0.5, cap=30, rng=rng) for n in range(1, 12) for _ in range(50)]
    assert all(0 <= d <= 30 for d in delays)
    assert max(delivery.backoff(1, base=0.5, cap=30, rng=rng) for _ in range(100)) <= 0.5


@pytest.mark.parametrize(
    ("status", "expected"), [(400, "dead"), (404, "dead"), (409, "failed"), (429, "failed"), (503, "failed")]
)
def test_permanent_errors_go_to_dead_letter_and_others_retry(erp, receiver, supplier, settings, status, expected):
    settings.PLANNING_SYNC = {**settings.PLANNING_SYNC, "retry_base_s": 60, "retry_cap_s": 60}
    receiver.answer(status)
    _record(PurchaseOrderFactory(supplier=supplier))
    delivery.dispatch(priority=None, budget_s=5)
    row = Delivery.objects.get()
    assert row.status == expected
    assert f"HTTP {status}" in row.last_error


def test_too_many_attempts_end_in_dead_letter_with_the_error_kept(erp, receiver, supplier):
    receiver.answer(500, 500, 500, 500, 500)
    _record(PurchaseOrderFactory(supplier=supplier))
    _deliver_all()
    row = Delivery.objects.get()
    assert (row.status, row.attempts) == (Delivery.Status.DEAD, 4)
    assert "HTTP 500" in row.last_error


def test_an_unreachable_receiver_is_retried(supplier, settings):
    connector = Connector.objects.create(name="down", kind="webhook", config={"url": "http://127.0.0.1:9/none"})
    Subscription.objects.create(connector=connector, event_type="supplyline.*")
    _record(PurchaseOrderFactory(supplier=supplier))
    delivery.dispatch(priority=None, budget_s=5)
    row = Delivery.objects.get()
    assert row.status == Delivery.Status.FAILED
    assert "ConnectError" in row.last_error


def test_the_circuit_opens_after_repeated_failures_and_a_probe_closes_it(erp, receiver, supplier, settings):
    settings.PLANNING_SYNC = {**settings.PLANNING_SYNC, "circuit_threshold": 2, "circuit_cooldown_s": 0.2}
    receiver.answer(500, 500)
    _record(PurchaseOrderFactory(supplier=supplier))
    _record(PurchaseOrderFactory(supplier=supplier))
    delivery.dispatch(priority=None, budget_s=5)
    erp.refresh_from_db()
    assert erp.circuit == Connector.Circuit.OPEN
    calls = len(receiver.requests)
    Delivery.objects.update(next_attempt_at=timezone.now())
    delivery.dispatch(priority=None, budget_s=1)
    assert len(receiver.requests) == calls  # paused while cooling down
    later = timezone.now() + dt.timedelta(seconds=1)
    Connector.objects.filter(pk=erp.pk).update(circuit_opened_at=timezone.now() - dt.timedelta(seconds=1))
    Delivery.objects.update(next_attempt_at=later - dt.timedelta(seconds=2))
    _deliver_all()
    erp.refresh_from_db()
    assert erp.circuit == Connector.Circuit.CLOSED
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.DELIVERED}


def test_the_rate_limit_holds_deliveries_without_spending_attempts(erp, receiver, supplier):
    Connector.objects.filter(pk=erp.pk).update(rate_per_s=1, burst=1, name="erp-slow")
    for _ in range(3):
        _record(PurchaseOrderFactory(supplier=supplier))
    delivery.dispatch(priority=None, budget_s=1)
    assert len(receiver.requests) == 1
    held = Delivery.objects.filter(status=Delivery.Status.PENDING)
    assert held.count() == 2
    assert all(d.attempts == 0 for d in held)


def test_replay_sends_the_same_event_id_again(erp, receiver, supplier):
    po = PurchaseOrderFactory(supplier=supplier)
    event = _record(po)
    _deliver_all()
    assert delivery.replay(delivery.replayable(po_number=po.number)) == 1
    _deliver_all()
    assert [e["id"] for e in receiver.events()] == [str(event.event_id)] * 2
    row = Delivery.objects.get()
    assert (row.status, row.replays) == (Delivery.Status.DELIVERED, 1)


def test_replay_leaves_pending_work_alone(erp, supplier):
    _record(PurchaseOrderFactory(supplier=supplier))
    assert delivery.replay(Delivery.objects.all()) == 0


def test_critical_and_default_priorities_are_claimed_separately(erp, supplier):
    po = PurchaseOrderFactory(supplier=supplier)
    with transaction.atomic():
        record_event("po.revised", subject=po, data={})
    critical = _record(PurchaseOrderFactory(supplier=supplier))
    claimed = delivery.claim(priority=OutboxEvent.Priority.CRITICAL)
    assert [d.event_id for d in claimed] == [critical.pk]


def test_a_standard_webhooks_signature_verifies(receiver, supplier):
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    connector = Connector.objects.create(
        name="signed",
        kind="webhook",
        config={"url": receiver.url, "auth": {"type": "standard_webhooks", "secret": secret}},
    )
    Subscription.objects.create(connector=connector, event_type="supplyline.*")
    _record(PurchaseOrderFactory(supplier=supplier))
    _deliver_all()
    (request,) = receiver.requests
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert Webhook(secret).verify(request["body"], headers)["type"] == "supplyline.po.acknowledged.v1"


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"type": "bearer", "token": "t0k"}, "Bearer t0k"),
        ({"type": "basic", "username": "u", "password": "p"}, "Basic dTpw"),
    ],
)
def test_bearer_and_basic_authentication(receiver, supplier, auth, expected):
    connector = Connector.objects.create(name="auth", kind="webhook", config={"url": receiver.url, "auth": auth})
    Subscription.objects.create(connector=connector, event_type="supplyline.*")
    _record(PurchaseOrderFactory(supplier=supplier))
    _deliver_all()
    assert receiver.requests[0]["headers"]["Authorization"] == expected


def test_a_payload_mapping_reshapes_the_body_for_the_receiver(receiver, supplier):
    mapping = {"order": "/data/po_number", "kind": "/type", "eventId": "/id"}
    connector = Connector.objects.create(
        name="mapped", kind="webhook", config={"url": receiver.url, "mapping": mapping}
    )
    Subscription.objects.create(connector=connector, event_type="supplyline.*")
    po = PurchaseOrderFactory(supplier=supplier)
    event = _record(po)
    _deliver_all()
    assert receiver.events() == [
        {"order": po.number, "kind": "supplyline.po.acknowledged.v1", "eventId": str(event.event_id)}
    ]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"url": "ftp://x"}, "url"),
        ({"url": "https://erp.example", "auth": {"type": "oauth"}}, "auth"),
        ({"url": "https://erp.example", "auth": {"type": "bearer"}}, "auth.token"),
        ({"url": "https://erp.example", "auth": {"type": "standard_webhooks", "secret": "%%%"}}, "auth.secret"),
        ({"url": "https://erp.example", "mapping": {"x": "data"}}, "mapping"),
    ],
)
def test_webhook_settings_are_validated_with_the_setting_named(config, field):
    with pytest.raises(ValidationError) as excinfo:
        WebhookConnector.validate_config(config)
    assert field in excinfo.value.message_dict


def test_an_unknown_connector_kind_is_refused(db):
    with pytest.raises(ValidationError, match="Unknown connector kind"):
        connector_for(Connector(name="x", kind="carrier-pigeon"))


def test_retry_after_reads_seconds_and_http_dates():
    now = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds("Sun, 29 Nov 2026 12:00:05 GMT", now) == 5
    assert retry_after_seconds("soon") is None


def test_a_flood_of_bulk_work_never_delays_a_critical_delivery(erp, receiver, supplier):
    flood_po = PurchaseOrderFactory(supplier=supplier)
    events = OutboxEvent.objects.bulk_create(
        OutboxEvent(
            type="supplyline.import.row.v1",
            subject_type="import",
            subject=str(n),
            aggregate_key=f"import:{n}",
            data={},
            priority=OutboxEvent.Priority.BULK,
        )
        for n in range(3000)
    )
    Delivery.objects.bulk_create(
        Delivery(
            event=e, connector=erp, aggregate_key=e.aggregate_key, priority=e.priority, next_attempt_at=timezone.now()
        )
        for e in events
    )
    critical = _record(flood_po)
    assert tasks.dispatch_deliveries.run(OutboxEvent.Priority.CRITICAL) == 1
    assert [e["id"] for e in receiver.events()] == [str(critical.event_id)]
    assert Delivery.objects.filter(priority=OutboxEvent.Priority.BULK, status=Delivery.Status.PENDING).count() == 3000


def test_wake_ups_go_to_the_queue_of_their_priority():
    assert tasks.QUEUE_OF_PRIORITY == {
        OutboxEvent.Priority.CRITICAL: "critical",
        OutboxEvent.Priority.DEFAULT: "default",
        OutboxEvent.Priority.BULK: "bulk",
    }


def test_delivery_logs_are_json_lines_with_the_event_id_and_po_number(erp, supplier, caplog):
    import logging

    from pythonjsonlogger.json import JsonFormatter

    po = PurchaseOrderFactory(supplier=supplier)
    event = _record(po)
    with caplog.at_level(logging.INFO, logger="supplyline.delivery"):
        _deliver_all()
    record = next(r for r in caplog.records if r.getMessage() == "delivery attempt")
    line = json.loads(JsonFormatter("%(levelname)s %(name)s %(message)s").format(record))
    assert line["event_id"] == str(event.event_id)
    assert line["po_number"] == po.number
    assert line["status"] == "delivered"
    assert line["connector"] == "erp"


def test_a_refusing_probe_closes_the_circuit(erp, receiver, supplier):
    Connector.objects.filter(pk=erp.pk).update(
        circuit=Connector.Circuit.OPEN, circuit_opened_at=timezone.now() - dt.timedelta(seconds=60)
    )
    receiver.answer(400)
    _record(PurchaseOrderFactory(supplier=supplier))
    delivery.dispatch(priority=None, budget_s=2)
    erp.refresh_from_db()
    assert erp.circuit == Connector.Circuit.CLOSED
    assert Delivery.objects.get().status == Delivery.Status.DEAD


def test_a_lost_probe_lets_another_through_after_a_lease(erp, receiver, supplier, settings):
    settings.PLANNING_SYNC = {**settings.PLANNING_SYNC, "lease_s": 5}
    Connector.objects.filter(pk=erp.pk).update(
        circuit=Connector.Circuit.HALF_OPEN, circuit_opened_at=timezone.now() - dt.timedelta(seconds=1)
    )
    _record(PurchaseOrderFactory(supplier=supplier))
    delivery.dispatch(priority=None, budget_s=1)
    assert receiver.requests == []  # a probe is (presumably) under way
    Connector.objects.filter(pk=erp.pk).update(circuit_opened_at=timezone.now() - dt.timedelta(seconds=6))
    Delivery.objects.update(next_attempt_at=timezone.now())
    delivery.dispatch(priority=None, budget_s=2)
    erp.refresh_from_db()
    assert erp.circuit == Connector.Circuit.CLOSED
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_a_batch_lease_outlasts_every_call_timing_out(erp, supplier):
    Connector.objects.filter(pk=erp.pk).update(timeout_s=10)
    for _ in range(5):
        _record(PurchaseOrderFactory(supplier=supplier))
    now = timezone.now()
    claimed = delivery.claim(priority=None, now=now)
    assert len(claimed) == 5
    assert all(d.lease_until >= now + dt.timedelta(seconds=50) for d in claimed)


@pytest.mark.parametrize("portable", [False, True], ids=["postgresql-statement", "orm"])
def test_both_claims_take_the_head_of_each_pos_queue_and_lease_it(erp, supplier, portable):
    first_po, second_po = PurchaseOrderFactory(supplier=supplier), PurchaseOrderFactory(supplier=supplier)
    a1, b1 = _record(first_po, step=1), _record(second_po, step=1)
    _record(first_po, step=2)
    now = timezone.now()
    claimed = delivery.claim(priority=None, now=now, portable=portable)
    assert [d.event_id for d in claimed] == [a1.pk, b1.pk]
    assert all(d.status == Delivery.Status.IN_FLIGHT and d.attempts == 1 for d in claimed)
    stored = Delivery.objects.filter(status=Delivery.Status.IN_FLIGHT)
    assert {d.pk for d in stored} == {d.pk for d in claimed}
    assert all(d.lease_until > now for d in stored)
    assert delivery.claim(priority=None, now=now, portable=portable) == []


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return [name for (name,) in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_the_claim_is_prepared_once_per_connection_and_again_after_a_reconnect(erp, supplier):
    po = PurchaseOrderFactory(supplier=supplier)
    first, second = _record(po, step=1), _record(po, step=2)
    connection.close()
    assert [d.event_id for d in delivery.claim(priority=None)] == [first.pk]
    assert _prepared_statements() == ["supplyline_claim_v1"]
    Delivery.objects.filter(event=first).update(status=Delivery.Status.DELIVERED)
    assert [d.event_id for d in delivery.claim(priority=None)] == [second.pk]  # the stored plan
    Delivery.objects.filter(event=second).update(status=Delivery.Status.DELIVERED)
    third = _record(po, step=3)
    connection.close()  # a new session knows nothing of the old one's statements
    assert _prepared_statements() == []
    assert [d.event_id for d in delivery.claim(priority=None)] == [third.pk]
    assert _prepared_statements() == ["supplyline_claim_v1"]


@pytest.mark.django_db(transaction=True)
def test_the_claim_runs_unprepared_when_turned_off(erp, supplier, settings):
    settings.PLANNING_SYNC = {**settings.PLANNING_SYNC, "prepared_claim": False}
    first = _record(PurchaseOrderFactory(supplier=supplier), step=1)
    connection.close()
    assert [d.event_id for d in delivery.claim(priority=None)] == [first.pk]
    assert _prepared_statements() == []
