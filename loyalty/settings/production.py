"""Production: every secret and service URL must come from the environment."""

from .base import *  # noqa: F403

DEBUG = False
WECHAT_DEV_LOGIN = False

# Real money only: the fake WeChat Pay lets anyone "pay" without paying.
WECHATPAY_PROVIDER = env("WECHATPAY_PROVIDER", default="wechat")
if WECHATPAY_PROVIDER != "wechat":
    raise ImproperlyConfigured("production needs WECHATPAY_PROVIDER=wechat (the fake provider pays for free)")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING["root"]["level"] = env("LOG_LEVEL", default="INFO")
