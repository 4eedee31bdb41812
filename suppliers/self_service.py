"""Supplier self-service: the company profile, contacts, ship-from addresses and proposed item terms.

Who may do what (one small function per action, so the roles can change in one place), the services
(every write, each under ``transaction.atomic``, validating everything before writing) and the selectors
of the pages, in one module like ``suppliers.compliance``. docs/self-service.md describes the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from exceptions.models import CaseType
from exceptions.services import case_clear
from planning_sync.outbox import record_event
from suppliers.models import (
    NotificationKind,
    ShipFromAddress,
    Supplier,
    SupplierContact,
    SupplierItem,
    SupplierMembership,
    TermsProposal,
    User,
    is_buyer,
)
from suppliers.services import notification_recipients, notify_users

Role = SupplierMembership.Role
MAX_LEAD_TIME_DAYS = 730
MAX_EFFECTIVE_AHEAD = dt.timedelta(days=3 * 366)
MAX_NOTE = 2000
MAX_QUANTITY = Decimal("99999999999.999")  # what the 14-digit, 3-place column holds
CONTACT_FIELDS = ("name", "function", "email", "phone", "is_primary")
ADDRESS_FIELDS = ("label", "line1", "line2", "postal_code", "city", "region", "country", "is_default")


# --- Who may do what ---------------------------------------------------------------------------------


def role_of(user: User, supplier: Supplier) -> str | None:
    """The user's role at the supplier, if it is the supplier they act for now (docs/organisations.md);
    None for any other supplier, and for buyers, who have none."""
    return SupplierMembership.objects.acting(user).filter(supplier=supplier).values_list("role", flat=True).first()


# Which roles may take each action on their own supplier's records: the one place to change a rule.
ROLES_THAT_MAY: dict[str, tuple[str, ...]] = {
    "edit_profile": (Role.ADMIN,),
    "manage_contacts": (Role.ADMIN,),
    "manage_addresses": (Role.ADMIN,),
    "propose_terms": (Role.ADMIN, Role.ORDER_DESK),
}


def role_may(role: str | None, action: str) -> bool:
    """Whether ``role`` (from ``role_of``) may take ``action``: a page showing several actions asks once."""
    return role in ROLES_THAT_MAY[action]


def may_edit_profile(user: User, supplier: Supplier) -> bool:
    return role_may(role_of(user, supplier), "edit_profile")


def may_manage_contacts(user: User, supplier: Supplier) -> bool:
    return role_may(role_of(user, supplier), "manage_contacts")


def may_manage_addresses(user: User, supplier: Supplier) -> bool:
    return role_may(role_of(user, supplier), "manage_addresses")


def may_propose_terms(user: User, supplier: Supplier) -> bool:
    return role_may(role_of(user, supplier), "propose_terms")


def may_review_terms(user: User) -> bool:
    return is_buyer(user)


# --- Company profile ---------------------------------------------------------------------------------


UPPER_CASE_CODES = ("country", "default_currency")


def _strip(values: dict[str, Any]) -> dict[str, Any]:
    """Text without surrounding blanks; ISO codes in capitals, as people type them either way."""
    cleaned = {name: value.strip() if isinstance(value, str) else value for name, value in values.items()}
    for name in UPPER_CASE_CODES:
        if isinstance(cleaned.get(name), str):
            cleaned[name] = cleaned[name].upper()
    return cleaned


@transaction.atomic
def supplier_profile_update(*, supplier: Supplier, by: User, changes: dict[str, Any]) -> Supplier:
    """Change the profile fields a supplier keeps itself; any other field is refused, and nothing is saved
    unless every field is valid (ValidationError keyed by field)."""
    foreign = sorted(set(changes) - set(Supplier.SUPPLIER_EDITABLE_FIELDS))
    if foreign:
        raise ValidationError(dict.fromkeys(foreign, "This field is kept by the distributor: ask your buyer."))
    supplier = Supplier.objects.select_for_update().get(pk=supplier.pk)
    changes = _strip(changes)
    for name, value in changes.items():
        setattr(supplier, name, value)
    others = [f.name for f in Supplier._meta.concrete_fields if f.name not in changes]
    supplier.clean_fields(exclude=others)
    supplier.save(update_fields=[*changes, "updated_at"])
    return supplier


# --- Contacts --------------------------------------------------------------------------------------


def _demote_primary(contact: SupplierContact) -> None:
    """Only one primary contact per function: choosing a new one makes the old one a plain contact."""
    others = SupplierContact.objects.filter(supplier_id=contact.supplier_id, function=contact.function, is_primary=True)
    if contact.pk:
        others = others.exclude(pk=contact.pk)
    others.update(is_primary=False, updated_at=timezone.now())


def _fill(row: SupplierContact | ShipFromAddress, values: dict[str, Any], fields: Iterable[str], noun: str) -> None:
    """Lock the supplier (so two defaults or primaries chosen at once queue up), then set and check the
    row's fields from ``values``; a name outside ``fields`` is refused with the rest."""
    Supplier.objects.select_for_update().filter(pk=row.supplier_id).first()
    if row.pk is not None and not type(row).objects.filter(pk=row.pk, supplier_id=row.supplier_id).exists():
        # Removed since the form was opened: saving would INSERT it again (Django's save() does when its
        # UPDATE finds no row). Its removal took the supplier's lock too, so this answer holds until commit.
        raise ValidationError(f"This {noun.split()[-1]} was deleted meanwhile: nothing was saved.")
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, f"Not a field of {noun}."))
    for name, value in _strip(values).items():
        setattr(row, name, value)
    row.full_clean(exclude=["supplier"], validate_constraints=False)


def _contact_save(contact: SupplierContact, values: dict[str, Any]) -> SupplierContact:
    _fill(contact, values, CONTACT_FIELDS, "a contact")
    if contact.is_primary:
        _demote_primary(contact)
    contact.save()
    return contact


@transaction.atomic
def contact_create(*, supplier: Supplier, by: User, values: dict[str, Any]) -> SupplierContact:
    """A new contact; a primary one takes over from the function's previous primary."""
    return _contact_save(SupplierContact(supplier=supplier), values)


@transaction.atomic
def contact_update(*, contact: SupplierContact, by: User, values: dict[str, Any]) -> SupplierContact:
    return _contact_save(contact, values)


@transaction.atomic
def contact_delete(*, contact: SupplierContact, by: User) -> None:
    # The supplier's lock, as every other write of its contacts takes: an edit under way finishes first.
    Supplier.objects.select_for_update().filter(pk=contact.supplier_id).first()
    SupplierContact.objects.filter(pk=contact.pk, supplier_id=contact.supplier_id).delete()


# --- Ship-from addresses -----------------------------------------------------------------------------


def _address_save(address: ShipFromAddress, values: dict[str, Any]) -> ShipFromAddress:
    _fill(address, values, ADDRESS_FIELDS, "an address")
    taken = ShipFromAddress.objects.filter(supplier_id=address.supplier_id, label__iexact=address.label)
    if taken.exclude(pk=address.pk).exists():
        raise ValidationError({"label": f"You already have an address called “{address.label}”."})
    if address.is_default and not address.is_active:
        raise ValidationError({"is_default": "An inactive address cannot be the default."})
    was_default = address.pk is not None and ShipFromAddress.objects.filter(pk=address.pk, is_default=True).exists()
    if was_default and not address.is_default:
        raise ValidationError({"is_default": "Make another address the default instead: one address is the default."})
    active = ShipFromAddress.objects.filter(supplier_id=address.supplier_id, is_active=True).exclude(pk=address.pk)
    if address.is_active and not active.filter(is_default=True).exists():
        address.is_default = True  # the first active address is the default
    if address.is_default:
        active.filter(is_default=True).update(is_default=False, updated_at=timezone.now())
    address.save()
    return address


@transaction.atomic
def ship_from_address_create(*, supplier: Supplier, by: User, values: dict[str, Any]) -> ShipFromAddress:
    """A new address; the supplier's first is its default, and a new default replaces the old one."""
    return _address_save(ShipFromAddress(supplier=supplier), values)


@transaction.atomic
def ship_from_address_update(*, address: ShipFromAddress, by: User, values: dict[str, Any]) -> ShipFromAddress:
    return _address_save(address, values)


@transaction.atomic
def ship_from_address_deactivate(*, address: ShipFromAddress, by: User) -> ShipFromAddress:
    """Retire an address (notices that used it keep their text). The default goes last: choose another first."""
    # The supplier's lock first, as creating or editing an address takes it: a new default cannot slip in
    # while the last one is retired.
    Supplier.objects.select_for_update().filter(pk=address.supplier_id).first()
    address = ShipFromAddress.objects.select_for_update().get(pk=address.pk)
    if not address.is_active:
        raise ValidationError("This address is already inactive.")
    others = ShipFromAddress.objects.filter(supplier_id=address.supplier_id, is_active=True).exclude(pk=address.pk)
    if address.is_default and others.exists():
        raise ValidationError("This is your default address: make another address the default first.")
    address.is_active, address.is_default = False, False
    address.save(update_fields=["is_active", "is_default", "updated_at"])
    return address


def ship_from_addresses(supplier: Supplier) -> QuerySet[ShipFromAddress]:
    """The active addresses a notice may ship from, the default first."""
    return ShipFromAddress.objects.filter(supplier=supplier, is_active=True).select_related("supplier")


# --- Proposed item terms -----------------------------------------------------------------------------


def _terms_errors(
    item: SupplierItem, lead_time: int | None, moq: Decimal | None, effective: dt.date, note: str
) -> dict[str, str]:
    errors: dict[str, str] = {}
    today = timezone.localdate()
    if lead_time is None and moq is None:
        errors["__all__"] = "Propose a new lead time, a new minimum order quantity, or both."
    if lead_time is not None and not 0 <= lead_time <= MAX_LEAD_TIME_DAYS:
        errors["lead_time_days"] = f"A lead time is 0 to {MAX_LEAD_TIME_DAYS} days."
    if moq is not None and not (0 < moq <= MAX_QUANTITY and moq == moq.quantize(Decimal("0.001"))):
        errors["minimum_order_quantity"] = "A minimum order quantity is more than 0, with at most 3 decimal places."
    if effective < today:
        errors["effective_date"] = "The effective date cannot be in the past."
    elif effective > today + MAX_EFFECTIVE_AHEAD:
        errors["effective_date"] = "The effective date is at most three years ahead."
    if len(note) > MAX_NOTE:
        errors["note"] = f"Keep the note to {MAX_NOTE} characters."
    unchanged = (lead_time is None or lead_time == item.lead_time_days) and (
        moq is None or moq == item.minimum_order_quantity
    )
    if not errors and unchanged:
        errors["__all__"] = "These are the item's current terms: change the lead time or the minimum order quantity."
    return errors


def _open_proposal_error(open_one: TermsProposal) -> ValidationError:
    return ValidationError(
        f"{open_one.supplier_item.supplier_part_number} already has a proposal awaiting the buyer's review "
        f"(sent {open_one.submitted_at:%Y-%m-%d}). You can propose again once the buyer has decided."
    )


@transaction.atomic
def terms_propose(
    *,
    supplier_item: SupplierItem,
    by: User,
    lead_time_days: int | None,
    minimum_order_quantity: Decimal | None,
    effective_date: dt.date,
    note: str = "",
) -> TermsProposal:
    """Send a buyer new terms for one item. The item keeps its terms until a buyer approves.

    At most one open proposal per item: while one awaits review a new one is refused (the item's row lock
    serialises two at once; the partial unique index ``terms_one_pending_per_item`` is the backstop).
    """
    item = SupplierItem.objects.select_for_update().select_related("supplier").get(pk=supplier_item.pk)
    note = note.strip()
    errors = _terms_errors(item, lead_time_days, minimum_order_quantity, effective_date, note)
    if errors:
        raise ValidationError(errors)
    open_one = TermsProposal.objects.pending().filter(supplier_item=item).select_related("supplier_item").first()
    if open_one is not None:
        raise _open_proposal_error(open_one)
    proposal = TermsProposal(
        supplier_item=item,
        supplier=item.supplier,
        lead_time_days=lead_time_days,
        minimum_order_quantity=minimum_order_quantity,
        previous_lead_time_days=item.lead_time_days,
        previous_minimum_order_quantity=item.minimum_order_quantity,
        effective_date=effective_date,
        note=note,
        submitted_by=by,
    )
    try:
        with transaction.atomic():
            proposal.save(force_insert=True)
    except IntegrityError:
        raise _open_proposal_error(
            TermsProposal.objects.pending().select_related("supplier_item").get(supplier_item=item)
        ) from None
    return proposal


def terms_case_key(supplier_code: str, proposal_pk: int) -> str:
    """The dedupe key of the exceptions rule "item terms awaiting review" (exceptions.rules.sweep)."""
    return f"{CaseType.TERMS_PROPOSAL_OVERDUE}:{supplier_code}:{proposal_pk}"


def _terms_json(lead_time_days: int, moq: Decimal) -> dict[str, Any]:
    return {"lead_time_days": lead_time_days, "minimum_order_quantity": str(moq)}


@transaction.atomic
def terms_decide(*, proposal: TermsProposal, by: User, approve: bool, reason: str = "") -> TermsProposal:
    """A buyer approves (the supplier item takes the terms, ``supplier_item.terms.changed`` is recorded) or
    rejects with a reason (nothing else changes). The supplier's admins and order desk are told either way.

    Locks the proposal, so two buyers deciding at once are refused in turn: the second is told it was decided.
    """
    reason = reason.strip()
    proposal = TermsProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != TermsProposal.Status.PENDING:
        raise ValidationError(f"This proposal was already {proposal.get_status_display().lower()}.")
    if not approve and not reason:
        raise ValidationError({"reason": "Say why you reject the proposal, so the supplier can answer."})
    if len(reason) > MAX_NOTE:
        raise ValidationError({"reason": f"Keep the reason to {MAX_NOTE} characters."})
    item = SupplierItem.objects.select_for_update().select_related("supplier", "item").get(pk=proposal.supplier_item_id)
    proposal.status = TermsProposal.Status.APPROVED if approve else TermsProposal.Status.REJECTED
    proposal.decided_by, proposal.decided_at, proposal.decision_reason = by, timezone.now(), reason
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    if approve:
        _apply_terms(proposal, item, by=by)
    proposal.supplier_item = item
    # The sweep's "item terms awaiting review" case, if it opened one, is settled by this decision.
    case_clear(terms_case_key(item.supplier.code, proposal.pk), note="The buyer decided on the proposed terms.")
    _notify_decision(proposal)
    return proposal


def _apply_terms(proposal: TermsProposal, item: SupplierItem, *, by: User) -> None:
    before = _terms_json(item.lead_time_days, item.minimum_order_quantity)
    if proposal.lead_time_days is not None:
        item.lead_time_days = proposal.lead_time_days
    if proposal.minimum_order_quantity is not None:
        item.minimum_order_quantity = proposal.minimum_order_quantity
    item.save(update_fields=["lead_time_days", "minimum_order_quantity"])
    record_event(
        "supplier_item.terms.changed",
        subject=item,
        actor=by,
        channel="web",
        data={
            "proposal_id": proposal.pk,
            "supplier": item.supplier.code,
            "supplier_erp_vendor_id": item.supplier.erp_vendor_id,
            "item_sku": item.item.sku,
            "supplier_part_number": item.supplier_part_number,
            "effective_date": proposal.effective_date.isoformat(),
            "before": before,
            "after": _terms_json(item.lead_time_days, item.minimum_order_quantity),
            "note": proposal.note,
        },
    )


def _notify_decision(proposal: TermsProposal) -> int:
    """One mail per admin and order desk user of the supplier who did not opt out, sent after commit."""
    context = {
        "proposal": proposal,
        "approved": proposal.status == TermsProposal.Status.APPROVED,
        "items_url": settings.SUPPLYLINE_BASE_URL
        + reverse("suppliers:supplier-items", args=[proposal.supplier_item.supplier.code]),
    }
    users = notification_recipients(proposal.supplier_id, NotificationKind.TERMS_DECIDED)
    return notify_users(users, "suppliers/email/terms_decided", context)


# --- Selectors ---------------------------------------------------------------------------------------


def supplier_get(*, user: User, code: str) -> Supplier:
    """A supplier the user may see (buyers: any), or 404 (never 403: another supplier's profile does not exist)."""
    try:
        return Supplier.objects.visible_to(user).select_related("buyer").get(code=code)
    except Supplier.DoesNotExist:
        raise Http404("No such supplier.") from None


def supplier_items(supplier: Supplier) -> QuerySet[SupplierItem]:
    """The supplier's items with their open proposal (``open_proposals``, 0 or 1): two queries a page."""
    pending = TermsProposal.objects.pending().select_related("submitted_by")
    return (
        SupplierItem.objects.filter(supplier=supplier)
        .select_related("item")
        .prefetch_related(Prefetch("terms_proposals", queryset=pending, to_attr="open_proposals"))
    )


ITEM_ORDERING = ("supplier_part_number", "id")


def recent_terms_decisions(supplier: Supplier, limit: int = 10) -> list[TermsProposal]:
    """The supplier's latest decided proposals, newest first: what the buyer answered."""
    decided = TermsProposal.objects.filter(supplier=supplier).exclude(status=TermsProposal.Status.PENDING)
    return list(decided.select_related("supplier_item__item", "decided_by").order_by("-decided_at", "-id")[:limit])


def terms_review_queue(*, user: User, scope: str) -> QuerySet[TermsProposal]:
    """Proposals awaiting a buyer, oldest first (REVIEW_ORDERING): the buyer's suppliers ("mine") or all."""
    queryset = TermsProposal.objects.pending().select_related("supplier", "supplier_item__item", "submitted_by")
    if scope == "mine":
        queryset = queryset.filter(supplier__buyer=user)
    return queryset


REVIEW_ORDERING = ("submitted_at", "id")


def terms_proposal_for_review(*, user: User, pk: int) -> TermsProposal:
    """A proposal for a buyer to decide, or 404 for everyone else."""
    if not may_review_terms(user):
        raise Http404
    try:
        return _review_rows().get(pk=pk)
    except TermsProposal.DoesNotExist:
        raise Http404("No such proposal.") from None


def terms_proposal_reread(proposal: TermsProposal) -> TermsProposal:
    """The proposal as stored now, with what its review row shows, in one query (after a decision)."""
    return _review_rows().get(pk=proposal.pk)


def _review_rows() -> QuerySet[TermsProposal]:
    return TermsProposal.objects.select_related("supplier", "supplier_item__item", "submitted_by")
