import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from suppliers import tasks
from suppliers.models import (
    NOTIFIED_ROLES,
    ApiKey,
    NotificationKind,
    NotificationOptOut,
    Supplier,
    SupplierMembership,
    User,
)


def email_enqueue(message: EmailMessage) -> None:
    """Send a rendered message from a worker, once the current transaction commits."""
    html = None
    if isinstance(message, EmailMultiAlternatives):
        html = next((str(body) for body, mimetype in message.alternatives if mimetype == "text/html"), None)
    # celery-types does not know Celery 5.4+'s delay_on_commit yet.
    tasks.send_email.delay_on_commit(  # type: ignore[attr-defined]
        subject=str(message.subject),
        body=str(message.body),
        to=list(message.to),
        from_email=message.from_email,
        html=html,
    )


def notification_recipients(supplier_id: int, kind: NotificationKind) -> list[User]:
    """The supplier's active users whose role gets ``kind`` (NOTIFIED_ROLES) and who did not opt out of it."""
    memberships = (
        SupplierMembership.objects.active()
        .filter(supplier_id=supplier_id, role__in=NOTIFIED_ROLES[kind], user__is_active=True)
        .exclude(user__notification_opt_outs__kind=kind)
        .select_related("user")
    )
    return [m.user for m in memberships]


def notify_users(users: Iterable[User], template: str, context: dict[str, Any]) -> int:
    """Queue one mail per user, sent once the current transaction commits; returns how many.

    ``template`` names three templates: ``<template>_subject.txt``, ``<template>.txt`` and ``<template>.html``,
    each rendered with ``context`` and the ``user`` and ``settings_url`` (their e-mail settings) of the mail.
    """
    users = list(users)
    base = {"settings_url": settings.SUPPLYLINE_BASE_URL + reverse("suppliers:notification-settings"), **context}
    for user in users:
        ctx = {**base, "user": user}
        subject = render_to_string(f"{template}_subject.txt", ctx).strip()
        message = EmailMultiAlternatives(
            subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}",
            body=render_to_string(f"{template}.txt", ctx),
            to=[user.email],
        )
        message.attach_alternative(render_to_string(f"{template}.html", ctx), "text/html")
        email_enqueue(message)
    return len(users)


@transaction.atomic
def notification_preferences_set(*, user: User, wanted: Iterable[str]) -> None:
    """Opt the user out of every kind of e-mail not in ``wanted``."""
    unwanted = set(NotificationKind.values) - set(wanted)
    NotificationOptOut.objects.filter(user=user).exclude(kind__in=unwanted).delete()
    NotificationOptOut.objects.bulk_create(
        [NotificationOptOut(user=user, kind=kind) for kind in sorted(unwanted)], ignore_conflicts=True
    )


def _new_api_key_secret() -> tuple[str, str]:
    """A key (the prefix then 256 random bits) and its visible prefix."""
    prefix = f"{ApiKey.KEY_START}{secrets.token_hex(4)}"
    return f"{prefix}{secrets.token_urlsafe(32)}", prefix


@transaction.atomic
def api_key_create(
    *, supplier: Supplier, name: str, scopes: list[str], by: User | None, expires_at: datetime | None
) -> tuple[ApiKey, str]:
    """Create an API key; returns it with the full key, which is shown once and stored only as a hash."""
    for _attempt in range(3):
        key, prefix = _new_api_key_secret()
        api_key = ApiKey(
            supplier=supplier,
            name=name,
            prefix=prefix,
            secret_hash=hashlib.sha256(key.encode()).hexdigest(),
            scopes=sorted(set(scopes)),
            created_by=by,
            expires_at=expires_at,
        )
        api_key.full_clean()
        try:
            # A savepoint: a prefix clash (32 random bits) rolls back this insert only, and we draw again.
            with transaction.atomic():
                api_key.save()
        except IntegrityError:
            continue
        return api_key, key
    raise RuntimeError("Could not draw a unique API key prefix.")


def api_key_revoke(*, key: ApiKey, by: User | None) -> bool:
    """Revoke a key for good; False if it was revoked already (the first revocation's record stays)."""
    revoked = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=by)
    key.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return revoked == 1
