from django.core.mail import EmailMessage, EmailMultiAlternatives

from suppliers import tasks


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
