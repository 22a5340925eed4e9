"""The WSGI app gunicorn serves in ``bench.checkout``: the project's, on the bench copy database."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings.local")
os.environ["DEBUG"] = "false"

from django.conf import settings  # noqa: E402

settings.DATABASES["default"]["NAME"] = os.environ["BENCH_DB_NAME"]
# As in production: static files indexed once at start, not re-scanned on every request.
settings.WHITENOISE_AUTOREFRESH = False

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
