"""allauth's pages that our URLs reach render in the portal's layout and under the Content-Security-Policy;
the ones the portal does not offer are 404 (docs/security.md#allauths-pages)."""

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.config.test_security import EVENT_HANDLER, INLINE_SCRIPT_OR_STYLE, STYLE_ATTRIBUTE
from tests.totp import enrol

pytestmark = pytest.mark.django_db

SAMPLES = {"key": "MQ:1tXyZa:abcdef", "uidb36": "1"}
REACHABLE = {
    "account_login",
    "account_logout",
    "account_inactive",
    "account_signup",
    "account_reauthenticate",
    "account_change_password",
    "account_set_password",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_confirm_login_code",
    # Two-factor authentication (allauth.mfa; TOTP and recovery codes, docs/security.md#two-factor-authentication)
    "mfa_index",
    "mfa_authenticate",
    "mfa_reauthenticate",
    "mfa_activate_totp",
    "mfa_deactivate_totp",
    "mfa_view_recovery_codes",
    "mfa_generate_recovery_codes",
    "mfa_download_recovery_codes",
}
# Pages about an authenticator the user has: allauth answers 404 to a user without one.
NEED_AUTHENTICATOR = {"mfa_deactivate_totp", "mfa_view_recovery_codes", "mfa_download_recovery_codes"}
NOT_OFFERED = ["/accounts/email/", "/accounts/confirm-email/", "/accounts/confirm-email/MQ:1tXyZa:abcdef/"]
# allauth adds these only with phone numbers in ACCOUNT_SIGNUP_FIELDS, which the portal does not use.
NEVER_ROUTED = ["/accounts/phone/change/", "/accounts/phone/verify/"]


def _allauth_routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    """(name, argument names) of every route whose view is allauth's, and which our URLs reach first."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if not pattern.namespace:  # allauth's routes are not namespaced; the admin's are
                yield from _allauth_routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and pattern.callback.__module__.startswith("allauth.") and pattern.name:
            yield pattern.name, tuple(pattern.pattern.regex.groupindex)


ROUTES = [
    (name, arguments)
    for name, arguments in _allauth_routes()
    if get_resolver().resolve(reverse(name, kwargs={a: SAMPLES[a] for a in arguments})).url_name == name
]


def test_the_reachable_allauth_pages_are_the_ones_reviewed():
    """A new allauth page (a setting, an allauth upgrade) fails here until it is checked and listed."""
    assert {name for name, _ in ROUTES} == REACHABLE


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize(("name", "arguments"), ROUTES, ids=[name for name, _ in ROUTES])
def test_every_reachable_allauth_page_is_in_the_portal_layout_and_keeps_to_the_policy(
    name, arguments, signed_in, supplier_user
):
    client = Client()
    if signed_in:
        if name in NEED_AUTHENTICATOR:
            enrol(supplier_user)
        client.force_login(supplier_user)

    response = client.get(reverse(name, kwargs={a: SAMPLES[a] for a in arguments}))

    assert response.status_code in {200, 302}
    if response.status_code == 302:
        return  # a redirect (to sign in, or home) shows nothing of its own
    html = response.content.decode()
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    assert 'class="topbar"' in html, "the page extends _base.html"
    assert STYLE_ATTRIBUTE.findall(html) == []
    assert EVENT_HANDLER.findall(html) == []
    inline = [m.group(0) for m in INLINE_SCRIPT_OR_STYLE.finditer(html)]
    assert [tag for tag in inline if f'nonce="{nonce}"' not in tag] == []


def test_the_password_change_page_uses_the_portals_fields_and_buttons(alice_client):
    html = alice_client.get(reverse("account_change_password")).content.decode()

    assert '<form method="post" action="/accounts/password/change/" class="stack">' in html
    assert '<label for="id_oldpassword">Current Password</label>' in html
    assert '<div class="field">' in html
    assert re.search(r'<button type="submit" class="primary">\s*Change Password', html)


@pytest.mark.parametrize("url", NOT_OFFERED + NEVER_ROUTED)
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_the_account_pages_the_portal_does_not_offer_are_404(url, signed_in, supplier_user):
    client = Client()
    if signed_in:
        client.force_login(supplier_user)

    assert client.get(url).status_code == 404
    assert client.post(url, {"email": "mallory@example.com", "action_add": ""}).status_code == 404
