"""E-mail to a supplier's users about its purchase orders, by role, honouring opt-outs."""

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from purchasing import tasks
from purchasing.models import PurchaseOrder
from suppliers import services as supplier_services
from suppliers.models import NOTIFIED_ROLES, NotificationKind, SupplierMembership, User


def recipients(po: PurchaseOrder, kind: NotificationKind) -> list[User]:
    memberships = (
        SupplierMembership.objects.active()
        .filter(supplier_id=po.supplier_id, role__in=NOTIFIED_ROLES[kind], user__is_active=True)
        .exclude(user__notification_opt_outs__kind=kind)
        .select_related("user")
    )
    return [m.user for m in memberships]


def notify_supplier(po: PurchaseOrder, kind: NotificationKind, **context: Any) -> int:
    """Queue one mail per recipient, sent once the current transaction commits. Returns how many."""
    users = recipients(po, kind)
    base = {
        "po": po,
        "kind": kind,
        "po_url": settings.SUPPLYLINE_BASE_URL + reverse("purchasing:po-detail", args=[po.number]),
        "settings_url": settings.SUPPLYLINE_BASE_URL + reverse("suppliers:notification-settings"),
        **context,
    }
    for user in users:
        ctx = {**base, "user": user}
        subject = render_to_string(f"purchasing/email/{kind}_subject.txt", ctx).strip()
        message = EmailMultiAlternatives(
            subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}",
            body=render_to_string(f"purchasing/email/{kind}.txt", ctx),
            to=[user.email],
        )
        message.attach_alternative(render_to_string(f"purchasing/email/{kind}.html", ctx), "text/html")
        supplier_services.email_enqueue(message)
    return len(users)


def send_to_edi_supplier(po: PurchaseOrder) -> None:
    """An EDI supplier gets the PO's revision as an 850 or ORDERS, sent once the transaction commits."""
    if po.supplier.edi_standard:
        # celery-types does not know Celery 5.4+'s delay_on_commit yet.
        tasks.send_purchase_order_document.delay_on_commit(po.pk)  # type: ignore[attr-defined]
