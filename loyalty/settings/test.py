"""Test settings: real PostgreSQL and Redis (embedded unless URLs are given)."""

import os
from pathlib import Path

from loyalty.embedded import DEFAULT_DATA_DIR, ensure_services

# Tests get embedded servers of their own, apart from the demo's, so stopping
# the demo never pulls the database from under a running test suite.  The run's
# controller releases them at its end (tests/conftest.py: pytest_unconfigure).
# LOYALTY_TEST_DATA_DIR: another place, for the test of that (tests/loyalty/test_embedded.py).
TEST_DATA_DIR = Path(os.environ.get("LOYALTY_TEST_DATA_DIR") or DEFAULT_DATA_DIR / "test")
ensure_services(TEST_DATA_DIR)

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")

from .base import *  # noqa: E402

DEBUG = False
# The suite's replica is the primary's own test database (Django's test mirror), so ordinary tests need
# no replication and replica-fed pages read what the test wrote; tests/loyalty/test_replica.py starts a
# real primary and replica of its own and points both aliases there.
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
CACHES["default"]["KEY_PREFIX"] = f"loyalty-test-{os.getpid()}"
WECHAT_APP_ID = "wx-test-app"
WECHAT_APP_SECRET = "test-app-secret"
WECHAT_DEV_LOGIN = False
WECHATPAY_PROVIDER = "fake"
WECHATPAY_FAKE_KEYS_FILE = str(TEST_DATA_DIR / "fake-wechatpay.json")
# Tasks run in-process unless a test starts a real worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {
    "login": "1000/min",
    "check_in": "1000/min",
    "coupon_claim": "1000/min",
    "member_code": "1000/min",
    "member_code_resolve": "1000/min",
    "me_export": "1000/min",
    "poster": "1000/min",
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
