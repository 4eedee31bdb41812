import pytest
from django.core import mail
from django.urls import reverse

from suppliers.models import User
from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db
LOGIN = reverse("account_login")


def test_the_login_page_has_labelled_fields(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b'<label for="id_login">E-mail</label>' in response.content
    assert b'<label for="id_password">Password</label>' in response.content


def test_a_supplier_user_signs_in_with_email_and_lands_on_the_supplier_home(client, supplier_user):
    response = client.post(LOGIN, {"login": "ALICE@example.com", "password": DEMO_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("suppliers:supplier-home")
    assert b"Acme Industrial Supply" in response.content


def test_a_buyer_signs_in_and_lands_on_the_buyer_home(client, buyer):
    response = client.post(LOGIN, {"login": buyer.email, "password": DEMO_PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("suppliers:buyer-home")


def test_a_wrong_password_is_refused_with_a_message(client, supplier_user):
    response = client.post(LOGIN, {"login": supplier_user.email, "password": "wrong"})
    assert response.status_code == 200
    assert b"not correct" in response.content
    assert "_auth_user_id" not in client.session


def test_repeated_failures_are_rate_limited(client, supplier_user, settings):
    for _ in range(5):
        client.post(LOGIN, {"login": supplier_user.email, "password": "wrong"})
    response = client.post(LOGIN, {"login": supplier_user.email, "password": DEMO_PASSWORD})
    assert "_auth_user_id" not in client.session
    assert response.status_code in {200, 429}
    assert b"Too many failed login attempts" in response.content


def test_there_is_no_public_sign_up(client):
    response = client.post(reverse("account_signup"), {"email": "eve@example.com", "password1": "x" * 12})
    assert b"No public sign-up" in response.content
    assert not User.objects.filter(email="eve@example.com").exists()


def test_sign_out_is_a_post_and_ends_the_session(alice_client):
    response = alice_client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert alice_client.get(reverse("home")).status_code == 302
    assert "_auth_user_id" not in alice_client.session


def test_a_password_reset_mail_is_sent_from_a_worker_after_commit(
    client, supplier_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("account_reset_password"), {"email": supplier_user.email})
    assert response.status_code == 302
    assert len(callbacks) == 1  # the send_email task, enqueued only once the request commits
    assert mail.outbox == []  # nothing was sent from the web process


def test_a_password_reset_for_an_unknown_address_reveals_nothing(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    assert len(callbacks) <= 1
