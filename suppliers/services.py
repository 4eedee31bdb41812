from collections.abc import Iterable

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction

from suppliers import tasks
from suppliers.models import NotificationKind, NotificationOptOut, User


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


@transaction.atomic
def notification_preferences_set(*, user: User, wanted: Iterable[str]) -> None:
    """Opt the user out of every kind of e-mail not in ``wanted``."""
    unwanted = set(NotificationKind.values) - set(wanted)
    NotificationOptOut.objects.filter(user=user).exclude(kind__in=unwanted).delete()
    NotificationOptOut.objects.bulk_create(
        [NotificationOptOut(user=user, kind=kind) for kind in sorted(unwanted)], ignore_conflicts=True
    )
