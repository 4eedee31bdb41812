"""Login rate limits, against the shared Redis cache: a failing client locks itself out, never the account's owner.

The counters are allauth's ``login_failed`` rates (``10/m/ip,5/5m/key``) with the per-account key bound
to the client's address (suppliers/adapters.py, suppliers/mfa.py); docs/security.md has the design.
"""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tests.factories import DEMO_PASSWORD, UserFactory
from tests.totp import enrol, totp_code

pytestmark = pytest.mark.django_db
LOGIN = reverse("account_login")
AUTHENTICATE = reverse("mfa_authenticate")
ATTACKER = "203.0.113.9"
OWNER = "198.51.100.7"
LOCKED = b"Too many failed login attempts"


def test_the_counters_live_in_redis():
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"


def _password(client: Client, email: str, password: str, ip: str):
    return client.post(LOGIN, {"login": email, "password": password}, REMOTE_ADDR=ip)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _fail(email: str, ip: str, times: int) -> Client:
    attacker = Client()
    for _ in range(times):
        response = _password(attacker, email, "wrong-password", ip)
        assert LOCKED not in response.content
    return attacker


def test_an_attacker_is_locked_out_and_the_owner_elsewhere_still_signs_in(supplier_user):
    attacker = _fail(supplier_user.email, ATTACKER, 5)
    # Even the right password is refused to the locked-out client.
    assert LOCKED in _password(attacker, supplier_user.email, DEMO_PASSWORD, ATTACKER).content
    assert not _signed_in(attacker)

    owner = Client()
    response = _password(owner, supplier_user.email, DEMO_PASSWORD, OWNER)
    assert response.status_code == 302
    assert _signed_in(owner)
    assert any(key.startswith(b"supplyline:") and b":login_failed:" in key for key in _redis_keys())


def _redis_keys() -> list[bytes]:
    return list(cache._cache.get_client().keys("*"))  # type: ignore[attr-defined]


def test_the_lock_holds_only_the_account_that_failed(supplier_user, outsider):
    _fail(supplier_user.email, ATTACKER, 5)
    other = Client()
    assert _password(other, outsider.email, DEMO_PASSWORD, ATTACKER).status_code == 302
    assert _signed_in(other)


def test_one_address_failing_on_many_accounts_is_locked_out_of_every_account(supplier_user):
    for n in range(10):
        _fail(f"nobody{n}@example.com", ATTACKER, 1)
    attacker = Client()
    assert LOCKED in _password(attacker, supplier_user.email, DEMO_PASSWORD, ATTACKER).content
    owner = Client()
    assert _password(owner, supplier_user.email, DEMO_PASSWORD, OWNER).status_code == 302


def test_the_lock_expires_after_the_window(supplier_user):
    _fail(supplier_user.email, ATTACKER, 5)
    with time_machine.travel(dt.timedelta(minutes=4, seconds=50)):
        assert LOCKED in _password(Client(), supplier_user.email, DEMO_PASSWORD, ATTACKER).content
    with time_machine.travel(dt.timedelta(minutes=5, seconds=5)):
        client = Client()
        assert _password(client, supplier_user.email, DEMO_PASSWORD, ATTACKER).status_code == 302
        assert _signed_in(client)


def test_a_successful_sign_in_takes_back_only_its_own_attempt(supplier_user):
    _fail(supplier_user.email, ATTACKER, 4)
    client = Client()
    assert _password(client, supplier_user.email, DEMO_PASSWORD, ATTACKER).status_code == 302
    # The four failures still count: one more locks the address out of the account.
    _fail(supplier_user.email, ATTACKER, 1)
    assert LOCKED in _password(Client(), supplier_user.email, DEMO_PASSWORD, ATTACKER).content


def test_a_client_behind_the_trusted_proxy_is_known_by_its_forwarded_address(supplier_user, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    attacker = Client()
    for _ in range(5):
        attacker.post(
            LOGIN,
            {"login": supplier_user.email, "password": "x"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=ATTACKER,
        )
    owner = Client()
    response = owner.post(
        LOGIN,
        {"login": supplier_user.email, "password": DEMO_PASSWORD},
        REMOTE_ADDR="10.0.0.2",  # the same proxy
        HTTP_X_FORWARDED_FOR=OWNER,
    )
    assert response.status_code == 302
    assert _signed_in(owner)


# --- the code step ------------------------------------------------------------------------------


@pytest.fixture
def enrolled_buyer(buyer, settings):
    settings.SUPPLYLINE_MFA_REQUIRED = True
    secret, _codes = enrol(buyer)
    return buyer, secret


def _to_code_step(email: str, ip: str) -> Client:
    client = Client()
    assert _password(client, email, DEMO_PASSWORD, ip)["Location"] == AUTHENTICATE
    return client


def test_wrong_codes_lock_out_the_client_not_the_owner(enrolled_buyer):
    buyer, secret = enrolled_buyer
    # Whoever has the password gets to the code step; five wrong codes lock that client out of it.
    attacker = _to_code_step(buyer.email, ATTACKER)
    for _ in range(5):
        response = attacker.post(AUTHENTICATE, {"code": "000000"}, REMOTE_ADDR=ATTACKER)
        assert b"Incorrect code" in response.content
    locked = attacker.post(AUTHENTICATE, {"code": totp_code(secret)}, REMOTE_ADDR=ATTACKER)
    assert LOCKED in locked.content
    assert not _signed_in(attacker)

    owner = _to_code_step(buyer.email, OWNER)
    response = owner.post(AUTHENTICATE, {"code": totp_code(secret)}, REMOTE_ADDR=OWNER)
    assert response.status_code == 302
    assert _signed_in(owner)


def test_wrong_codes_count_against_the_address_too(enrolled_buyer, supplier_user):
    buyer, _secret = enrolled_buyer
    attacker = _to_code_step(buyer.email, ATTACKER)
    for _ in range(5):
        attacker.post(AUTHENTICATE, {"code": "000000"}, REMOTE_ADDR=ATTACKER)
    _fail(supplier_user.email, ATTACKER, 4)  # nine failures from one address
    _fail(UserFactory.create().email, ATTACKER, 1)  # the tenth
    assert LOCKED in _password(Client(), supplier_user.email, DEMO_PASSWORD, ATTACKER).content


def test_wrong_codes_from_many_addresses_add_up_per_user(enrolled_buyer, settings):
    """A guesser with the password and a block of addresses: each address stays under its own limits, but
    the user's code step closes once the wrong codes from all of them reach SUPPLYLINE_MFA_USER_RATE."""
    buyer, secret = enrolled_buyer
    settings.SUPPLYLINE_MFA_USER_RATE = "6/h/key"
    for n in range(3):  # two wrong codes from each of three addresses: under every per-address limit
        address = f"2001:db8:{n}::1"
        attacker = _to_code_step(buyer.email, address)
        for _ in range(2):
            assert b"Incorrect code" in attacker.post(AUTHENTICATE, {"code": "000000"}, REMOTE_ADDR=address).content

    fresh = "2001:db8:99::1"
    attacker = _to_code_step(buyer.email, fresh)
    locked = attacker.post(AUTHENTICATE, {"code": totp_code(secret)}, REMOTE_ADDR=fresh)
    assert LOCKED in locked.content
    assert not _signed_in(attacker)


def test_a_right_code_does_not_count_against_the_user(enrolled_buyer, settings):
    buyer, secret = enrolled_buyer
    settings.SUPPLYLINE_MFA_USER_RATE = "1/h/key"
    start = dt.datetime.now(tz=dt.UTC)
    # Two sign-ins in a row, each with its right code (a minute apart: a code is good only once).
    for minutes, address in ((0, OWNER), (1, ATTACKER)):
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            client = _to_code_step(buyer.email, address)
            assert client.post(AUTHENTICATE, {"code": totp_code(secret)}, REMOTE_ADDR=address).status_code == 302
            assert _signed_in(client)
