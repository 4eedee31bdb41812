"""Services a buyer calls from a case to act on what it concerns: replay its delivery, write to its supplier.

Each does the thing and notes it in the case's history (``case_action_record``) in one transaction, so
the history never claims an action that did not happen.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from exceptions.models import ExceptionCase
from exceptions.selectors import supplier_contacts
from exceptions.services import case_action_record
from planning_sync import delivery as delivery_engine
from planning_sync.models import Delivery
from suppliers import services as supplier_services
from suppliers.models import User, is_buyer

MESSAGE_MAX = 4000


def _case_for(case_id: int, by: User, *related: str) -> ExceptionCase:
    if not is_buyer(by):
        raise ValidationError("Only buyers may act from exception cases.")
    case = ExceptionCase.objects.select_related(*related).filter(pk=case_id).first()
    if case is None:
        raise ValidationError(f"Case #{case_id} does not exist.")
    return case


def case_deliveries(case: ExceptionCase) -> list[int]:
    """The ids of the deliveries a case is about: its own, and those it lists (a connector's dead letters)."""
    listed = [int(entry["id"]) for entry in case.details.get("deliveries", []) if str(entry.get("id", "")).isdigit()]
    return sorted({*listed, *([case.delivery_id] if case.delivery_id else [])})


@transaction.atomic
def case_delivery_replay(*, case_id: int, by: User) -> int:
    """Send the case's dead deliveries again, each with its event id, so the target applies each once.

    A case of one delivery may also send it again once delivered (the target lost it); a connector's
    case replays those of its deliveries still dead. Returns how many were queued.
    """
    case = _case_for(case_id, by, "delivery__connector")
    ids = case_deliveries(case)
    if not ids:
        raise ValidationError("This case names no delivery to replay.")
    statuses = [Delivery.Status.DEAD] if len(ids) > 1 else [Delivery.Status.DEAD, Delivery.Status.DELIVERED]
    targets = Delivery.objects.filter(pk__in=ids, status__in=statuses)
    chosen = list(targets.values_list("pk", flat=True))
    if not delivery_engine.replay(Delivery.objects.filter(pk__in=chosen)):
        status = case.delivery.get_status_display().lower() if case.delivery else "not dead"
        what = f"the delivery is {status}" if len(ids) == 1 else "none of its deliveries is dead any more"
        raise ValidationError(f"Nothing was replayed: {what}, and only dead or delivered deliveries can be sent again.")
    connector = case.delivery.connector.name if case.delivery else "its connector"
    case_action_record(
        case_id=case.pk,
        by=by,
        note=f"Replayed {len(chosen)} deliver{'y' if len(chosen) == 1 else 'ies'} to {connector}, each with its "
        "event id.",
        data={"action": "replay", "deliveries": chosen},
    )
    return len(chosen)


@transaction.atomic
def case_supplier_contact(*, case_id: int, by: User, message: str) -> list[User]:
    """E-mail the case's supplier (its admins and order desk) a buyer's message; returns who gets it.

    The mails leave once the transaction commits. The message goes into the case's history as written.
    """
    case = _case_for(case_id, by, "supplier", "po", "shipment")
    message = message.strip()
    if not message:
        raise ValidationError({"message": "Write a message."})
    if len(message) > MESSAGE_MAX:
        raise ValidationError({"message": f"Keep the message to {MESSAGE_MAX} characters (it has {len(message)})."})
    if case.supplier is None:
        raise ValidationError("This case names no supplier to write to.")
    recipients = supplier_contacts(case)
    if not recipients:
        raise ValidationError(f"{case.supplier.name} has no active admin or order-desk user to write to.")
    for user in recipients:
        supplier_services.email_enqueue(_supplier_message(case, to=user, by=by, message=message))
    case_action_record(
        case_id=case.pk,
        by=by,
        note=message,
        data={"action": "contact", "to": [user.email for user in recipients]},
    )
    return recipients


def _supplier_message(case: ExceptionCase, *, to: User, by: User, message: str) -> EmailMultiAlternatives:
    # Only what the supplier may see: the PO or ASN and the buyer's words, never the case's own findings.
    po_url = settings.SUPPLYLINE_BASE_URL + reverse("purchasing:po-detail", args=[case.po.number]) if case.po else ""
    ctx = {
        "user": to,
        "by": by,
        "message": message,
        "supplier": case.supplier,
        "po": case.po,
        "shipment": case.shipment,
        "po_url": po_url,
    }
    about = (
        f"purchase order {case.po.number}"
        if case.po
        else f"shipment notice {case.shipment.number}"
        if case.shipment
        else ""
    )
    subject = f"Message from {by.get_full_name() or by.email}" + (f" about {about}" if about else "")
    mail = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}",
        body=render_to_string("exceptions/email/supplier_message.txt", ctx),
        to=[to.email],
    )
    mail.attach_alternative(render_to_string("exceptions/email/supplier_message.html", ctx), "text/html")
    return mail
