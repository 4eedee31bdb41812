from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from suppliers.models import Supplier, SupplierMembership, is_buyer


def portal(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's role, active supplier and the suppliers they may switch to, for the navigation bar.

    Everything but ``is_buyer`` is lazy: evaluated only by pages that show it, once per page.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    buyer = is_buyer(user)
    acting = SimpleLazyObject(
        lambda: None if buyer else SupplierMembership.objects.acting(user).select_related("supplier").first()
    )
    return {
        "is_buyer": buyer,
        # Set by suppliers.mfa.MfaEnrolmentMiddleware: the navigation waits until the user has enrolled.
        "mfa_enrolment_due": getattr(request, "mfa_enrolment_due", False),
        "user_suppliers": Supplier.objects.none() if buyer else Supplier.objects.visible_to(user).only("code", "name"),
        "active_membership": acting,
        "switchable_suppliers": SimpleLazyObject(
            lambda: [] if buyer else list(Supplier.objects.switchable_for(user).only("code", "name").order_by("name"))
        ),
        "is_supplier_admin": SimpleLazyObject(
            lambda: acting is not None and getattr(acting, "role", None) in SupplierMembership.ADMIN_ROLES
        ),
    }
