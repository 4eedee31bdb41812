from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from suppliers.models import Supplier, SupplierMembership, is_buyer


def portal(request: HttpRequest) -> dict[str, Any]:
    """The signed-in user's role and suppliers, for the navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    buyer = is_buyer(user)
    return {
        "is_buyer": buyer,
        # Set by suppliers.mfa.MfaEnrolmentMiddleware: the navigation waits until the user has enrolled.
        "mfa_enrolment_due": getattr(request, "mfa_enrolment_due", False),
        # A lazy queryset: evaluated only by pages that show it.
        "user_suppliers": Supplier.objects.none() if buyer else Supplier.objects.visible_to(user).only("code", "name"),
        # Lazy too: only the navigation bar asks, once per page.
        "is_supplier_admin": SimpleLazyObject(
            lambda: (
                not buyer
                and SupplierMembership.objects.active().filter(user=user, role=SupplierMembership.Role.ADMIN).exists()
            )
        ),
    }
