"""The browser tests' plumbing: Debian's chromium, where screenshots go, logging an operator in.

No browser is downloaded: Playwright drives /usr/bin/chromium, which ``make test`` installs from Debian
when it is missing.  Screenshots go to ``test-artefacts/browser/`` (gitignored).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = Path(settings.BASE_DIR) / "test-artefacts" / "browser"


def shot(page, name):
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def log_in(page, base):
    User.objects.create_superuser("ops", "ops@example.com", "a-long-test-password")
    page.goto(f"{base}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-test-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#site-name")
    shot(page, "01-logged-in")
