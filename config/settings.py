"""Supplyline settings: one file, driven by environment variables.

With nothing set, the portal runs for development on SQLite with a filesystem
Celery broker, so it needs no server. `DATABASE_URL` and `REDIS_URL` switch to
PostgreSQL and Redis. `DJANGO_ENV=production` turns on the secure defaults and
refuses to start without the secrets it needs. README.md lists every variable.
"""

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

import dj_database_url
import django_stubs_ext
import pghistory
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    """A string from the environment; without a default, the variable is required."""
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


def env_decimal(name: str, default: str) -> Decimal:
    raw = env_str(name, default)
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in env_str(name, default).split(",") if part.strip()]


DJANGO_ENV = env_str("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development or production, not {DJANGO_ENV!r}.")
PRODUCTION = DJANGO_ENV == "production"

# Production has no default secret: env_str raises when DJANGO_SECRET_KEY is missing.
SECRET_KEY = (
    env_str("DJANGO_SECRET_KEY")
    if PRODUCTION
    else env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-supplyline-do-not-use-in-production")
)
# Earlier keys, still accepted while what they signed or encrypted ages out (sessions, password-reset links,
# connector credentials: planning_sync/credentials.py); comma-separated, newest first.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")
DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG cannot be on in production.")
ALLOWED_HOSTS = (
    env_list("DJANGO_ALLOWED_HOSTS")
    if PRODUCTION
    else env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("Set DJANGO_ALLOWED_HOSTS (comma-separated) in production.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "django_filters",
    "django_htmx",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "pghistory",
    "suppliers",
    "purchasing",
    "planning_sync",
    "exceptions",
    "config.audit",
]

MIDDLEWARE = [
    "config.middleware.request_id",
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.reject_nul_in_path",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "suppliers.middleware.active_supplier",
    "config.audit.middleware.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "suppliers.mfa.MfaEnrolmentMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, so the scope starts right before the view, once every request middleware has run.
    "config.middleware.SupplierScopeMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "suppliers.context_processors.portal",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
# Development data lives under .data/ (ignored by git) so a fresh clone needs no server.
DATA_DIR = Path(env_str("SUPPLYLINE_DATA_DIR", str(BASE_DIR / ".data")))
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if PRODUCTION and not DATABASE_URL:
    raise ImproperlyConfigured("Set DATABASE_URL to a PostgreSQL database in production.")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # pgtrigger's triggers first read the setting pgtrigger.ignore, and where it is not set at all that read
    # raises and is caught, a subtransaction for every row: twelve times slower on a bulk write. Set empty
    # at connection start, it costs nothing (docs/audit.md).
    # Added to any options the URL gives (?options=-c search_path=...), not in their place.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c pgtrigger.ignore={{}}".strip()
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "db.sqlite3")}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The NOLOGIN role supplier requests run as on PostgreSQL, under row-level security (docs/security.md).
# The connecting role must be a member; `migrate` creates it when the connecting role may.
SUPPLYLINE_TENANT_ROLE = env_str("SUPPLYLINE_TENANT_ROLE", "supplyline_tenant")

# --- Cache ------------------------------------------------------------------
# With REDIS_URL, Redis is the cache, so login rate limits and API throttles are
# shared by every web process; without it each process has its own memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured("Set REDIS_URL in production: it is the Celery broker and the shared cache.")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "supplyline"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Authentication ---------------------------------------------------------
AUTH_USER_MODEL = "suppliers.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "suppliers.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
# Accounts are provisioned by the distributor and by supplier admins' invitations (the link went to the
# address), so addresses are trusted and there is no public sign-up.
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# Failed sign-ins (passwords and MFA codes alike) are counted per client address, and per address
# and account together (suppliers/adapters.py, suppliers/mfa.py): a client that keeps failing is
# locked out, the account's owner elsewhere is not. The counters live in the shared cache (Redis).
# docs/security.md explains the design and its limits.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Supplyline] "
# The client address for those limits: REMOTE_ADDR, or the address this many proxies back in
# X-Forwarded-For. Production sits behind one proxy (see SECURE_PROXY_SSL_HEADER); without this every
# client would share the proxy's address and one attacker would lock out everybody.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if PRODUCTION else 0)

# Multi-factor authentication (allauth.mfa): an authenticator app (TOTP) with recovery codes.
# Buyers and supplier admins must enrol before they can use the portal (suppliers.mfa).
SUPPLYLINE_MFA_REQUIRED = env_bool("SUPPLYLINE_MFA_REQUIRED", default=True)
# Wrong codes per user from all addresses together (besides the per-address limits): at 30 an hour, a
# guesser spread over many addresses needs about four years of non-stop trying, on average, for a
# six-digit code, and its password besides.
SUPPLYLINE_MFA_USER_RATE = env_str("SUPPLYLINE_MFA_USER_RATE", "30/h/key")
MFA_ADAPTER = "suppliers.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Supplyline"
MFA_FORMS = {
    "authenticate": "suppliers.mfa.AuthenticateForm",
    "reauthenticate": "suppliers.mfa.ReauthenticateForm",
}

# Sign-up is open only to a person holding a supplier admin's invitation (suppliers/adapters.py).
ACCOUNT_FORMS = {"signup": "suppliers.forms.InvitationSignupForm"}
# How long an invitation link works; resending it draws a new link for as long again.
SUPPLYLINE_INVITATION_DAYS = env_int("SUPPLYLINE_INVITATION_DAYS", 7)

# --- Internationalisation ---------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves `collectstatic` output through WhiteNoise; development and
# tests serve straight from the app and project folders.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles"))) if PRODUCTION else None
# Uploaded files (compliance documents): outside the static files and never served by URL; they are
# read only through the views that check who may download them.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
SUPPLYLINE_COMPLIANCE_MAX_BYTES = env_int("SUPPLYLINE_COMPLIANCE_MAX_BYTES", 10 * 1024 * 1024)
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- E-mail -----------------------------------------------------------------
# Django 6.1 mailers. Development prints mail to the console (of the Celery
# worker, which sends it); production talks SMTP.
_email_backend = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
MAILERS: dict[str, dict[str, object]] = {"default": {"BACKEND": _email_backend}}
if _email_backend.endswith("smtp.EmailBackend"):
    MAILERS["default"]["OPTIONS"] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 25),
        "username": env_str("EMAIL_HOST_USER", ""),
        "password": env_str("EMAIL_HOST_PASSWORD", ""),
        "use_tls": env_bool("EMAIL_USE_TLS", default=False),
        "timeout": env_int("EMAIL_TIMEOUT", 20),
    }
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Supplyline <noreply@supplyline.invalid>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security ---------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
# No script reads the CSRF cookie: forms and htmx take the token from the page ({{ csrf_token }}).
CSRF_COOKIE_HTTPONLY = True
if PRODUCTION:
    # TLS is terminated by the proxy in front of gunicorn, which sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# The same strict policy in every environment, so a page that breaks under it breaks in
# development and in the tests first (docs/security.md). Scripts and <style> blocks run only
# from our own origin or with the per-request nonce ({{ csp_nonce }}); nothing inline otherwise.
SECURE_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],  # icons inlined in CSS, e.g. Swagger UI's
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Django REST framework --------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Supplyline API",
    "DESCRIPTION": (
        "Supplier collaboration portal: purchase orders, acknowledgements and shipment notices. "
        "Authenticate with `Authorization: Bearer <API key>`; errors are RFC 9457 problem details. "
        "Guide: docs/api.md."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The document is public (it holds no supplier's data), like any API reference.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Swagger UI and Redoc come from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name per choice set, whichever serializer field uses it.
    "ENUM_NAME_OVERRIDES": {
        "PurchaseOrderStatusEnum": "purchasing.models.POStatus",
        "LineStatusEnum": "purchasing.models.LineStatus",
        "ShipmentStatusEnum": "purchasing.models.ShipmentStatus",
        "PackageKindEnum": "purchasing.models.ShipmentPackage.Kind",
        "DocumentKindEnum": "purchasing.models.DocumentKind",
    },
}

# --- Audit trail (django-pghistory, docs/audit.md) ---------------------------
# Each event is stamped with the time of the change itself, not of its transaction's start, so a
# history reads in the order things happened even inside one long transaction.
PGHISTORY_CREATED_AT_FUNCTION = "CLOCK_TIMESTAMP()"
# The event tables copy the tracked rows' foreign keys as plain columns, without the index each would cost on
# every write; audit/models.py indexes the few that an object's history is read by.
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)

# --- Supplier API (/api/v1/) ------------------------------------------------
# Token buckets per API key (requests per second, burst), shared through Redis.
SUPPLYLINE_API_RATE = env_int("SUPPLYLINE_API_RATE", 50)
SUPPLYLINE_API_BURST = env_int("SUPPLYLINE_API_BURST", 100)
# Document uploads are parsed on arrival, so they get a lower limit of their own.
SUPPLYLINE_API_UPLOAD_RATE = env_int("SUPPLYLINE_API_UPLOAD_RATE", 5)
SUPPLYLINE_API_UPLOAD_BURST = env_int("SUPPLYLINE_API_UPLOAD_BURST", 10)

# --- Celery -----------------------------------------------------------------
# Without REDIS_URL the broker is kombu's filesystem transport under .data/, so
# the worker and beat still run as separate processes with no server at all.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_FILESYSTEM_BROKER_DIR = DATA_DIR / "broker"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Procurement defaults ---------------------------------------------------
# A supplier's own settings override these (see suppliers.models.Supplier).
SUPPLYLINE_ACK_DEADLINE_HOURS = env_int("SUPPLYLINE_ACK_DEADLINE_HOURS", 48)
SUPPLYLINE_TOLERANCES = {
    "price_pct": env_decimal("SUPPLYLINE_PRICE_TOLERANCE_PCT", "2"),
    "quantity_pct": env_decimal("SUPPLYLINE_QUANTITY_TOLERANCE_PCT", "5"),
    "days_early": env_int("SUPPLYLINE_DAYS_EARLY_TOLERANCE", 3),
    "days_late": env_int("SUPPLYLINE_DAYS_LATE_TOLERANCE", 2),
}
SUPPLYLINE_PAGE_SIZE = env_int("SUPPLYLINE_PAGE_SIZE", 50)
# How far ahead supply risk projects each item's balance at a site (exceptions.supply_risk).
SUPPLYLINE_PROJECTION_WEEKS = env_int("SUPPLYLINE_PROJECTION_WEEKS", 12)
# Hours before the acknowledgement deadline when suppliers get a reminder.
SUPPLYLINE_REMINDER_HOURS = env_int("SUPPLYLINE_REMINDER_HOURS", 12)
# The portal's public address, for links in e-mails.
SUPPLYLINE_BASE_URL = (
    env_str("SUPPLYLINE_BASE_URL") if PRODUCTION else env_str("SUPPLYLINE_BASE_URL", "http://127.0.0.1:8000")
).rstrip("/")

# --- Integration engine (planning_sync) ------------------------------------
# How far a shipment notice's dates may be from today (ship date) and from the ship date (arrival).
SUPPLYLINE_SHIPMENT_DATES = {
    "past_days": env_int("SUPPLYLINE_SHIP_DATE_PAST_DAYS", 30),
    "future_days": env_int("SUPPLYLINE_SHIP_DATE_FUTURE_DAYS", 60),
    "transit_days": env_int("SUPPLYLINE_TRANSIT_DAYS", 90),
}

# B2B documents (CSV, Excel, X12, EDIFACT). A file larger than this is refused before it is read.
SUPPLYLINE_DOCUMENT_MAX_BYTES = env_int("SUPPLYLINE_DOCUMENT_MAX_BYTES", 20 * 1024 * 1024)
# The largest JSON body the supplier API takes (413 beyond, before it is read whole). The largest requests its
# own limits allow are about 1 MB (a shipment notice of 2,000 packages and 2,000 lines) and about 2 MB (an
# acknowledgement of 1,000 lines, each with a 2,000-character note).
SUPPLYLINE_API_MAX_BODY_BYTES = env_int("SUPPLYLINE_API_MAX_BODY_BYTES", 10 * 1024 * 1024)
# Per-supplier drop folders for a VAN or SFTP: <root>/<supplier code>/inbound is scanned, files move to
# processed/ or rejected/, and what we send (997, CONTRL, 850, ORDERS) is written to outbound/.
SUPPLYLINE_EDI_ROOT = Path(env_str("SUPPLYLINE_EDI_ROOT", str(DATA_DIR / "edi")))
SUPPLYLINE_EDI_SCAN_S = env_int("SUPPLYLINE_EDI_SCAN_S", 60)
# Our own interchange identities, as the suppliers' EDI systems know us.
SUPPLYLINE_EDI = {
    "x12_qualifier": env_str("SUPPLYLINE_X12_QUALIFIER", "ZZ"),
    "x12_id": env_str("SUPPLYLINE_X12_ID", "SUPPLYLINE"),
    "edifact_id": env_str("SUPPLYLINE_EDIFACT_ID", "SUPPLYLINE"),
    "edifact_qualifier": env_str("SUPPLYLINE_EDIFACT_QUALIFIER", "ZZZ"),
}

PLANNING_SYNC = {
    # A claimed delivery whose worker died is claimed again after this; above any connector timeout.
    "lease_s": env_int("PLANNING_SYNC_LEASE_S", 30),
    "batch": env_int("PLANNING_SYNC_BATCH", 20),
    "retry_base_s": float(env_decimal("PLANNING_SYNC_RETRY_BASE_S", "0.5")),
    "retry_cap_s": float(env_decimal("PLANNING_SYNC_RETRY_CAP_S", "300")),
    "circuit_threshold": env_int("PLANNING_SYNC_CIRCUIT_THRESHOLD", 5),
    "circuit_cooldown_s": float(env_decimal("PLANNING_SYNC_CIRCUIT_COOLDOWN_S", "10")),
    # The claim is a server-side prepared statement on each connection (planned once, not per
    # wake-up). Turn off behind a pooler in transaction mode, which cannot keep SQL PREPAREs.
    "prepared_claim": env_bool("PLANNING_SYNC_PREPARED_CLAIM", True),
}
PLANNING_SYNC_SWEEP_S = env_int("PLANNING_SYNC_SWEEP_S", 2)
# Days an outbox event is kept once all its deliveries are delivered (planning_sync/retention.py); 0 keeps
# everything. Above 364, so the KPIs over 52 weeks still find when each acknowledgement cycle began.
PLANNING_SYNC_RETENTION_DAYS = env_int("PLANNING_SYNC_RETENTION_DAYS", 400)
if PLANNING_SYNC_RETENTION_DAYS < 0:
    raise ImproperlyConfigured("PLANNING_SYNC_RETENTION_DAYS must be 0 (keep every event) or a number of days.")
# The largest body an inbound feed push may send (413 beyond); 5,000 documents fit with room to spare.
PLANNING_SYNC_MAX_BODY_BYTES = env_int("PLANNING_SYNC_MAX_BODY_BYTES", 64 * 1024 * 1024)
# How often connectors with `pull_feeds` are asked for ERP and planning changes.
PLANNING_SYNC_PULL_S = env_int("PLANNING_SYNC_PULL_S", 60)
# Where the built-in sandbox ERP and planning system listen (`manage.py run_sandbox`); the demo's
# connectors point at it.
SUPPLYLINE_SANDBOX_URL = env_str("SUPPLYLINE_SANDBOX_URL", f"http://127.0.0.1:{env_int('SANDBOX_PORT', 8100)}")
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# --- Logging ----------------------------------------------------------------
# JSON lines carry the event id and PO number of every outbox step, so one change
# can be followed from the request to the ERP; plain text reads better on a dev console.
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "config.log_context.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(origin)s] %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "filters": {"request_id": {"()": "config.log_context.RequestIdFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}
