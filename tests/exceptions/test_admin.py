"""Staff set the rules' thresholds per supplier and site in the admin, and browse cases read-only."""

import pytest
from django.urls import reverse

from exceptions.models import CaseType, RuleSetting
from exceptions.thresholds import DESCRIPTIONS
from tests.factories import ExceptionCaseFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def post_setting(staff_client, **fields):
    data = {"rule": CaseType.ASN_LATE, "supplier": "", "site": "", "is_enabled": "unknown", "severity": ""}
    data |= {"sla_hours": "", "threshold": "", "grace_days": ""} | fields
    return staff_client.post(reverse("admin:exceptions_rulesetting_add"), data)


def test_a_supplier_override_is_saved(staff_client, supplier):
    response = post_setting(staff_client, supplier=str(supplier.pk), grace_days="3", sla_hours="12")
    assert response.status_code == 302
    setting = RuleSetting.objects.get()
    assert (setting.supplier, setting.grace_days, setting.sla_hours, setting.threshold) == (supplier, 3, 12, None)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"threshold": "2"}, "threshold", "Shipment notice late has no threshold: leave it empty."),
        ({"rule": CaseType.QUANTITY_SHORT, "grace_days": "2"}, "grace_days", "Quantity short has no grace days"),
        ({"sla_hours": "0"}, "sla_hours", "greater than or equal to 1"),
        ({"severity": "7"}, "severity", "Select a valid choice"),
    ],
)
def test_a_setting_the_rule_does_not_use_is_refused(staff_client, fields, field, message):
    response = post_setting(staff_client, **fields)
    assert response.status_code == 200
    assert message in " ".join(response.context["adminform"].form.errors[field])
    assert not RuleSetting.objects.exists()


def test_a_second_default_for_the_same_rule_is_refused(staff_client):
    RuleSetting.objects.create(rule=CaseType.ASN_LATE, grace_days=2)
    response = post_setting(staff_client, grace_days="3")
    assert response.status_code == 200
    assert RuleSetting.objects.count() == 1


def test_the_change_form_shows_what_the_rule_checks(staff_client):
    setting = RuleSetting.objects.create(rule=CaseType.PROPOSAL_OVERDUE, threshold=12)
    response = staff_client.get(reverse("admin:exceptions_rulesetting_change", args=[setting.pk]))
    assert DESCRIPTIONS[CaseType.PROPOSAL_OVERDUE] in response.content.decode()


def test_cases_are_browsed_with_their_history_but_not_edited(staff_client, po):
    case = ExceptionCaseFactory.create(po=po)
    case.activities.create(kind="opened", note="Deadline passed.")
    changelist = staff_client.get(reverse("admin:exceptions_exceptioncase_changelist"), {"type__exact": "ack_overdue"})
    assert case.title in changelist.content.decode()
    page = staff_client.get(reverse("admin:exceptions_exceptioncase_change", args=[case.pk]))
    assert page.status_code == 200
    assert "Deadline passed." in page.content.decode()
    assert staff_client.get(reverse("admin:exceptions_exceptioncase_add")).status_code == 403
    response = staff_client.post(reverse("admin:exceptions_exceptioncase_change", args=[case.pk]), {"title": "x"})
    assert response.status_code == 403
