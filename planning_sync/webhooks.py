"""Suppliers' own webhook endpoints: connectors owned by a supplier, fed only that supplier's events.

A registered endpoint is a ``Connector`` of kind ``webhook`` with ``supplier`` set, signed with a
Standard Webhooks secret generated here and shown once. ``planning_sync.outbox.fan_out`` keeps the
tenant boundary: a supplier's connector gets an event only when the event names that supplier, and
only the types in ``SUPPLIER_EVENT_TYPES``.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from planning_sync.connectors.webhook import WebhookConnector
from planning_sync.models import Connector, Delivery, Subscription
from suppliers.models import Supplier

# The events a supplier may receive: those of its events feed (purchasing.selectors.api, which this app
# cannot import; a test keeps the two equal). A new type reaches supplier endpoints only once it is added
# here, whatever wildcard they subscribed with.
SUPPLIER_EVENT_TYPES = frozenset(
    {
        "supplyline.po.issued.v1",
        "supplyline.po.revised.v1",
        "supplyline.po.cancelled.v1",
        "supplyline.po.acknowledgement.overdue.v1",
        "supplyline.po.proposal.decided.v1",
        "supplyline.po.acknowledged.v1",
        "supplyline.asn.submitted.v1",
        "supplyline.asn.replaced.v1",
        "supplyline.asn.cancelled.v1",
        "supplyline.asn.received.v1",
    }
)
MAX_ENDPOINTS = 10
MAX_EVENT_TYPES = 20
# Supplier endpoints wait less than the distributor's systems: a slow one holds its dispatcher's batch.
TIMEOUT_S = 5.0
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
DELETED_ERROR = "Not sent: the endpoint was deleted."


def webhook_list(*, supplier: Supplier) -> QuerySet[Connector]:
    """The supplier's endpoints that are not deleted (deleted ones are disabled), with their subscriptions."""
    return Connector.objects.filter(supplier=supplier, is_enabled=True).prefetch_related("subscriptions")


def webhook_get(*, supplier: Supplier, pk: int) -> Connector:
    """One of the supplier's endpoints; ``Connector.DoesNotExist`` for anyone else's, or a deleted one."""
    return webhook_list(supplier=supplier).get(pk=pk)


@transaction.atomic
def webhook_register(
    *, supplier: Supplier, url: str, event_types: list[str], description: str = ""
) -> tuple[Connector, str]:
    """Register an endpoint for the supplier's events; returns it and its signing secret (shown only once).

    Locks the supplier row so that concurrent registrations keep to ``MAX_ENDPOINTS`` and unique names.
    """
    supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
    errors: dict[str, list[str]] = {}
    if url_error := webhook_url_error(url):
        errors["url"] = [url_error]
    types = list(dict.fromkeys(event_types))
    if type_errors := event_type_errors(types):
        errors["event_types"] = type_errors
    if webhook_list(supplier=supplier).count() >= MAX_ENDPOINTS:
        errors["url"] = [*errors.get("url", []), f"A supplier can register at most {MAX_ENDPOINTS} endpoints."]
    if errors:
        raise ValidationError(errors)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    config = {"url": url, "auth": {"type": "standard_webhooks", "secret": secret}}
    WebhookConnector.validate_config(config)
    connector = Connector.objects.create(
        name=_next_name(supplier),
        kind=WebhookConnector.kind,
        supplier=supplier,
        description=description,
        config=config,
        timeout_s=TIMEOUT_S,
    )
    Subscription.objects.bulk_create(Subscription(connector=connector, event_type=t) for t in types)
    return connector, secret


@transaction.atomic
def webhook_delete(*, connector: Connector) -> None:
    """Stop an endpoint: disabled (hidden from the supplier) and its waiting deliveries given up.

    The connector and its deliveries stay, for staff in the monitor and admin. Open deliveries become
    dead letters with ``DELETED_ERROR``; a dispatcher still sending one finds its fenced write refused.
    """
    Connector.objects.filter(pk=connector.pk).update(is_enabled=False)
    connector.subscriptions.update(is_active=False)
    Delivery.objects.filter(
        connector=connector,
        status__in=(Delivery.Status.PENDING, Delivery.Status.FAILED, Delivery.Status.IN_FLIGHT),
    ).update(status=Delivery.Status.DEAD, last_error=DELETED_ERROR, lease_until=None)
    connector.is_enabled = False


def webhook_url_error(url: str) -> str | None:
    """Why the URL cannot receive webhooks, or None: HTTPS to a public host, unless local ones are allowed."""
    parts = urlsplit(url)
    allow_local = settings.DEBUG or getattr(settings, "SUPPLYLINE_WEBHOOKS_ALLOW_HTTP", False)
    if len(url) > 500:
        return "Use a URL of at most 500 characters."
    if parts.scheme not in (("https", "http") if allow_local else ("https",)) or not parts.hostname:
        return "Use an https:// URL."
    if parts.username or parts.password:
        return "Leave credentials out of the URL: each request is signed with the endpoint's secret."
    if not allow_local and _is_local(parts.hostname):
        return "Use a public host: private, loopback and link-local addresses cannot receive webhooks."
    return None


def _is_local(host: str) -> bool:
    host = host.rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES) or ("." not in host and ":" not in host):
        return True  # a bare name such as "intranet" resolves only inside our network
    address = _ip_literal(host)
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, including the legacy IPv4 forms (127.1, 0x7f.1) resolvers accept."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def event_type_errors(event_types: list[str]) -> list[str]:
    """What is wrong with the types an endpoint asks for: exact supplier types, or prefixes ending in ``.*``."""
    if not event_types:
        return ["Subscribe to at least one event type."]
    if len(event_types) > MAX_EVENT_TYPES:
        return [f"Subscribe to at most {MAX_EVENT_TYPES} event types; use a wildcard such as supplyline.po.*."]
    errors = []
    for event_type in event_types:
        if event_type.endswith(".*"):
            prefix = event_type[:-1]
            known = any(t.startswith(prefix) for t in SUPPLIER_EVENT_TYPES)
        else:
            known = event_type in SUPPLIER_EVENT_TYPES
        if not known:
            errors.append(f"{event_type!r} is not an event type you can subscribe to; see docs/api.md#webhooks.")
    return errors


def _next_name(supplier: Supplier) -> str:
    """``webhook-<supplier code>-<n>``, unique among connectors; the caller holds the supplier's lock."""
    code = slugify(supplier.code).replace("_", "-").strip("-")[:30] or str(supplier.pk)
    taken = set(Connector.objects.filter(name__startswith=f"webhook-{code}-").values_list("name", flat=True))
    number = Connector.objects.filter(supplier=supplier).count() + 1
    while f"webhook-{code}-{number}" in taken:
        number += 1
    return f"webhook-{code}-{number}"
