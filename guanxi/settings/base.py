"""Guanxi settings. Every value comes from the environment through `guanxi.core.env`.

The defaults give the embedded set-up: SQLite in a data folder, an in-process worker,
`DEBUG` off. `DATABASE_URL=postgres://...` switches to PostgreSQL with no other change.
"""

from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from guanxi.core.env import env_bool, env_int, env_list, env_path, env_str, load_or_create_secret

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = env_path("GUANXI_DATA_DIR", BASE_DIR / "var")

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY") or load_or_create_secret(DATA_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_tasks_db",
    "guanxi.core",
    "guanxi.staff",
    "guanxi.customers",
    "guanxi.commerce",
    "guanxi.sales",
    "guanxi.leads",
    "guanxi.activities",
    "guanxi.tracking",
    "guanxi.analytics",
    "guanxi.profitability",
    "guanxi.dataio",
    "guanxi.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "guanxi.staff.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "guanxi.urls"
WSGI_APPLICATION = "guanxi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'guanxi.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the in-process worker write beside the web server.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "staff.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "guanxi" / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# Phones without a country code are read as numbers of this region (ISO 3166 code).
GUANXI_DEFAULT_PHONE_REGION = env_str("GUANXI_DEFAULT_PHONE_REGION", "CN")
# The order buyer indexes carry extra columns on PostgreSQL (covering indexes, for analytics'
# index-only reads); SQLite indexes their key columns only, which is all it needs to be right.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# PostgreSQL's work_mem for the statements that refresh the analytics purchase store: the
# server default (4MB) makes their hash aggregates spill to disk.
GUANXI_ANALYTICS_WORK_MEM = env_str("GUANXI_ANALYTICS_WORK_MEM", "256MB")

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it even when serving from finders
# The embedded default serves assets straight from the apps; no collectstatic step needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

TASKS = {"default": {"BACKEND": env_str("TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "guanxi.core.api.KeysetCursorPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "guanxi.core.api.problem_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Guanxi API",
    "DESCRIPTION": "Customer records of Guanxi: accounts, people, roles, relationships, tags, custom attributes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `kind` (and a few choice sets appear under two field names): name each
    # enum once so the schema has stable component names and generates without warnings.
    "ENUM_NAME_OVERRIDES": {
        "AccountKindEnum": "guanxi.customers.models.AccountKind",
        "OrderStatusEnum": "guanxi.commerce.models.OrderStatus",
        "OrderChannelEnum": "guanxi.commerce.models.OrderChannel",
        "StageKindEnum": "guanxi.sales.models.StageKind",
        "QuoteStatusEnum": "guanxi.sales.models.QuoteStatus",
        "ContactRoleEnum": "guanxi.sales.models.ContactRole",
        "OpportunityLostReasonEnum": "guanxi.sales.models.LostReason",
        "CustomerLostReasonEnum": "guanxi.customers.models.LostReason",
        "ActivityKindEnum": "guanxi.activities.models.ActivityKind",
        "TaskStatusEnum": "guanxi.activities.models.TaskStatus",
        "InitiatorEnum": "guanxi.activities.models.Initiator",
        "AddressKindEnum": "guanxi.customers.models.Address.Kind",
        "EmailKindEnum": "guanxi.customers.models.EmailAddress.Kind",
        "PhoneKindEnum": "guanxi.customers.models.PhoneNumber.Kind",
        "RoleKindEnum": "guanxi.customers.models.RoleKind",
        "RelationshipKindEnum": "guanxi.customers.models.RelationshipKind",
        "LifecycleStageEnum": "guanxi.customers.models.LifecycleStage",
        "ChannelEnum": "guanxi.customers.models.Channel",
        "AccountStatusEnum": "guanxi.customers.models.AccountStatus",
        "JobStatusEnum": "guanxi.dataio.models.JobStatus",
        "ImportStageEnum": "guanxi.dataio.models.ImportStage",
        "RecordTypeEnum": "guanxi.dataio.models.Target",
        "FileFormatEnum": "guanxi.dataio.models.FileFormat",
        "PartyTypeEnum": ["account", "person"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
