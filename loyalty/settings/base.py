"""Settings shared by every environment; values come from the environment.

django-environ reads the process environment and an optional ``.env`` file at
the project root.  ``local`` and ``test`` start embedded servers for unset
service URLs before importing this module; ``production`` requires them.
"""

from datetime import timedelta
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _
from kombu import Queue

from loyalty.queues import BULK as QUEUE_BULK
from loyalty.queues import DEFAULT as QUEUE_DEFAULT
from loyalty.queues import VALUE as QUEUE_VALUE
from loyalty.queues import task_routes

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin theme: before django.contrib.admin, whose templates and site it replaces.
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "loyalty.apps.LoyaltyConfig",
    "stores",
    "members",
    "membership",
    "points",
    "stored_value",
    "coupons",
    "mall",
    "notifications",
    "payments",
    "orders",
    "counter",
    "growth",
    "analytics",
    "migration",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before everything that reads: a replica-readable view's scope covers its rendering and streaming.
    "loyalty.db_router.ReplicaReadsMiddleware",
    "loyalty.config.ConfigVersionMiddleware",
    "loyalty.api.middleware.UnstorablePathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "loyalty.urls"
WSGI_APPLICATION = "loyalty.wsgi.application"

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
            ],
        },
    },
]


# --- Database ---------------------------------------------------------------
def _required(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set the {name} environment variable (see README: Configuration).")
    return value


DATABASES = {"default": env.db_url_config(_required("DATABASE_URL"))}
# An embedded server is reached through a Unix socket whose directory travels
# percent-encoded in the URL's host part; libpq wants the plain path.
DATABASES["default"]["HOST"] = unquote(DATABASES["default"]["HOST"])
# Services own their transactions (docs/architecture.md): no ATOMIC_REQUESTS.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# DB_POOLER=transaction: DATABASE_URL reaches PostgreSQL through a pooler in transaction mode (PgBouncer,
# docs/pgbouncer.md): a client's statements may run on a different server session each transaction, so
# nothing may rely on one.  The hot statements then run as plain statements, not PREPAREd per connection
# (loyalty.prepared), and QuerySet.iterator() fetches on the client: Django's server-side cursors are
# declared WITH HOLD outside a transaction, a session object.  Migrations and bench loading connect direct.
DB_POOLER = env.str("DB_POOLER", default="")
if DB_POOLER not in ("", "transaction"):
    raise ImproperlyConfigured(
        f"DB_POOLER is '' (direct or session pooling) or 'transaction', not {DB_POOLER!r}"
    )
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DB_POOLER == "transaction"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A read replica (optional): a PostgreSQL streaming from the primary, read only by the pages marked
# replica-readable (lists, the dashboard, reports, exports; loyalty/db_router.py, docs/scaling.md).
# Unset: everything reads the primary.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db_url_config(env.str("DATABASE_REPLICA_URL"))
    DATABASES["replica"]["HOST"] = unquote(DATABASES["replica"]["HOST"])
    DATABASES["replica"].update(
        ATOMIC_REQUESTS=False, CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"], CONN_HEALTH_CHECKS=True
    )
DATABASE_ROUTERS = ["loyalty.db_router.ReplicaRouter"]

# --- Redis: cache (throttling, WeChat access token) and Celery broker ------
REDIS_URL = _required("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "loyalty.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="loyalty"),
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# --- Auth and passwords -------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The theme's login form posts no `next` (Django's admin form did): a login at /admin/login/ lands
# on the back office, not on Django's default /accounts/profile/.
LOGIN_REDIRECT_URL = "/admin/"

# --- Language and time ---------------------------------------------------------
LANGUAGE_CODE = env("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
# The project's catalogue first (`make messages` rewrites it from the project's sources), then the
# theme's (django-unfold ships no Chinese), which makemessages never writes to: every source file lies
# under BASE_DIR, the first path's parent, so its strings go to the first.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale" / "theme"]
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media"))
# Member export files (MEDIA_ROOT/exports/, written by the bulk worker, served by the download view only)
# are deleted this many days after they were written; an export whose worker was killed is restarted
# this many times in all before it is marked failed.
EXPORT_RETENTION_DAYS = env.int("EXPORT_RETENTION_DAYS", default=7)
EXPORT_MAX_ATTEMPTS = env.int("EXPORT_MAX_ATTEMPTS", default=3)
# An import's commit runs this many committers at once (bulk-queue tasks claiming chunks of rows); the
# bulk workers' concurrency must allow as many (Procfile.dev, Procfile.cluster: 2; docker-compose.yml: 4).
IMPORT_COMMIT_WORKERS = env.int("IMPORT_COMMIT_WORKERS", default=2)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Request bodies larger than this are refused with 400 `request_too_large`.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# JSON from a client (API bodies, WeChat Pay notifications, the admin's JSON fields) nested deeper
# than this is refused (400 `malformed_request`) before it is parsed: `[]` is 1, `{"a": [1]}` is 2.
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)

# Proxies (addresses or networks, e.g. "10.0.0.5,172.16.0.0/12") whose X-Forwarded-For is believed;
# see loyalty.api.client_address.  None by default: the client is the connection's address.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _network in TRUSTED_PROXIES:
    try:
        ip_network(_network.strip(), strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_network!r} is not an address or a network.") from exc

# --- The back office's theme (django-unfold) -----------------------------------------
UNFOLD = {
    "SITE_TITLE": _("Loyalty back office"),
    "SITE_HEADER": _("Loyalty back office"),
    "SITE_SYMBOL": "loyalty",
    # No "view site" link: the members' side is the mini-program.  The dropdown under the
    # site's name leads to the API documentation for the mini-program's developers.
    "SITE_URL": None,
    "SITE_DROPDOWN": [{"icon": "api", "title": _("API documentation"), "link": "/api/docs/"}],
    "SHOW_VIEW_ON_SITE": False,
    # The home page's 工作台: to-dos and today's figures, each only for those who may open its page.
    "DASHBOARD_CALLBACK": "analytics.workbench.dashboard_callback",
    # Chinese by default (LANGUAGE_CODE), English one click away in the user menu.
    "SHOW_LANGUAGES": True,
    "STYLES": [lambda request: static("loyalty/admin.css")],
    # Blue, as the back offices operators know (Youzan, Weimob); the theme's default is purple.
    "COLORS": {
        "primary": {
            "50": "oklch(97% .014 254.604)",
            "100": "oklch(93.2% .032 255.585)",
            "200": "oklch(88.2% .059 254.128)",
            "300": "oklch(80.9% .105 251.813)",
            "400": "oklch(70.7% .165 254.624)",
            "500": "oklch(62.3% .214 259.815)",
            "600": "oklch(54.6% .245 262.881)",
            "700": "oklch(48.8% .243 264.376)",
            "800": "oklch(42.4% .199 265.638)",
            "900": "oklch(37.9% .146 265.522)",
            "950": "oklch(28.2% .091 267.935)",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "loyalty.admin_navigation.sidebar",
    },
}

# --- REST API ------------------------------------------------------------------
# Abuse limits: an inviter earns invite rewards for at most this many friends a day (the rest are
# recorded as withheld points).
INVITE_REWARDS_PER_DAY = env.int("INVITE_REWARDS_PER_DAY", default=10)
# verify_ledgers (incremental): entries newer than this are left to the next run, which checks them
# (a transaction open when a run starts may still commit an entry with a smaller id).
VERIFY_LEDGERS_LAG = env.int("VERIFY_LEDGERS_LAG", default=300)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["members.authentication.MemberTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["members.authentication.IsMember"],
    "DEFAULT_PARSER_CLASSES": ["loyalty.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "loyalty.api.pagination.HistoryCursorPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "loyalty.api.exception_handler.render_application_error",
    "DEFAULT_THROTTLE_RATES": {
        "login": env("LOGIN_THROTTLE_RATE", default="10/min"),
        # Per member (a bot farming one account), in Redis like every throttle.
        "check_in": env("CHECK_IN_THROTTLE_RATE", default="10/min"),
        "coupon_claim": env("COUPON_CLAIM_THROTTLE_RATE", default="20/min"),
        # Per member: a fresh 会员码 (the app refreshes it about once a minute while it is shown).
        "member_code": env("MEMBER_CODE_THROTTLE_RATE", default="30/min"),
        # Per store: the till's 会员码 resolutions (a busy counter resolves a few a minute; a guesser more).
        "member_code_resolve": env("MEMBER_CODE_RESOLVE_THROTTLE_RATE", default="60/min"),
        # A member's copy of everything held about them (GET /api/v1/me/export): a heavy read, rarely needed.
        "me_export": env("ME_EXPORT_THROTTLE_RATE", default="5/hour"),
        # Per member: a share poster (a new one costs a WeChat mini-program code and a drawing).
        "poster": env("POSTER_THROTTLE_RATE", default="10/min"),
    },
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    # The front page (auth, idempotency, errors) and the tags: loyalty.api.docs.document_the_api.
    "TITLE": "会员营销系统 API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Docstrings are written for the code's readers; the API's readers get loyalty.api.docs.
    "DISABLE_DOCSTRING_DESCRIPTIONS": True,
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "persistAuthorization": True},
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Swagger UI assets are served from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status"; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "RechargeStatusEnum": "stored_value.models.RechargeStatus",
        "CouponStatusEnum": "coupons.models.CouponStatus",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "RedemptionStatusEnum": "mall.models.RedemptionStatus",
        "MallItemKindEnum": "mall.models.ItemKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "loyalty.api.schema_hooks.document_common_errors",
        "loyalty.api.docs.document_the_api",
    ],
}

# --- Member sessions ---------------------------------------------------------
MEMBER_TOKEN_TTL = timedelta(days=env.int("MEMBER_TOKEN_TTL_DAYS", default=30))
# 会员码: how long a code shown in the mini-program stays valid (the app refreshes it before).
MEMBER_CODE_SECONDS = env.int("MEMBER_CODE_SECONDS", default=60)

# --- WeChat mini-program ---------------------------------------------------------
WECHAT_APP_ID = env("WECHAT_APP_ID", default="")
WECHAT_APP_SECRET = env("WECHAT_APP_SECRET", default="")
WECHAT_API_BASE = env("WECHAT_API_BASE", default="https://api.weixin.qq.com")
WECHAT_TIMEOUT_SECONDS = env.float("WECHAT_TIMEOUT_SECONDS", default=5.0)
# The dev login (code -> deterministic openid) works only when DEBUG is on too.
WECHAT_DEV_LOGIN = env.bool("WECHAT_DEV_LOGIN", default=False)
# Which version of the mini-program a subscription message opens: formal | trial | developer.
WECHAT_MINIPROGRAM_STATE = env("WECHAT_MINIPROGRAM_STATE", default="formal")

# --- Share posters (growth.posters) ----------------------------------------------------
# The CJK fonts (Debian's fonts-noto-cjk: `make fonts`, and the Docker image); no font, no poster.
POSTER_FONT_PATH = env("POSTER_FONT_PATH", default="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
POSTER_BOLD_FONT_PATH = env(
    "POSTER_BOLD_FONT_PATH", default="/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
)
# The only hosts a poster fetches pictures from (avatars, item images): the server never fetches an
# address a member typed.  Add the CDN of the mall's images.
POSTER_IMAGE_HOSTS = env.list("POSTER_IMAGE_HOSTS", default=["thirdwx.qlogo.cn", "wx.qlogo.cn"])
POSTER_IMAGE_TIMEOUT_SECONDS = env.float("POSTER_IMAGE_TIMEOUT_SECONDS", default=3.0)
POSTER_SHOP_NAME = env("POSTER_SHOP_NAME", default="会员中心")
# A drawn poster is kept this long (its inputs are in its key, so a change of price draws it anew): a
# member tapping "share" again gets it at once.  Short, since one with a photo is up to ~1 MB of Redis;
# a mini-program code never expires and is a few KB, so its image is kept for long.
POSTER_CACHE_SECONDS = env.int("POSTER_CACHE_SECONDS", default=600)
WXACODE_CACHE_SECONDS = env.int("WXACODE_CACHE_SECONDS", default=30 * 24 * 3600)

# --- WeChat Pay (API v3, JSAPI) ------------------------------------------------------
# "fake" plays WeChat's side in-process (dev, demo, tests; never production):
# its keys are made once and kept in WECHATPAY_FAKE_KEYS_FILE.
WECHATPAY_PROVIDER = env("WECHATPAY_PROVIDER", default="fake")
WECHATPAY_MCHID = env("WECHATPAY_MCHID", default="")
WECHATPAY_APP_ID = env("WECHATPAY_APP_ID", default=WECHAT_APP_ID)
WECHATPAY_APIV3_KEY = env("WECHATPAY_APIV3_KEY", default="")
# The merchant API key and its certificate serial; PEM text, or a file path in *_FILE.
WECHATPAY_PRIVATE_KEY = env("WECHATPAY_PRIVATE_KEY", default="")
WECHATPAY_PRIVATE_KEY_FILE = env("WECHATPAY_PRIVATE_KEY_FILE", default="")
WECHATPAY_CERT_SERIAL_NO = env("WECHATPAY_CERT_SERIAL_NO", default="")
# WeChat Pay's platform public key (微信支付公钥) and its id, which notifications name in
# Wechatpay-Serial; platform certificates (*.pem, named by their serial) may sit beside it.
WECHATPAY_PUBLIC_KEY = env("WECHATPAY_PUBLIC_KEY", default="")
WECHATPAY_PUBLIC_KEY_FILE = env("WECHATPAY_PUBLIC_KEY_FILE", default="")
WECHATPAY_PUBLIC_KEY_ID = env("WECHATPAY_PUBLIC_KEY_ID", default="")
WECHATPAY_PLATFORM_CERT_DIR = env("WECHATPAY_PLATFORM_CERT_DIR", default="")
WECHATPAY_NOTIFY_URL = env("WECHATPAY_NOTIFY_URL", default="")
WECHATPAY_API_BASE = env("WECHATPAY_API_BASE", default="https://api.mch.weixin.qq.com")
WECHATPAY_TIMEOUT_SECONDS = env.float("WECHATPAY_TIMEOUT_SECONDS", default=5.0)
WECHATPAY_NOTIFICATION_WINDOW_SECONDS = env.int("WECHATPAY_NOTIFICATION_WINDOW_SECONDS", default=300)
WECHATPAY_FAKE_KEYS_FILE = env(
    "WECHATPAY_FAKE_KEYS_FILE", default=str(BASE_DIR / ".data" / "fake-wechatpay.json")
)

# --- Server-to-server signatures --------------------------------------------------
SERVER_SIGNATURE_WINDOW_SECONDS = env.int("SERVER_SIGNATURE_WINDOW_SECONDS", default=300)

# --- Idempotency ---------------------------------------------------------------
IDEMPOTENCY_RETENTION = timedelta(hours=env.int("IDEMPOTENCY_RETENTION_HOURS", default=24))

# --- Scheduled jobs: finished runs (loyalty.jobs) are kept this long ------------------
JOB_RUN_RETENTION = timedelta(days=env.int("JOB_RUN_RETENTION_DAYS", default=30))

# --- Celery --------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
# A task is acknowledged after it ran, so a killed worker's task runs again;
# every task is written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 2 * 60 * 60}
CELERY_WORKER_SEND_TASK_EVENTS = True
# Two queues, value and bulk, and the default for housekeeping (loyalty/queues.py). Every queue is
# declared, so a worker started without -Q consumes all three; production runs one set of workers per queue.
CELERY_TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in (QUEUE_VALUE, QUEUE_BULK, QUEUE_DEFAULT))
CELERY_TASK_DEFAULT_QUEUE = QUEUE_DEFAULT
CELERY_TASK_ROUTES = task_routes()
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Logging ---------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # httpx logs every request URL at INFO; WeChat's code2session URL
        # carries the app secret and the login code, so keep it quiet.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
    },
}
