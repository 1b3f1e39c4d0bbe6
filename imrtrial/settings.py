"""Settings for the IMR trial EDC. Everything that differs between machines comes from the
environment (see API.md, "Settings"); a `.env` file in the project root fills in what the
environment leaves unset, so `make run` and `pytest` work without exporting anything."""

from datetime import timedelta
from pathlib import Path
from typing import Literal

from django.core.exceptions import ImproperlyConfigured

from trial.dbconfig import database_roles, databases
from trial.env import env, env_bool, env_list, load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is not set (make run writes one into .env).")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys for CPR numbers, newest first. Older keys only decrypt (rotation).
CPR_KEYS = env_list("CPR_KEYS", default=[])
if not CPR_KEYS:
    raise ImproperlyConfigured("CPR_KEYS is not set (make run writes one into .env).")

RANDOMIZATION_REQUIRES_BASELINE = env_bool("RANDOMIZATION_REQUIRES_BASELINE", default=True)

INSTALLED_APPS = [
    # django.contrib.admin with the trial's admin site (administrators only, second factor).
    "accounts.admin_apps.TrialAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "pgtrigger",
    "pghistory",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    # The apps, from the ground up (DESIGN.md, "Layout: one way down"). `instruments` (above
    # trial) and `datasets` (below exports) are layers too, but plain packages: no models.
    "trial",
    "accounts",
    "participants",
    "randomization",
    "assessments",
    "casebooks",
    "fidelity",
    "exports",
    "reports",
    "demo",
]

MIDDLEWARE = [
    # Outermost: a database outage anywhere below answers 503, never a 500 (trial.middleware).
    "trial.middleware.DatabaseOutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The account's language, else the login page's switch, else DEFAULT_LANGUAGE; the API by
    # Accept-Language (accounts.language). After authentication: it reads the account.
    "accounts.language.LanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
    "accounts.middleware.PasswordChangeDemandMiddleware",
    "trial.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "trial.middleware.TrialErrorMiddleware",
    "trial.middleware.RefuseNulInQueryMiddleware",
    # axes must be last: it turns lockouts raised by authenticate() into responses.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "imrtrial.urls"
WSGI_APPLICATION = "imrtrial.wsgi.application"

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
                "trial.context_processors.trial",
            ],
        },
    },
]

# Two roles (trial/dbconfig.py): DATABASE_URL is the runtime role, DATABASE_OWNER_URL the owner
# that runs migrations; without the latter, DATABASE_URL is a fresh machine's superuser URL.
DATABASE_ROLES = database_roles(
    url=env("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/imrtrial"),
    owner_url=env("DATABASE_OWNER_URL"),
    app_user=env("DATABASE_APP_USER"),
    app_password=env("DATABASE_APP_PASSWORD"),
    secret_key=SECRET_KEY,
    conn_max_age=60,
    # An unreachable server fails fast (503) instead of holding the request.
    options={"connect_timeout": 5},
)
DATABASES = databases(
    DATABASE_ROLES,
    connect_as=env("DATABASE_ROLE", default="runtime"),
    # Connections per process (gunicorn worker, Celery worker process); 0: no pool.
    pool_size=int(env("DATABASE_POOL_SIZE", default="4")),
)
# The role trial.dbroles grants the runtime privileges to after every migration.
DATABASE_RUNTIME_ROLE = DATABASE_ROLES.runtime["USER"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "imrtrial",
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task not acknowledged within this time is handed to another worker (crash recovery).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TIMEZONE = "UTC"

AUTHENTICATION_BACKENDS = [
    # axes' lockout check (a subclass that tolerates authenticate() without a request).
    "accounts.lockout.TrialAxesBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Staff at one hospital share an IP address: lock out by username, never by IP.
AXES_FAILURE_LIMIT = 5
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_COOLOFF_TIME = timedelta(minutes=30)
# Failures are forgiven only after a complete login (accounts.lockout.failures_reset):
# for the two-factor roles the password alone is not a success.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Attempts during a lockout are refused and recorded but do not restart it: the lockout ends
# 30 minutes after the fifth failure, as the lockout page says.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password", "otp", "cpr"]
AXES_VERBOSE = False
# axes.W006 warns that locking out by username alone lets an attacker rotate addresses. Here
# the opposite risk decides: one hospital NAT address serves every member of staff, so an IP
# lockout would lock out a whole centre. Per-username lockout is the protocol's choice.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

OTP_TOTP_ISSUER = "IMR trial EDC"
# Wrong codes count towards the axes lockout like wrong passwords (five per username); the
# extra per-device delay of django-otp would only make a correct code fail unpredictably
# right after a typo.
OTP_TOTP_THROTTLE_FACTOR = 0

# API tokens (accounts.tokens): stored hashed; they end after a working day at the
# latest and, like sessions, after 30 minutes without use.
API_TOKEN_LIFETIME = timedelta(hours=int(env("API_TOKEN_LIFETIME_HOURS", default="10")))
API_TOKEN_IDLE_TIMEOUT = timedelta(minutes=int(env("API_TOKEN_IDLE_MINUTES", default="30")))

# Idle sessions end after 30 minutes; every request renews the expiry.
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The health check is asked over plain HTTP from inside the container or by the proxy.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.TrialTokenAuthentication",
        "accounts.tokens.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["trial.parsers.TrialJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "trial.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "IMR trial EDC API",
    "DESCRIPTION": "Public interface of the IMR trial electronic data capture system (API.md).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from this app (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Three apps have a "timepoint" with different choices; name each enum after its meaning.
    "ENUM_NAME_OVERRIDES": {
        "AssessmentTimepointEnum": "assessments.models.Timepoint",
        "FidelityTimepointEnum": "fidelity.models.FidelityTimepoint",
        "GuessTimepointEnum": "randomization.models.GuessTimepoint",
    },
}

# The audit trail: every event row carries its own copy of the context (who, which request or
# task, why), and event tables refuse UPDATE and DELETE in PostgreSQL.
import pghistory  # noqa: E402

PGHISTORY_CONTEXT_FIELD = pghistory.ContextJSONField()
PGHISTORY_CONTEXT_ID_FIELD = pghistory.ContextUUIDField()
PGHISTORY_APPEND_ONLY = True
PGHISTORY_DEFAULT_TRACKERS = (
    pghistory.InsertEvent(),
    pghistory.UpdateEvent(),
    pghistory.DeleteEvent(),
)
PGHISTORY_ADMIN_MODEL = None

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = int(env("EMAIL_PORT", default="25"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="imr-trial-edc@localhost")

# The interface speaks Danish and English. DEFAULT_LANGUAGE is the language of a deployment's
# login page and of every account that has not chosen one (Danish for the Danish centres).
LANGUAGES = [("da", "Dansk"), ("en", "English")]
LANGUAGE_CODE = env("DEFAULT_LANGUAGE", default="da")
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"DEFAULT_LANGUAGE must be one of {', '.join(dict(LANGUAGES))}.")
LOCALE_PATHS = [BASE_DIR / "locale"]
# Danish dates as dd-mm-åååå, in text and typed into date fields (imrtrial/formats/da).
FORMAT_MODULE_PATH = ["imrtrial.formats"]
# Typed as set_cookie(samesite=...) takes it (accounts.views passes it on).
LANGUAGE_COOKIE_SAMESITE: Literal["Lax", "Strict", "None", False] | None = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
TIME_ZONE = "Europe/Copenhagen"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise serves the few static files straight from the app folders: no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Where `manage.py backup` writes dumps and manifests (README.md, "Backups").
BACKUP_ROOT = Path(env("BACKUP_ROOT", default=str(BASE_DIR / "var" / "backups")))

# Where export archives are built and published (never inside the repository in production).
EXPORT_ROOT = Path(env("EXPORT_ROOT", default=str(BASE_DIR / "var" / "exports")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # WeasyPrint (printed CRFs) logs every rendering step at INFO.
    "loggers": {"weasyprint": {"level": "WARNING"}},
}

# --- Assessments (issue 4) -------------------------------------------------------------------
# Visit windows in whole months after the randomisation date (the protocol's choice; SPEC §0.1
# leaves them to the protocol). An interview dated outside its window opens a query. The end of
# each window is also a stored column of the worklist's index (WorklistVisit.closes): a change
# here needs the migration `makemigrations` then writes.
ASSESSMENT_WINDOWS = {
    "post": {"due": 9, "opens": 8, "closes": 11},
    "followup": {"due": 21, "opens": 19, "closes": 24},
}
# Register data: length of the look-back window W_PRE before randomisation (SPEC §11).
SERVICE_USE_PRE_MONTHS = 12
# Largest service-use file accepted (held in memory only: it contains CPR numbers).
REGISTER_IMPORT_MAX_BYTES = 5 * 1024 * 1024

# --- Exports (freeze/lock, export jobs): the watchdog that starts again any export whose
# worker died (exports.tasks.requeue_stale_exports), run by Celery beat.
CELERY_BEAT_SCHEDULE = {
    "exports-requeue-stale": {
        "task": "exports.requeue_stale_exports",
        "schedule": 60.0,
    },
    # /healthz reports the worker down when no worker has run this for a minute.
    "trial-heartbeat": {"task": "trial.heartbeat", "schedule": 20.0},
    # Hands the outbox's due tasks (e-mails, export builds) to the broker (trial.outbox): what
    # a request could not send while Redis was down goes out once it is back.
    "trial-drain-outbox": {"task": "trial.drain_outbox", "schedule": 10.0},
}
