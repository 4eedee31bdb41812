from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

BUYERS_GROUP = "buyers"
# Buyers who oversee other buyers' suppliers: their queues show every supplier by default.
MANAGERS_GROUP = "purchasing managers"


class UserManager(DjangoUserManager["User"]):
    """Users log in with their e-mail address; there is no username."""

    def _create_user_object(self, username: Any, email: str | None, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("Every user needs an e-mail address.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        user = self._create_user_object(None, email, password, **extra)
        user.save(using=self._db)
        return user

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def clean(self) -> None:
        super().clean()
        self.email = type(self).objects.normalize_email(self.email).lower()


def is_buyer(user: User | AnonymousUser) -> bool:
    """Buyers are the distributor's procurement staff: staff users in the buyers group.

    Superusers count as buyers so an administrator sees everything a buyer sees.
    """
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    if not user.is_staff:
        return False
    cached: bool | None = getattr(user, "_is_buyer", None)
    if cached is None:
        cached = user.groups.filter(name=BUYERS_GROUP).exists()
        user._is_buyer = cached  # type: ignore[attr-defined]  # per-request memo
    return cached


def is_purchasing_manager(user: User | AnonymousUser) -> bool:
    if not is_buyer(user):
        return False
    return user.is_superuser or user.groups.filter(name=MANAGERS_GROUP).exists()


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (use an IANA name such as Europe/Berlin).")


supplier_code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9_-]{1,19}$",
    "Use 2 to 20 capital letters, digits, hyphens or underscores, e.g. ACME.",
)


tax_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9 ./-]{1,29}$", "Use 2 to 30 letters, digits, spaces, dots, slashes or hyphens."
)
phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ()./-]{4,28}[0-9]$", "Give a phone number of digits, spaces and ( ) . / -, e.g. +1 312 555 0100."
)
country_validator = RegexValidator(r"^[A-Z]{2}$", "Use the two capital letters of the ISO 3166 code, e.g. US.")
currency_validator = RegexValidator(r"^[A-Z]{3}$", "Use the three capital letters of the ISO 4217 code, e.g. USD.")


class SupplierQuerySet(models.QuerySet["Supplier"]):
    def visible_to(self, user: User | AnonymousUser) -> SupplierQuerySet:
        if is_buyer(user):
            return self.all()
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(pk__in=SupplierMembership.objects.supplier_ids_of(user))

    def switchable_for(self, user: User | AnonymousUser) -> SupplierQuerySet:
        """Every supplier the user is an active member of: the choices of the supplier switcher, never a
        boundary of what the user sees (that is ``visible_to``, the active one only)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(pk__in=SupplierMembership.objects.active().filter(user=user).values("supplier_id"))


class Supplier(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ON_HOLD = "on_hold", "On hold"
        INACTIVE = "inactive", "Inactive"

    code = models.CharField(max_length=20, unique=True, validators=[supplier_code_validator])
    name = models.CharField(max_length=200)
    erp_vendor_id = models.CharField("ERP vendor id", max_length=50, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="assigned_suppliers",
        null=True,
        blank=True,
        help_text="The buyer responsible for this supplier.",
    )
    ack_deadline_hours = models.PositiveIntegerField(
        "acknowledgement deadline (hours)",
        null=True,
        blank=True,
        help_text="Hours the supplier has to acknowledge a new PO. Empty: the portal default.",
    )
    price_tolerance_pct = models.DecimalField(
        "price tolerance (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Empty: the portal default.",
    )
    quantity_tolerance_pct = models.DecimalField(
        "quantity tolerance (%)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Empty: the portal default.",
    )
    days_early_tolerance = models.PositiveSmallIntegerField(
        "days early tolerance", null=True, blank=True, help_text="Empty: the portal default."
    )
    days_late_tolerance = models.PositiveSmallIntegerField(
        "days late tolerance", null=True, blank=True, help_text="Empty: the portal default."
    )
    gs1_company_prefix = models.CharField(
        "GS1 company prefix",
        max_length=11,
        blank=True,
        validators=[RegexValidator(r"^[0-9]{7,11}$", "A GS1 company prefix is 7 to 11 digits.")],
        help_text="Lets Supplyline number this supplier's packages (SSCCs) when a notice gives none.",
    )
    # The last SSCC serial reference Supplyline gave out under the prefix.
    sscc_serial = models.PositiveBigIntegerField("last SSCC serial", default=0)
    edi_standard = models.CharField(
        "EDI standard",
        max_length=10,
        choices=[("", "None"), ("x12", "X12"), ("edifact", "EDIFACT")],
        blank=True,
        help_text="Send this supplier its purchase orders as X12 850 or EDIFACT ORDERS.",
    )
    edi_qualifier = models.CharField("EDI id qualifier", max_length=4, blank=True, help_text="e.g. ZZ or 01.")
    edi_id = models.CharField(
        "EDI interchange id",
        max_length=35,
        blank=True,
        help_text="The sender id of this supplier's interchanges (X12 ISA06, EDIFACT UNB); empty: any.",
    )
    # The company profile: kept by the supplier's admins (SUPPLIER_EDITABLE_FIELDS), read by buyers.
    legal_name = models.CharField(max_length=200, blank=True, help_text="The registered company name.")
    tax_id = models.CharField(
        "tax or VAT id", max_length=30, blank=True, validators=[tax_id_validator], help_text="e.g. DE123456789."
    )
    website = models.URLField(max_length=200, blank=True)
    phone = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address, second line", max_length=200, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state or region", max_length=100, blank=True)
    country = models.CharField(
        max_length=2, blank=True, validators=[country_validator], help_text="ISO 3166 code, e.g. US or DE."
    )
    default_currency = models.CharField(
        max_length=3, default="USD", validators=[currency_validator], help_text="ISO 4217 code, e.g. USD or EUR."
    )
    po_email = models.EmailField(
        "e-mail for purchase orders", blank=True, help_text="Where the supplier wants purchase orders sent."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SupplierQuerySet.as_manager()

    # What a supplier's admins may change; everything else (code, status, tolerances, buyer, EDI) is the distributor's.
    SUPPLIER_EDITABLE_FIELDS = (
        "legal_name",
        "tax_id",
        "website",
        "phone",
        "po_email",
        "address_line1",
        "address_line2",
        "postal_code",
        "city",
        "region",
        "country",
        "default_currency",
    )

    # Users of a supplier on hold still see and answer its orders; an inactive
    # supplier's users see nothing.
    ACCESS_STATUSES = (Status.ACTIVE, Status.ON_HOLD)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    @property
    def effective_ack_deadline_hours(self) -> int:
        if self.ack_deadline_hours is not None:
            return self.ack_deadline_hours
        return int(settings.SUPPLYLINE_ACK_DEADLINE_HOURS)

    @property
    def tolerances(self) -> Tolerances:
        defaults: dict[str, Any] = settings.SUPPLYLINE_TOLERANCES
        return Tolerances(
            price_pct=_first_set(self.price_tolerance_pct, defaults["price_pct"]),
            quantity_pct=_first_set(self.quantity_tolerance_pct, defaults["quantity_pct"]),
            days_early=_first_set(self.days_early_tolerance, defaults["days_early"]),
            days_late=_first_set(self.days_late_tolerance, defaults["days_late"]),
        )


@dataclass(frozen=True)
class Tolerances:
    """How far a supplier's change may go and still be applied without a buyer."""

    price_pct: Decimal
    quantity_pct: Decimal
    days_early: int
    days_late: int


def _first_set[T](value: T | None, default: T) -> T:
    return default if value is None else value


# Where a request keeps the supplier a user of several suppliers chose to act for: the session holds it
# under this key, and suppliers.middleware.active_supplier puts it on request.user under this attribute.
ACTIVE_SUPPLIER_SESSION_KEY = "supplyline_active_supplier"
ACTIVE_SUPPLIER_ATTRIBUTE = "chosen_supplier_id"


class MembershipQuerySet(models.QuerySet["SupplierMembership"]):
    def active(self) -> MembershipQuerySet:
        return self.filter(is_active=True, supplier__status__in=Supplier.ACCESS_STATUSES)

    def acting(self, user: User | AnonymousUser) -> MembershipQuerySet:
        """The one membership a user acts through, as a subquery (zero rows or one).

        That is the supplier chosen in this session (``chosen_supplier_id``, put on the user by
        ``suppliers.middleware.active_supplier``) while it is an active membership, else the user's
        first active membership. A user object that carries no choice (a task, a shell) acts for the
        first one too: never for all of its suppliers at once.
        """
        if not user.is_authenticated:
            return self.none()
        mine = self.active().filter(user=user)
        chosen = getattr(user, ACTIVE_SUPPLIER_ATTRIBUTE, None)
        preference = [models.Case(models.When(supplier_id=chosen, then=0), default=1)] if chosen else []
        return self.filter(pk__in=mine.order_by(*preference, "pk").values("pk")[:1])

    def supplier_ids_of(self, user: User | AnonymousUser) -> models.QuerySet[Any]:
        """Ids of the suppliers a user acts for on this request: the one tenant boundary of the portal.

        One supplier at most: the active supplier of ``acting``. Everything a supplier user sees
        (``visible_to``) and every role check goes through it.
        """
        return self.acting(user).values("supplier_id")

    def tenant_ids_of(self, user: User | AnonymousUser) -> models.QuerySet[Any]:
        """Ids of every supplier the user holds an active membership with: the tenant boundary that the
        database's row-level security holds for the user's requests (config/tenancy.py). Within it, what
        a request shows and does follows the active supplier (``supplier_ids_of``); beyond it, nothing
        can be read, whatever a query forgets."""
        if not user.is_authenticated:
            return self.none().values("supplier_id")
        return self.active().filter(user=user).values("supplier_id")

    def acting_in_role(self, user: User | AnonymousUser, roles: Iterable[str]) -> bool:
        """Whether the user's active membership has one of ``roles``."""
        return self.acting(user).filter(role__in=list(roles)).exists()


class SupplierMembership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        ORDER_DESK = "order_desk", "Order desk"
        SHIPPING = "shipping", "Shipping"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.VIEWER)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    # Who of a supplier may do what, on every channel (web, files, API); viewers only look.
    ACKNOWLEDGING_ROLES = (Role.ADMIN, Role.ORDER_DESK)
    SHIPPING_ROLES = (Role.ADMIN, Role.ORDER_DESK, Role.SHIPPING)
    # The team, API keys and compliance uploads (docs/organisations.md).
    ADMIN_ROLES = (Role.ADMIN,)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "supplier"], name="membership_user_supplier_unique")]
        ordering = ["supplier__code", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} → {self.supplier.code} ({self.get_role_display()})"


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def open(self) -> InvitationQuerySet:
        """Neither accepted nor revoked (an expired one is still open: it can be resent)."""
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True)


class Invitation(models.Model):
    """A supplier admin's invitation of a person, by e-mail, to join the supplier in a role.

    The link carries a random token; we keep only its SHA-256 (256 random bits: nothing to guess).
    Resending draws a new token, so an older link stops working.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        EXPIRED = "expired", "Expired"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField("e-mail address")
    role = models.CharField(max_length=12, choices=SupplierMembership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            # One open invitation per address and supplier: a second would be a second live link.
            models.UniqueConstraint(
                "supplier",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.supplier.code} ({self.get_role_display()})"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        return self.Status.EXPIRED if self.expires_at <= timezone.now() else self.Status.PENDING

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def supplier_has_access(self) -> bool:
        """Whether its supplier may use Supplyline now: nobody joins one that may not (sign-up, accepting,
        and the link's page all ask this)."""
        return self.supplier.status in Supplier.ACCESS_STATUSES


class SupplierItemQuerySet(models.QuerySet["SupplierItem"]):
    def visible_to(self, user: User | AnonymousUser) -> SupplierItemQuerySet:
        return self.filter(supplier__in=Supplier.objects.visible_to(user))


class SupplierItem(models.Model):
    """What one supplier sells of one of our items, on which terms."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="supplier_items")
    item = models.ForeignKey("purchasing.Item", on_delete=models.PROTECT, related_name="supplier_items")
    supplier_part_number = models.CharField(max_length=50)
    lead_time_days = models.PositiveSmallIntegerField()
    minimum_order_quantity = models.DecimalField(
        max_digits=14, decimal_places=3, default=Decimal(1), validators=[MinValueValidator(Decimal(0))]
    )
    price = models.DecimalField(max_digits=14, decimal_places=4, validators=[MinValueValidator(Decimal(0))])
    currency = models.CharField(max_length=3, default="USD")

    objects = SupplierItemQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["supplier", "item"], name="supplier_item_unique"),
            models.UniqueConstraint(fields=["supplier", "supplier_part_number"], name="supplier_part_number_unique"),
        ]
        ordering = ["supplier__code", "supplier_part_number"]

    def __str__(self) -> str:
        return f"{self.supplier.code} {self.supplier_part_number}"


class NotificationKind(models.TextChoices):
    PO_NEW = "po_new", "New purchase order"
    PO_CHANGED = "po_changed", "Purchase order changed by the buyer"
    PROPOSAL_DECIDED = "proposal_decided", "Buyer decided on a proposal"
    ACK_REMINDER = "ack_reminder", "Acknowledgement due soon or overdue"
    TERMS_DECIDED = "terms_decided", "Buyer decided on proposed item terms"


# Which roles receive which mail; each user may opt out per kind.
NOTIFIED_ROLES: dict[str, tuple[str, ...]] = {
    NotificationKind.PO_NEW: (SupplierMembership.Role.ADMIN, SupplierMembership.Role.ORDER_DESK),
    NotificationKind.PO_CHANGED: (SupplierMembership.Role.ADMIN, SupplierMembership.Role.ORDER_DESK),
    NotificationKind.PROPOSAL_DECIDED: (SupplierMembership.Role.ADMIN, SupplierMembership.Role.ORDER_DESK),
    NotificationKind.ACK_REMINDER: (SupplierMembership.Role.ADMIN, SupplierMembership.Role.ORDER_DESK),
    NotificationKind.TERMS_DECIDED: (SupplierMembership.Role.ADMIN, SupplierMembership.Role.ORDER_DESK),
}


class NotificationOptOut(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_opt_outs")
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="opt_out_user_kind_unique")]

    def __str__(self) -> str:
        return f"{self.user} opted out of {self.get_kind_display()}"


class ApiScope(models.TextChoices):
    """What an API key may do; each API operation names the one scope it needs (docs/api.md)."""

    ORDERS_READ = "orders:read", "Read purchase orders and events"
    ORDERS_ACKNOWLEDGE = "orders:acknowledge", "Acknowledge purchase orders"
    SHIPMENTS_WRITE = "shipments:write", "Send and cancel shipment notices"
    DOCUMENTS_WRITE = "documents:write", "Upload documents (CSV, Excel, X12, EDIFACT)"
    WEBHOOKS_MANAGE = "webhooks:manage", "Register and manage webhooks"


def validate_scopes(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one scope.")
    unknown = sorted({str(scope) for scope in value} - set(ApiScope.values))
    if unknown:
        raise ValidationError(f"Unknown scopes: {', '.join(unknown)}.")
    if len(set(value)) != len(value):
        raise ValidationError("Name each scope once.")


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def usable(self) -> ApiKeyQuerySet:
        now = timezone.now()
        return self.filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now), revoked_at__isnull=True)


class ApiKey(models.Model):
    """A supplier system's credential for the REST API.

    The key itself is shown once; we keep its SHA-256 (the secret is 256 random bits,
    so a fast hash is enough: there is nothing to guess) and a short prefix that
    people can recognise it by.
    """

    # What every key starts with, so secret scanners and people can tell what it is.
    KEY_START = "sl_live_"

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses the key, e.g. “ERP connector”.")
    prefix = models.CharField(max_length=20, unique=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, validators=[validate_scopes])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired else "active"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class IdempotencyRecord(models.Model):
    """One ``Idempotency-Key`` of one API key: claimed while the request runs, then its stored response."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path and canonical body: the same key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_api_key_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} ({self.get_state_display()})"


class ComplianceDocumentType(models.Model):
    """A kind of document buyers ask suppliers for (an ISO 9001 certificate, an insurance certificate)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_required = models.BooleanField(
        "required", default=False, help_text="Every supplier must hold a valid approved one; expiry opens a case."
    )
    is_active = models.BooleanField("active", default=True, help_text="Inactive types take no new uploads.")

    class Meta:
        ordering = ["name"]
        verbose_name = "compliance document type"

    def __str__(self) -> str:
        return self.name


def compliance_upload_to(instance: ComplianceDocument, filename: str) -> str:
    """A random name: nothing the user typed reaches the file system."""
    extension = COMPLIANCE_EXTENSIONS.get(instance.content_type, ".bin")
    return f"compliance/{uuid.uuid4().hex}{extension}"


# The only content types we store, each with the extension its stored file gets.
COMPLIANCE_EXTENSIONS = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg"}


class ComplianceDocumentQuerySet(models.QuerySet["ComplianceDocument"]):
    def visible_to(self, user: User | AnonymousUser) -> ComplianceDocumentQuerySet:
        if is_buyer(user):
            return self.all()
        return self.filter(supplier_id__in=SupplierMembership.objects.supplier_ids_of(user))

    def valid_on(self, day: date) -> ComplianceDocumentQuerySet:
        """Approved and in force on ``day``."""
        return self.filter(status=ComplianceDocument.Status.APPROVED, valid_from__lte=day, valid_to__gte=day)


class ComplianceDocument(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="compliance_documents")
    document_type = models.ForeignKey(ComplianceDocumentType, on_delete=models.PROTECT, related_name="documents")
    file = models.FileField(upload_to=compliance_upload_to, max_length=200)
    # The name the supplier's file had, cleaned: shown and offered on download, never used as a path.
    filename = models.CharField(max_length=150)
    content_type = models.CharField(max_length=40, choices=[(t, t) for t in COMPLIANCE_EXTENSIONS])
    size = models.PositiveIntegerField()
    valid_from = models.DateField()
    valid_to = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    # When each expiry reminder went out: each is sent once.
    reminded_30_at = models.DateTimeField(null=True, blank=True)
    reminded_7_at = models.DateTimeField(null=True, blank=True)

    objects = ComplianceDocumentQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [
            # The buyers' review queue: pending documents, oldest first, paged by keyset.
            models.Index(fields=["status", "uploaded_at", "id"], name="compliance_review_idx"),
            models.Index(fields=["supplier", "document_type", "valid_to"], name="compliance_supplier_type_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_to__gt=models.F("valid_from")), name="compliance_valid_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier.code} {self.document_type.name} ({self.valid_from} to {self.valid_to})"


# --- Supplier self-service: contacts, ship-from addresses, proposed item terms (docs/self-service.md) -----


class ContactFunction(models.TextChoices):
    SALES = "sales", "Sales"
    ORDER_DESK = "order_desk", "Order desk"
    SHIPPING = "shipping", "Shipping"
    QUALITY = "quality", "Quality"
    ACCOUNTS_RECEIVABLE = "accounts_receivable", "Accounts receivable"


class SupplierContact(models.Model):
    """A person at the supplier the distributor can reach, by what they do; one primary per function."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=100)
    function = models.CharField(max_length=20, choices=ContactFunction.choices)
    email = models.EmailField("e-mail address")
    phone = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    is_primary = models.BooleanField("primary", default=False, help_text="The first one to contact for this function.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["function", "-is_primary", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["supplier", "function"],
                condition=models.Q(is_primary=True),
                name="contact_one_primary_per_function",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_function_display()})"


class ShipFromAddress(models.Model):
    """A place a supplier ships from; one active address is the default, offered first on shipment notices."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="ship_from_addresses")
    label = models.CharField(max_length=60, help_text="How you call it, e.g. “Leeds warehouse”.")
    line1 = models.CharField("address", max_length=200)
    line2 = models.CharField("address, second line", max_length=200, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField("state or region", max_length=100, blank=True)
    country = models.CharField(max_length=2, validators=[country_validator], help_text="ISO 3166 code, e.g. GB.")
    is_default = models.BooleanField("default", default=False)
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_active", "-is_default", "label", "id"]
        verbose_name = "ship-from address"
        verbose_name_plural = "ship-from addresses"
        constraints = [
            models.UniqueConstraint(
                fields=["supplier"], condition=models.Q(is_default=True), name="ship_from_one_default"
            ),
            models.UniqueConstraint(fields=["supplier", "label"], name="ship_from_label_unique"),
            models.CheckConstraint(
                condition=~models.Q(is_default=True, is_active=False), name="ship_from_default_is_active"
            ),
        ]

    def __str__(self) -> str:
        return self.label

    def as_text(self) -> str:
        """The address as a shipment notice and its labels print it (the notice's ``ship_from``)."""
        place = " ".join(part for part in (self.postal_code, self.city) if part)
        lines = [self.supplier.name, self.line1, self.line2, place, self.region, self.country]
        return "\n".join(line for line in lines if line)


class TermsProposalQuerySet(models.QuerySet["TermsProposal"]):
    def pending(self) -> TermsProposalQuerySet:
        return self.filter(status=TermsProposal.Status.PENDING)


class TermsProposal(models.Model):
    """A supplier's proposed lead time and/or minimum order quantity for one of its items, for a buyer to decide."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    supplier_item = models.ForeignKey(SupplierItem, on_delete=models.CASCADE, related_name="terms_proposals")
    # The item's supplier, kept on the row so the tenant filter and the queue need no join.
    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="terms_proposals")
    lead_time_days = models.PositiveSmallIntegerField("proposed lead time (days)", null=True, blank=True)
    minimum_order_quantity = models.DecimalField(
        "proposed minimum order quantity", max_digits=14, decimal_places=3, null=True, blank=True
    )
    # The terms when the supplier proposed, so the buyer sees the change and the event its "before".
    previous_lead_time_days = models.PositiveSmallIntegerField()
    previous_minimum_order_quantity = models.DecimalField(max_digits=14, decimal_places=3)
    effective_date = models.DateField()
    note = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)

    objects = TermsProposalQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            # The buyers' queue: pending proposals, oldest first, paged by keyset on (submitted_at, id).
            models.Index(fields=["status", "submitted_at", "id"], name="terms_review_idx"),
        ]
        constraints = [
            # At most one open proposal per item: a second is refused (suppliers.self_service.terms_propose).
            models.UniqueConstraint(
                fields=["supplier_item"], condition=models.Q(status="pending"), name="terms_one_pending_per_item"
            ),
            models.CheckConstraint(
                condition=models.Q(lead_time_days__isnull=False) | models.Q(minimum_order_quantity__isnull=False),
                name="terms_proposes_something",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier_item} terms from {self.effective_date} ({self.get_status_display()})"
