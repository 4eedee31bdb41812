"""The Content-Security-Policy covers every response, pages carry a fresh nonce, and no template needs inline code."""

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from suppliers.services import api_key_create
from tests.config.test_settings import PROD_SECRETS, ROOT, _settings_in_subprocess
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


def test_production_pins_https_for_subdomains_and_trusts_only_the_proxys_scheme_header():
    result = _settings_in_subprocess(
        PROD_SECRETS,
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER, s.DEBUG,"
        " s.CSRF_COOKIE_HTTPONLY, s.SECURE_CONTENT_TYPE_NOSNIFF, s.X_FRAME_OPTIONS",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True ('HTTP_X_FORWARDED_PROTO', 'https') False True True DENY"


def test_development_keeps_cookies_http_only_but_not_tls_only():
    """The same session rules everywhere; only TLS (which development has not) is production's."""
    result = _settings_in_subprocess(
        {},
        "s.SESSION_COOKIE_HTTPONLY, s.CSRF_COOKIE_HTTPONLY, s.SESSION_COOKIE_AGE, s.SECURE_REFERRER_POLICY,"
        " getattr(s, 'SESSION_COOKIE_SECURE', False), getattr(s, 'SECURE_HSTS_SECONDS', 0)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True 43200 same-origin False 0"


# A request through the whole middleware stack under the production settings, in a fresh interpreter.
PRODUCTION_REQUESTS = """
import django, json
django.setup()
from django.conf import settings
from django.test import Client, override_settings
# Production serves collectstatic's manifest, which a checkout has not built; the storage is all that changes.
override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}).enable()
client = Client(HTTP_HOST="portal.example.com")
tls = client.get("/accounts/login/", secure=True)
proxied = Client(HTTP_HOST="portal.example.com").get("/healthz", HTTP_X_FORWARDED_PROTO="https")
plain = client.get("/accounts/login/?next=/")
cookie = tls.cookies["csrftoken"]
print(json.dumps({
    "status": [tls.status_code, proxied.status_code, plain.status_code],
    "redirect": plain["Location"],
    "hsts": [tls["Strict-Transport-Security"], proxied["Strict-Transport-Security"]],
    "headers": [tls["Referrer-Policy"], tls["X-Content-Type-Options"], tls["X-Frame-Options"]],
    "csrf_cookie": [bool(cookie["secure"]), bool(cookie["httponly"]), cookie["samesite"]],
}))
"""


def test_a_production_response_has_hsts_the_headers_and_a_secure_http_only_csrf_cookie():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env = {**clean, **PROD_SECRETS, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PRODUCTION_REQUESTS], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["status"] == [200, 200, 301]
    assert seen["redirect"] == "https://portal.example.com/accounts/login/?next=/"
    assert seen["hsts"] == ["max-age=31536000; includeSubDomains; preload"] * 2
    assert seen["headers"] == ["same-origin", "nosniff", "DENY"]
    assert seen["csrf_cookie"] == [True, True, "Lax"]


def test_signing_in_gives_an_http_only_session_that_ends_with_the_browser_or_after_12_hours(client, supplier_user):
    supplier_user.set_password("a long passphrase 42")
    supplier_user.save(update_fields=["password"])

    response = client.post(reverse("account_login"), {"login": supplier_user.email, "password": "a long passphrase 42"})

    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == ""  # a browser-session cookie: closing the browser ends it
    session = Session.objects.get(session_key=cookie.value)
    lifetime = session.expire_date - timezone.now()
    assert dt.timedelta(hours=11, minutes=59) < lifetime <= dt.timedelta(hours=12)
