import smtplib

from celery import shared_task
from django.contrib.sessions.models import Session
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from suppliers.models import IdempotencyRecord


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def send_email(
    *, subject: str, body: str, to: list[str], from_email: str | None = None, html: str | None = None
) -> None:
    message = EmailMultiAlternatives(subject=subject, body=body, to=to, from_email=from_email)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()


@shared_task
def clear_expired_sessions() -> int:
    """Delete expired sessions (what `manage.py clearsessions` does), nightly from beat."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


@shared_task
def prune_idempotency_records() -> int:
    """Delete idempotency records past their 24 hours (a request reusing a key also clears its own)."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


@shared_task
def sweep_compliance_documents() -> None:
    """Daily from beat: expiry reminders (each sent once) and expired-document cases (raised and cleared by key)."""
    # Imported here: suppliers.services imports this module, and compliance imports suppliers.services.
    from suppliers.compliance import compliance_daily

    compliance_daily()
