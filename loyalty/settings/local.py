"""Developer machine and the one-command demo."""

from loyalty.embedded import ensure_services

ensure_services()  # exports DATABASE_URL / REDIS_URL when unset

import os  # noqa: I001

os.environ.setdefault("SECRET_KEY", "django-insecure-local-development-only")
os.environ.setdefault("DEBUG", "true")

from .base import *  # noqa: E402

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
WECHAT_DEV_LOGIN = env.bool("WECHAT_DEV_LOGIN", default=True)
# Serve static files straight from the app folders: no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
