"""FluenzR settings: one file, every value read from the environment (see .env.example).

With no DATABASE_URL / REDIS_URL the project runs on an embedded default that needs no
server (a SQLite file and a file-system Celery broker under var/), for `make run`.
"""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from fluenzr.env import env_bool, env_int, env_list, env_required, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

# Secrets: development gets throwaway defaults; production refuses to start without them.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"  # noqa: S105
_DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktISE="
# Retired keys, still accepted while sessions, links and API-key hashes move to the new one.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY") or _DEV_SECRET_KEY
    FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") or [_DEV_ENCRYPTION_KEY]
else:
    SECRET_KEY = env_required(
        "SECRET_KEY",
        "Set it to a long random string "
        "(python -c 'import secrets; print(secrets.token_urlsafe(64))'), "
        "or set DEBUG=1 for local development.",
    )
    env_required(
        "FIELD_ENCRYPTION_KEYS",
        "Set it to one or more comma-separated Fernet keys, newest first "
        "(python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())').",
    )
    FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS")  # checked: fluenzr.checks

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "fluenzr.admin_apps.FluenzrAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "fluenzr",
    "accounts",
    "webhooks",
    "contacts",
    "email_accounts",
    "campaigns",
    "warming",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The open pixel, click redirect and unsubscribe page skip everything below (no session).
    "campaigns.tracking.middleware.TrackingMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.WorkspaceMiddleware",
    "fluenzr.api.ratelimit.RateLimitHeadersMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "fluenzr.urls"
WSGI_APPLICATION = "fluenzr.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.workspace",
            ],
        },
    },
]

# Database: PostgreSQL (psycopg 3) through DATABASE_URL, else the embedded SQLite file.
if env_str("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL"), conn_max_age=60)}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "fluenzr.sqlite3",
            "OPTIONS": {
                # Writers take the lock up front instead of failing half-way ("database is locked").
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache (rate limits, allauth's limits): Redis, else process-local memory.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "fluenzr"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis, else kombu's file-system transport (no server).
if REDIS_URL:
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
    _celery_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "expire-invitations": {"task": "accounts.invitations_expire", "schedule": 3600.0},
    "purge-idempotency-records": {"task": "fluenzr.idempotency_purge", "schedule": 3600.0},
    "requeue-stalled-imports": {"task": "contacts.imports_requeue_stalled", "schedule": 300.0},
    "discard-abandoned-imports": {"task": "contacts.imports_discard_abandoned", "schedule": 3600.0},
    "resume-paused-mailboxes": {"task": "email_accounts.mailboxes_resume_due", "schedule": 60.0},
    "campaigns-tick": {"task": "campaigns.scheduler_tick", "schedule": 15.0},
    "campaigns-sweep": {"task": "campaigns.sweep", "schedule": 60.0},
    "campaigns-flush-tracking": {"task": "campaigns.tracking_flush", "schedule": 5.0},
    "campaigns-sync-mailboxes": {"task": "campaigns.mailboxes_sync_due", "schedule": 60.0},
    "campaigns-resume-out-of-office": {
        "task": "campaigns.enrollments_resume_due",
        "schedule": 60.0,
    },
    "webhooks-fan-out": {"task": "webhooks.fan_out", "schedule": 2.0},
    "webhooks-deliver-due": {"task": "webhooks.deliver_due", "schedule": 5.0},
}

AUTH_USER_MODEL = "accounts.User"
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
LOGIN_REDIRECT_URL = "dashboard"

# django-allauth: email is the identity; its rate limits stay on (they use the cache).
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.WorkspaceSignupForm"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
# Behind N reverse proxies, the client IP (for sign-in rate limits) is read from
# X-Forwarded-For; with 0, every visitor would share the proxy's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "FluenzR"

# Email we send (invitations, password resets): SMTP in production, the console in development.
_mail_backend = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
MAILERS = {
    "default": {
        "BACKEND": _mail_backend,
        "OPTIONS": {
            "host": env_str("EMAIL_HOST", "localhost"),
            "port": env_int("EMAIL_PORT", 587),
            "username": env_str("EMAIL_HOST_USER"),
            "password": env_str("EMAIL_HOST_PASSWORD"),
            "use_tls": env_bool("EMAIL_USE_TLS", True),
            "timeout": 20,
        }
        if _mail_backend.endswith("smtp.EmailBackend")
        else {},
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "FluenzR <no-reply@fluenzr.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Internationalisation: English and French; times shown in the workspace's timezone.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# Uploaded files (CSV imports, until they have been read). Web and worker must share it.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"  # never served: imports are read by the worker, not downloaded

# Contacts
CONTACTS_IMPORT_MAX_BYTES = env_int("CONTACTS_IMPORT_MAX_BYTES", 200 * 1024 * 1024)
CONTACTS_IMPORT_MAX_ROWS = env_int("CONTACTS_IMPORT_MAX_ROWS", 1_000_000)
# A DNS lookup per new domain when validating addresses (email-validator's deliverability).
CONTACTS_CHECK_DELIVERABILITY = env_bool("CONTACTS_CHECK_DELIVERABILITY", False)

# Email accounts: an extra CA bundle trusted for customers' SMTP/IMAP servers (a company CA).
EMAIL_ACCOUNTS_EXTRA_CA_FILE = env_str("EMAIL_ACCOUNTS_EXTRA_CA_FILE")
# Seconds each step of a mailbox connection test may take (connect, TLS, log in, list).
EMAIL_ACCOUNTS_STEP_TIMEOUT = env_int("EMAIL_ACCOUNTS_STEP_TIMEOUT", 15)
# Mailboxes on loopback or private networks (self-hosting beside one's own mail server).
# Off: the connection test must not become a probe of FluenzR's own network.
EMAIL_ACCOUNTS_ALLOW_PRIVATE_HOSTS = env_bool("EMAIL_ACCOUNTS_ALLOW_PRIVATE_HOSTS", False)
# Connection tests a workspace may run per hour (each dials a host the user chose).
EMAIL_ACCOUNTS_CONNECTION_TESTS_PER_HOUR = env_int("EMAIL_ACCOUNTS_CONNECTION_TESTS_PER_HOUR", 60)

# Tracking and unsubscribe links: on SITE_URL, or a workspace's verified custom domain (Pro),
# a CNAME to TRACKING_HOST. Opens and clicks this soon after the send are a machine's.
TRACKING_HOST = env_str("TRACKING_HOST", urlsplit(SITE_URL).hostname or "localhost")
TRACKING_MACHINE_SECONDS = env_int("TRACKING_MACHINE_SECONDS", 10)
# DNS servers for the custom domain's CNAME check ("" = the system's resolver).
TRACKING_DNS_NAMESERVERS = env_list("TRACKING_DNS_NAMESERVERS")
TRACKING_DNS_PORT = env_int("TRACKING_DNS_PORT", 53)
TRACKING_DNS_TIMEOUT = env_int("TRACKING_DNS_TIMEOUT", 5)

# Webhooks: HTTPS receivers on public addresses, ports 80/443, unless these say otherwise.
# Loopback and private addresses (self-hosting beside one's own receiver; tests). Off: a
# webhook URL must not become a probe of FluenzR's own network (cloud metadata included).
WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", False)
WEBHOOKS_TIMEOUT_SECONDS = 30  # a receiver answers within this, or the attempt failed
WEBHOOKS_ALLOW_HTTP = env_bool("WEBHOOKS_ALLOW_HTTP", False)  # always allowed when DEBUG
WEBHOOKS_ALLOW_ANY_PORT = env_bool("WEBHOOKS_ALLOW_ANY_PORT", False)
# DNS servers resolving webhook hosts ("" = the system's resolver).
WEBHOOKS_DNS_NAMESERVERS = env_list("WEBHOOKS_DNS_NAMESERVERS")
WEBHOOKS_DNS_PORT = env_int("WEBHOOKS_DNS_PORT", 53)
WEBHOOKS_DNS_TIMEOUT = env_int("WEBHOOKS_DNS_TIMEOUT", 5)

# Gmail by OAuth. Without a client id and secret the "+ Gmail" button explains what is missing.
# The endpoints default to Google's; tests point them at a local server speaking its wire format.
GOOGLE_OAUTH_CLIENT_ID = env_str("GOOGLE_OAUTH_CLIENT_ID")
GOOGLE_OAUTH_CLIENT_SECRET = env_str("GOOGLE_OAUTH_CLIENT_SECRET")
GOOGLE_AUTH_URI = env_str("GOOGLE_AUTH_URI", "https://accounts.google.com/o/oauth2/v2/auth")
GOOGLE_TOKEN_URI = env_str("GOOGLE_TOKEN_URI", "https://oauth2.googleapis.com/token")
GOOGLE_REVOKE_URI = env_str("GOOGLE_REVOKE_URI", "https://oauth2.googleapis.com/revoke")
GOOGLE_USERINFO_URI = env_str(
    "GOOGLE_USERINFO_URI", "https://openidconnect.googleapis.com/v1/userinfo"
)
GOOGLE_GMAIL_API_ENDPOINT = env_str("GOOGLE_GMAIL_API_ENDPOINT", "https://gmail.googleapis.com/")

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["fluenzr.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["fluenzr.api.permissions.HasWorkspaceApiAccess"],
    "DEFAULT_THROTTLE_CLASSES": [
        "fluenzr.api.ratelimit.ApiKeyRateThrottle",
        "fluenzr.api.ratelimit.WorkspaceRateThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "fluenzr.api.pagination.CursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "fluenzr.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
API_RATE_LIMIT_PER_KEY = env_int("API_RATE_LIMIT_PER_KEY", 600)
API_RATE_LIMIT_PER_WORKSPACE = env_int("API_RATE_LIMIT_PER_WORKSPACE", 1200)
API_RATE_LIMIT_WINDOW_SECONDS = env_int("API_RATE_LIMIT_WINDOW_SECONDS", 60)
API_AUTH_FAILURES_PER_ADDRESS = env_int("API_AUTH_FAILURES_PER_ADDRESS", 60)
from webhooks.catalogue import render_markdown as webhook_docs  # noqa: E402 (pure data)

SPECTACULAR_SETTINGS = {
    "TITLE": "FluenzR API",
    "DESCRIPTION": (
        "Cold-email outreach API. Authenticate with `Authorization: Bearer flz_sk_…`.\n\n"
        + webhook_docs()
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Security. Production (DEBUG off) is HTTPS-only; `manage.py check --deploy` passes.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
