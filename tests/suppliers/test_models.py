from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from suppliers.models import Supplier, SupplierMembership, User, is_buyer
from tests.factories import SupplierFactory, SupplierItemFactory, SupplierMembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_users_log_in_by_email_and_have_no_username():
    user = User.objects.create_user("Dana@Example.COM", "s3cret-pass")
    assert user.email == "Dana@example.com"
    assert User.USERNAME_FIELD == "email"
    assert not hasattr(user, "username") or user.username is None
    assert User.objects.get_by_natural_key("dana@example.com") == user


def test_email_is_unique_whatever_its_case():
    User.objects.create_user("dana@example.com", "x")
    with pytest.raises(IntegrityError):
        User.objects.create_user("DANA@example.com", "x")


def test_a_user_needs_an_email():
    with pytest.raises(ValueError, match="e-mail"):
        User.objects.create_user("", "x")


def test_buyers_are_active_staff_in_the_buyers_group(buyer):
    staff_only = UserFactory(is_staff=True)
    admin = UserFactory(is_staff=True, is_superuser=True)
    assert is_buyer(buyer)
    assert is_buyer(admin)
    assert not is_buyer(staff_only)
    assert not is_buyer(AnonymousUser())
    buyer.is_active = False
    assert not is_buyer(buyer)


def test_supplier_users_are_not_buyers(supplier_user):
    assert not is_buyer(supplier_user)


def test_tolerances_fall_back_to_the_portal_defaults(settings):
    settings.SUPPLYLINE_TOLERANCES = {
        "price_pct": Decimal(2),
        "quantity_pct": Decimal(5),
        "days_early": 3,
        "days_late": 2,
    }
    supplier = SupplierFactory(price_tolerance_pct=Decimal("0.50"), days_late_tolerance=0)
    tolerances = supplier.tolerances
    assert tolerances.price_pct == Decimal("0.50")
    assert tolerances.quantity_pct == Decimal(5)
    assert tolerances.days_early == 3
    assert tolerances.days_late == 0  # zero is a real setting, not "unset"


def test_acknowledgement_deadline_defaults_to_the_portal_setting(settings):
    settings.SUPPLYLINE_ACK_DEADLINE_HOURS = 48
    assert SupplierFactory().effective_ack_deadline_hours == 48
    assert SupplierFactory(ack_deadline_hours=24).effective_ack_deadline_hours == 24


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "not a known time zone"),
        ("code", "acme corp", "capital letters"),
    ],
)
def test_supplier_validation_names_what_is_wrong(field, value, message):
    supplier = SupplierFactory.build(**{field: value}, buyer=None)
    with pytest.raises(ValidationError) as excinfo:
        supplier.full_clean()
    assert field in excinfo.value.message_dict
    assert message in " ".join(excinfo.value.message_dict[field])


def test_a_member_sees_only_their_own_supplier(supplier_user, supplier, other_supplier):
    assert list(Supplier.objects.visible_to(supplier_user)) == [supplier]


def test_a_buyer_sees_every_supplier(buyer, supplier, other_supplier):
    assert set(Supplier.objects.visible_to(buyer)) == {supplier, other_supplier}


def test_a_deactivated_membership_or_supplier_gives_no_access(supplier_user, supplier):
    SupplierMembership.objects.filter(user=supplier_user).update(is_active=False)
    assert not Supplier.objects.visible_to(supplier_user).exists()
    SupplierMembership.objects.filter(user=supplier_user).update(is_active=True)
    Supplier.objects.filter(pk=supplier.pk).update(status=Supplier.Status.INACTIVE)
    assert not Supplier.objects.visible_to(supplier_user).exists()


def test_a_supplier_on_hold_keeps_access(supplier_user, supplier):
    Supplier.objects.filter(pk=supplier.pk).update(status=Supplier.Status.ON_HOLD)
    assert Supplier.objects.visible_to(supplier_user).get() == supplier


def test_a_user_of_two_suppliers_acts_for_one_at_a_time(supplier_user, supplier, other_supplier):
    SupplierMembershipFactory(user=supplier_user, supplier=other_supplier)
    # No choice on the user object (no request): the first membership, never both.
    assert list(Supplier.objects.visible_to(supplier_user)) == [supplier]
    supplier_user.chosen_supplier_id = other_supplier.pk
    assert list(Supplier.objects.visible_to(supplier_user)) == [other_supplier]
    assert set(Supplier.objects.switchable_for(supplier_user)) == {supplier, other_supplier}


def test_a_choice_of_a_supplier_the_user_is_no_member_of_falls_back_to_the_first(
    supplier_user, supplier, other_supplier
):
    supplier_user.chosen_supplier_id = other_supplier.pk
    assert list(Supplier.objects.visible_to(supplier_user)) == [supplier]
    SupplierMembership.objects.filter(user=supplier_user).update(is_active=False)
    assert not Supplier.objects.visible_to(supplier_user).exists()


def test_one_membership_per_user_and_supplier(supplier_user, supplier):
    with pytest.raises(IntegrityError):
        SupplierMembershipFactory(user=supplier_user, supplier=supplier)


def test_a_supplier_part_number_is_unique_per_supplier(supplier, other_supplier):
    SupplierItemFactory(supplier=supplier, supplier_part_number="A-1")
    SupplierItemFactory(supplier=other_supplier, supplier_part_number="A-1")
    with pytest.raises(IntegrityError):
        SupplierItemFactory(supplier=supplier, supplier_part_number="A-1")
