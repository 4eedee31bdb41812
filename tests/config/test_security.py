"""The Content-Security-Policy covers every response, pages carry a fresh nonce, and no template needs inline code."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from suppliers.services import api_key_create
from tests.config.test_settings import PROD_SECRETS, _settings_in_subprocess
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
STRICT_DIRECTIVES = [
    "default-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
]


def _policy(response) -> dict[str, str]:
    policy = {}
    for directive in response["Content-Security-Policy"].split(";"):
        name, _, value = directive.strip().partition(" ")
        policy[name] = value
    return policy


def _nonce(response) -> str:
    match = re.search(r"'nonce-([^']+)'", _policy(response)["script-src"])
    assert match, response["Content-Security-Policy"]
    return match.group(1)


def test_a_portal_page_gets_the_strict_policy_with_a_nonce_on_its_scripts(alice_client, po):
    response = alice_client.get(reverse("purchasing:po-detail", args=[po.number]))
    assert response.status_code == 200
    for directive in STRICT_DIRECTIVES:
        assert directive in response["Content-Security-Policy"]
    nonce = _nonce(response)
    assert _policy(response)["style-src"] == f"'self' 'nonce-{nonce}'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    scripts = re.findall(r"<script\b[^>]*>", response.content.decode())
    assert scripts, "the page loads htmx and supplyline.js"
    assert all(f'nonce="{nonce}"' in tag for tag in scripts), scripts


def test_the_nonce_is_new_on_every_request(alice_client):
    first = alice_client.get(reverse("purchasing:po-list"))
    second = alice_client.get(reverse("purchasing:po-list"))
    assert _nonce(first) != _nonce(second)
    assert f'nonce="{_nonce(second)}"' in second.content.decode()
    assert _nonce(first) not in second.content.decode()


def test_the_sign_in_page_is_covered_before_anyone_signs_in(client):
    response = client.get(reverse("account_login"))
    assert f'nonce="{_nonce(response)}"' in response.content.decode()


def test_htmx_is_configured_for_the_policy(buyer_client):
    """htmx must not inject its indicator <style> (blocked) nor eval attribute code (blocked)."""
    html = buyer_client.get(reverse("exceptions:case-list")).content.decode()
    assert """content='{"includeIndicatorStyles": false, "allowEval": false, "allowScriptTags": false}'""" in html
    css = (Path(settings.BASE_DIR) / "static" / "css" / "supplyline.css").read_text()
    assert ".htmx-request .htmx-indicator" in css


def test_api_responses_and_errors_carry_the_policy(client, supplier):
    _key, secret = api_key_create(supplier=supplier, name="ERP", scopes=["orders:read"], by=None, expires_at=None)
    ok = client.get(reverse("api:whoami"), headers={"Authorization": f"Bearer {secret}"})
    refused = client.get(reverse("api:whoami"))
    assert (ok.status_code, refused.status_code) == (200, 401)
    for response in (ok, refused):
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_the_admin_runs_under_the_policy_with_nonces(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:purchasing_purchaseorder_changelist"))
    assert response.status_code == 200
    assert f'nonce="{_nonce(response)}"' in response.content.decode()


def test_swagger_ui_puts_the_nonce_on_its_inline_script_and_style(client):
    response = client.get(reverse("api-docs"))
    html = response.content.decode()
    nonce = _nonce(response)
    assert f'<script nonce="{nonce}">' in html
    assert f'<style nonce="{nonce}">' in html
    assert "unsafe-inline" not in response["Content-Security-Policy"]


def test_redoc_alone_may_inject_styles_and_start_its_search_worker(client):
    response = client.get(reverse("api-redoc"))
    policy = _policy(response)
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["worker-src"] == "'self' blob:"
    assert policy["script-src"] == f"'self' 'nonce-{_nonce(response)}'"
    assert f'nonce="{_nonce(response)}"' in response.content.decode()


# --- every template is written for the policy -------------------------------------------------

# E-mails are not served as pages (the policy does not apply to them) and need inline styles.
EMAIL_TEMPLATES = {"email"}
INLINE_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)


def _page_templates() -> list[Path]:
    return [
        path
        for path in sorted(TEMPLATES.rglob("*.html"))
        if not EMAIL_TEMPLATES & set(path.relative_to(TEMPLATES).parts)
    ]


def test_the_scan_sees_the_templates_and_would_catch_a_violation():
    assert len(_page_templates()) > 20
    assert INLINE_SCRIPT_OR_STYLE.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT_OR_STYLE.search('<script src="/static/x.js" nonce="{{ csp_nonce }}">')
    assert EVENT_HANDLER.search('<input onfocus="this.select()">')
    assert STYLE_ATTRIBUTE.search('<div class="field" style="margin-top:1rem">')


@pytest.mark.parametrize("path", _page_templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_inline_code_without_a_nonce(path):
    text = path.read_text()
    unnonced = [tag for tag in (m.group(0) for m in INLINE_SCRIPT_OR_STYLE.finditer(text)) if "nonce=" not in tag]
    assert unnonced == []
    assert EVENT_HANDLER.findall(text) == []
    assert STYLE_ATTRIBUTE.findall(text) == []


def test_production_sends_cookies_over_tls_only_and_pins_https():
    result = _settings_in_subprocess(
        PROD_SECRETS,
        "s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_AGE, s.SECURE_REFERRER_POLICY, bool(s.SECURE_CSP)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True True 31536000 True 43200 same-origin True"
