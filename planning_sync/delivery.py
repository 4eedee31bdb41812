"""The delivery engine: claim due deliveries, send them, record the outcome; retry, dead-letter, replay.

PostgreSQL rows are the source of truth. A claim takes due rows with
``SELECT ... FOR UPDATE SKIP LOCKED`` and marks them in flight with a lease and
a new attempt number; a worker that dies leaves the lease to expire and the
row is claimed again. Finishing is fenced by the attempt number, so a late
finisher whose lease was taken over writes nothing. Only the oldest open
delivery of an aggregate (one PO) for a connector is claimable, so one PO's
events reach each system in commit order while other POs go on.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from planning_sync import ratelimit
from planning_sync.connectors import Outcome, connector_for
from planning_sync.envelope import cloudevent
from planning_sync.models import Connector, Delivery, OutboxEvent

logger = logging.getLogger("supplyline.delivery")
OPEN_STATUSES = (Delivery.Status.PENDING, Delivery.Status.FAILED, Delivery.Status.IN_FLIGHT)


@dataclass(frozen=True)
class EngineSettings:
    lease_s: float
    batch: int
    retry_base_s: float
    retry_cap_s: float
    circuit_threshold: int
    circuit_cooldown_s: float

    @classmethod
    def current(cls) -> EngineSettings:
        conf = settings.PLANNING_SYNC
        return cls(
            lease_s=float(conf["lease_s"]),
            batch=int(conf["batch"]),
            retry_base_s=float(conf["retry_base_s"]),
            retry_cap_s=float(conf["retry_cap_s"]),
            circuit_threshold=int(conf["circuit_threshold"]),
            circuit_cooldown_s=float(conf["circuit_cooldown_s"]),
        )


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2^(attempt-1))]."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(0, ceiling)


@contextmanager
def _bookkeeping() -> Iterator[None]:
    """A transaction for delivery bookkeeping that does not wait for the WAL flush.

    Losing the last few milliseconds of these commits in a database crash only
    turns a delivered row back into pending or in flight: it is sent again and
    the receiver drops the duplicate by its event id. Domain changes and the
    outbox rows themselves keep full durability.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield


def _due(now: dt.datetime) -> Q:
    waiting = Q(status__in=(Delivery.Status.PENDING, Delivery.Status.FAILED), next_attempt_at__lte=now)
    lease_expired = Q(status=Delivery.Status.IN_FLIGHT, lease_until__lt=now)
    return waiting | lease_expired


# The claim in one statement (one round trip, its own transaction): pick the due heads of each
# aggregate's queue, lock them skipping rows other workers hold, mark them in flight. The lease is
# provisional (the batch's worst case is set right after, once the connectors' timeouts are known).
_CLAIM_SQL = """
WITH settings AS (SELECT set_config('synchronous_commit', 'off', true)),
picked AS (
    SELECT d.id FROM planning_sync_delivery d
    JOIN planning_sync_connector c ON c.id = d.connector_id
    WHERE c.is_enabled
      AND NOT (c.circuit = 'open' AND c.circuit_opened_at > %(cooling_since)s)
      AND ((d.status IN ('pending', 'failed') AND d.next_attempt_at <= %(now)s)
           OR (d.status = 'in_flight' AND d.lease_until < %(now)s))
      AND (%(priority)s::smallint IS NULL OR d.priority = %(priority)s::smallint)
      AND NOT EXISTS (
          SELECT 1 FROM planning_sync_delivery e
          WHERE e.connector_id = d.connector_id AND e.aggregate_key = d.aggregate_key
            AND e.event_id < d.event_id AND e.status IN ('pending', 'failed', 'in_flight'))
    ORDER BY d.event_id
    LIMIT %(batch)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE planning_sync_delivery d
SET status = 'in_flight', attempts = d.attempts + 1, lease_until = %(lease_until)s
FROM picked, planning_sync_outboxevent ev, planning_sync_connector c
WHERE d.id = picked.id AND ev.id = d.event_id AND c.id = d.connector_id AND EXISTS (SELECT 1 FROM settings)
RETURNING {returning}
"""


def _fields(model: type[Any], alias: str) -> tuple[list[str], str]:
    names = [f.attname for f in model._meta.concrete_fields]
    return names, ", ".join(f"{alias}.{f.column}" for f in model._meta.concrete_fields)


# The claim returns the deliveries with their event and connector, so nothing is read twice.
_RETURNED = [_fields(Delivery, "d"), _fields(OutboxEvent, "ev"), _fields(Connector, "c")]
_CLAIM_SQL = _CLAIM_SQL.replace("{returning}", ", ".join(sql for _, sql in _RETURNED))

# Planning the claim costs several times more than running it (its NOT EXISTS and joins), and it
# runs for every wake-up: each database connection prepares it once and executes the stored plan.
_CLAIM_PARAMS = (
    ("cooling_since", "timestamptz"),
    ("now", "timestamptz"),
    ("priority", "smallint"),
    ("batch", "integer"),
    ("lease_until", "timestamptz"),
)
_CLAIM_STATEMENT = "supplyline_claim_v1"
_PREPARE_CLAIM_SQL = _CLAIM_SQL
for _position, (_name, _type) in enumerate(_CLAIM_PARAMS, start=1):
    _PREPARE_CLAIM_SQL = _PREPARE_CLAIM_SQL.replace(f"%({_name})s", f"${_position}")
_PREPARE_CLAIM_SQL = f"PREPARE {_CLAIM_STATEMENT} ({', '.join(t for _, t in _CLAIM_PARAMS)}) AS {_PREPARE_CLAIM_SQL}"
_EXECUTE_CLAIM_SQL = f"EXECUTE {_CLAIM_STATEMENT} ({', '.join(f'%({name})s' for name, _ in _CLAIM_PARAMS)})"
# The raw connections (psycopg's, renewed when Django reconnects) that hold the prepared claim.
_prepared_on: weakref.WeakSet[Any] = weakref.WeakSet()


def claim(
    *, priority: int | None, now: dt.datetime | None = None, batch: int | None = None, portable: bool = False
) -> list[Delivery]:
    """Take up to ``batch`` due deliveries, oldest event first, and mark them in flight under a lease.

    On PostgreSQL one statement does it (call it outside any other transaction: it turns off
    synchronous commit for the transaction it runs in); ``portable`` forces the ORM version
    that other databases use.
    """
    engine = EngineSettings.current()
    now = now or timezone.now()
    if connection.vendor == "postgresql" and not portable:
        return _claim_postgresql(priority=priority, now=now, batch=batch or engine.batch, engine=engine)
    earlier_open = Delivery.objects.filter(
        connector=OuterRef("connector"),
        aggregate_key=OuterRef("aggregate_key"),
        event_id__lt=OuterRef("event_id"),
        status__in=OPEN_STATUSES,
    )
    cooling = Q(connector__circuit=Connector.Circuit.OPEN) & Q(
        connector__circuit_opened_at__gt=now - dt.timedelta(seconds=engine.circuit_cooldown_s)
    )
    candidates: QuerySet[Delivery] = Delivery.objects.filter(_due(now), connector__is_enabled=True).exclude(cooling)
    if priority is not None:
        candidates = candidates.filter(priority=priority)
    with _bookkeeping():
        claimed = list(
            candidates.exclude(Exists(earlier_open))
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "connector")
            .order_by("event_id")[: batch or engine.batch]
        )
        # The batch is sent one by one: its lease must outlast every call timing out in turn.
        worst_case = sum(d.connector.timeout_s for d in claimed) + 5
        lease_until = now + dt.timedelta(seconds=max(engine.lease_s, worst_case))
        Delivery.objects.filter(id__in=[d.pk for d in claimed]).update(
            status=Delivery.Status.IN_FLIGHT, attempts=F("attempts") + 1, lease_until=lease_until
        )
    for row in claimed:  # what the update just wrote, without reading it back
        row.status, row.attempts, row.lease_until = Delivery.Status.IN_FLIGHT, row.attempts + 1, lease_until
    return claimed


def _claim_postgresql(*, priority: int | None, now: dt.datetime, batch: int, engine: EngineSettings) -> list[Delivery]:
    params = {
        "cooling_since": now - dt.timedelta(seconds=engine.circuit_cooldown_s),
        "now": now,
        "priority": priority,
        "batch": batch,
        "lease_until": now + dt.timedelta(seconds=engine.lease_s),
    }
    with connection.cursor() as cursor:
        if not settings.PLANNING_SYNC["prepared_claim"]:
            cursor.execute(_CLAIM_SQL, params)
        else:
            raw = connection.connection
            if raw not in _prepared_on:
                cursor.execute("SET plan_cache_mode TO force_generic_plan")
                cursor.execute(_PREPARE_CLAIM_SQL)
                _prepared_on.add(raw)
            cursor.execute(_EXECUTE_CLAIM_SQL, params)
        rows = cursor.fetchall()
    if not rows:
        return []
    claimed = sorted((_from_row(row) for row in rows), key=lambda d: d.event_id)
    ids = [d.pk for d in claimed]
    # The batch is sent one by one: its lease must outlast every call timing out in turn.
    worst_case = sum(d.connector.timeout_s for d in claimed) + 5
    if worst_case > engine.lease_s:
        lease_until = now + dt.timedelta(seconds=worst_case)
        Delivery.objects.filter(id__in=ids, status=Delivery.Status.IN_FLIGHT).update(lease_until=lease_until)
        for row in claimed:
            row.lease_until = lease_until
    return claimed


def _from_row(row: tuple[Any, ...]) -> Delivery:
    """Model instances from one returned row: the delivery, its event and its connector."""
    values = iter(row)
    built: list[Any] = []
    for model, (names, _) in zip((Delivery, OutboxEvent, Connector), _RETURNED, strict=True):
        fields = {f.attname: f for f in model._meta.concrete_fields}
        loaded = [_from_db_value(fields[name], next(values)) for name in names]
        built.append(model.from_db(connection.alias, names, loaded))
    delivery, event, connector = built
    delivery.event, delivery.connector = event, connector
    return delivery  # type: ignore[no-any-return]


def _from_db_value(field: Any, value: Any) -> Any:
    """What the ORM would have made of a column value (JSON decoded, for one)."""
    converter = getattr(field, "from_db_value", None)
    return converter(value, None, connection) if converter is not None and value is not None else value


def attempt(delivery: Delivery) -> str:
    """Send one claimed delivery and record what happened. Returns the new status."""
    connector = delivery.connector  # as loaded by the claim, a few milliseconds ago
    held = _hold_for_circuit(connector, delivery) or _hold_for_rate(connector, delivery)
    if held:
        return held
    started = time.monotonic()
    try:
        outcome = connector_for(connector).deliver(cloudevent(delivery.event))
    except Exception as error:  # a connector bug must not lose the delivery: it is retried like a failure
        logger.exception("connector raised", extra=_log_extra(delivery))
        outcome = Outcome(delivered=False, error=f"{type(error).__name__}: {error}")
    status = finish(delivery, outcome)
    logger.info(
        "delivery attempt",
        extra=_log_extra(delivery)
        | {"status": status, "http_status": outcome.status_code, "ms": round((time.monotonic() - started) * 1000)},
    )
    return status


def finish(delivery: Delivery, outcome: Outcome, *, now: dt.datetime | None = None) -> str:
    """Record an attempt's outcome, fenced by the attempt number; returns the status written (or 'stale')."""
    engine = EngineSettings.current()
    now = now or timezone.now()
    if outcome.delivered:
        changes: dict[str, Any] = {"status": Delivery.Status.DELIVERED, "delivered_at": now, "last_error": ""}
    elif outcome.permanent or delivery.attempts >= delivery.connector.max_attempts:
        changes = {"status": Delivery.Status.DEAD}
    else:
        delay = backoff(delivery.attempts, base=engine.retry_base_s, cap=engine.retry_cap_s)
        if outcome.retry_after is not None:
            delay = max(delay, min(outcome.retry_after, engine.retry_cap_s))
        changes = {"status": Delivery.Status.FAILED, "next_attempt_at": now + dt.timedelta(seconds=delay)}
    if not outcome.delivered:
        changes["last_error"] = outcome.error[:2000]
    changes |= {"last_status_code": outcome.status_code, "lease_until": None}
    if not _write_fenced(delivery, changes):
        return "stale"
    if not _healthy_already(delivery.connector, outcome, now):
        with _bookkeeping():
            _record_health(delivery.connector_id, outcome, now, engine)
    return str(changes["status"])


_COLUMNS = {field.name: field.column for field in Delivery._meta.concrete_fields}
_FINISH_SQL = (
    "WITH settings AS (SELECT set_config('synchronous_commit', 'off', true)) "
    "UPDATE planning_sync_delivery SET {assignments} "
    "WHERE id = %s AND attempts = %s AND status = 'in_flight' AND EXISTS (SELECT 1 FROM settings)"
)


def _write_fenced(delivery: Delivery, changes: dict[str, Any]) -> bool:
    """Write an attempt's outcome only if the attempt still owns the row (one statement on PostgreSQL)."""
    if connection.vendor != "postgresql":
        with _bookkeeping():
            return bool(
                Delivery.objects.filter(
                    pk=delivery.pk, attempts=delivery.attempts, status=Delivery.Status.IN_FLIGHT
                ).update(**changes)
            )
    # Column names come from the model's own fields, never from input; values are parameters.
    columns = [(_COLUMNS[name], value) for name, value in changes.items()]
    assignments = ", ".join(f"{column} = %s" for column, _ in columns)
    sql = _FINISH_SQL.format(assignments=assignments)
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for _, value in columns] + [delivery.pk, delivery.attempts])
        return bool(cursor.rowcount)


def _release(delivery: Delivery, *, until: dt.datetime, reason: str) -> str:
    """Give a claimed delivery back without counting an attempt (circuit open, rate limited)."""
    Delivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts, status=Delivery.Status.IN_FLIGHT).update(
        status=Delivery.Status.PENDING, attempts=F("attempts") - 1, next_attempt_at=until, lease_until=None
    )
    logger.info("delivery held", extra=_log_extra(delivery) | {"reason": reason})
    return Delivery.Status.PENDING


def _hold_for_circuit(connector: Connector, delivery: Delivery) -> str | None:
    """While a connector's circuit is open, only one probe at a time goes through after the cool-down."""
    engine = EngineSettings.current()
    now = timezone.now()
    if connector.circuit == Connector.Circuit.CLOSED:
        return None
    connector.refresh_from_db(fields=["circuit", "circuit_opened_at"])  # a probe may have closed it meanwhile
    if connector.circuit == Connector.Circuit.CLOSED:
        return None
    since = connector.circuit_opened_at or now
    # An open circuit lets one probe through after the cool-down; a half-open one whose probe
    # has not reported within a lease (held back, or its worker died) lets another one through.
    wait = engine.circuit_cooldown_s if connector.circuit == Connector.Circuit.OPEN else engine.lease_s
    reopen_at = since + dt.timedelta(seconds=wait)
    if now >= reopen_at:
        probing = Connector.objects.filter(
            pk=connector.pk, circuit=connector.circuit, circuit_opened_at=connector.circuit_opened_at
        ).update(circuit=Connector.Circuit.HALF_OPEN, circuit_opened_at=now)
        if probing:
            return None
    return _release(delivery, until=max(now, reopen_at) + dt.timedelta(seconds=0.5), reason="circuit open")


def _hold_for_rate(connector: Connector, delivery: Delivery) -> str | None:
    wait = ratelimit.take(connector.name, rate=connector.rate_per_s, burst=connector.burst)
    if wait <= 0:
        return None
    return _release(delivery, until=timezone.now() + dt.timedelta(seconds=wait), reason="rate limited")


def _healthy_already(connector: Connector, outcome: Outcome, now: dt.datetime) -> bool:
    """A success on a connector the claim saw healthy and recently successful changes nothing worth a write."""
    return (
        outcome.delivered
        and connector.circuit == Connector.Circuit.CLOSED
        and connector.consecutive_failures == 0
        and connector.last_success_at is not None
        and connector.last_success_at >= now - dt.timedelta(seconds=1)
    )


def _record_health(connector_id: int, outcome: Outcome, now: dt.datetime, engine: EngineSettings) -> None:
    connectors = Connector.objects.filter(pk=connector_id)
    if outcome.delivered or outcome.permanent:
        # The receiver answered: the connector is healthy, even when it refused this event.
        # Touch the row only when something changes or once a second: it is hot under load.
        connectors.filter(
            Q(consecutive_failures__gt=0)
            | ~Q(circuit=Connector.Circuit.CLOSED)
            | Q(last_success_at__isnull=True)
            | Q(last_success_at__lt=now - dt.timedelta(seconds=1))
        ).update(
            circuit=Connector.Circuit.CLOSED,
            consecutive_failures=0,
            circuit_opened_at=None,
            **({"last_success_at": now} if outcome.delivered else {}),
        )
        return
    connectors.update(consecutive_failures=F("consecutive_failures") + 1)
    connectors.filter(
        Q(circuit=Connector.Circuit.HALF_OPEN)
        | Q(circuit=Connector.Circuit.CLOSED, consecutive_failures__gte=engine.circuit_threshold)
    ).update(circuit=Connector.Circuit.OPEN, circuit_opened_at=now)


def dispatch(*, priority: int | None, budget_s: float = 20.0) -> int:
    """Claim and send due deliveries until none is due or the time budget is spent. Returns how many were tried."""
    deadline = time.monotonic() + budget_s
    tried = 0
    while time.monotonic() < deadline:
        batch = claim(priority=priority)
        if not batch:
            break
        for delivery in batch:
            attempt(delivery)
            tried += 1
    return tried


def replay(deliveries: QuerySet[Delivery]) -> int:
    """Send delivered or dead deliveries again, with the same event id; returns how many were queued."""
    now = timezone.now()
    count = deliveries.filter(status__in=(Delivery.Status.DELIVERED, Delivery.Status.DEAD)).update(
        status=Delivery.Status.PENDING,
        attempts=0,
        next_attempt_at=now,
        lease_until=None,
        delivered_at=None,
        replays=F("replays") + 1,
    )
    logger.info("deliveries replayed", extra={"count": count})
    return count


def replayable(
    *,
    connector: str = "",
    event_type: str = "",
    status: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    po_number: str = "",
) -> QuerySet[Delivery]:
    """Deliveries matching a replay filter (the monitor page and ``manage.py replay_deliveries``)."""
    queryset = Delivery.objects.filter(status__in=(Delivery.Status.DELIVERED, Delivery.Status.DEAD))
    if connector:
        queryset = queryset.filter(connector__name=connector)
    if event_type:
        queryset = queryset.filter(event__type=event_type)
    if status:
        queryset = queryset.filter(status=status)
    if since:
        queryset = queryset.filter(event__recorded_at__gte=since)
    if until:
        queryset = queryset.filter(event__recorded_at__lt=until)
    if po_number:
        queryset = queryset.filter(event__aggregate_key=f"purchase_order:{po_number}")
    return queryset


def _log_extra(delivery: Delivery) -> dict[str, Any]:
    event: OutboxEvent = delivery.event
    return {
        "event_id": str(event.event_id),
        "event_type": event.type,
        "po_number": event.subject if event.subject_type == "purchase_order" else None,
        "connector": delivery.connector.name,
        "attempt": delivery.attempts,
    }
