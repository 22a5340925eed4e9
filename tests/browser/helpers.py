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


#: The screen sizes operators use: a small laptop and a desktop.
SIZES = [(1366, 768), (1920, 1080)]


def shot(page, name):
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def inside(page, locator) -> None:
    """The element is drawn inside the window: never behind a horizontal scroll.

    The page may scroll down to it (a long form's button is below the fold), never sideways: it is
    brought into view by scrolling the window vertically only, so a column that needs a sideways
    scroll of its table fails here.
    """
    handle = locator.element_handle()
    assert handle is not None, "not drawn"
    page.evaluate(
        "el => window.scrollTo(0, Math.max(0, el.getBoundingClientRect().top + window.scrollY - 120))", handle
    )
    box = locator.bounding_box()
    view = page.viewport_size
    assert box is not None, "not drawn"
    assert box["x"] >= 0 and box["x"] + box["width"] <= view["width"], (box, view)
    assert box["y"] >= 0 and box["y"] + box["height"] <= view["height"], (box, view)


def on_screen(page, name, *locators) -> None:
    """At each operator screen size, the actions ``locators`` are inside the window; a screenshot of what the
    operator sees (the window, not the whole page) is saved as ``<name>-<width>x<height>.png``."""
    original = page.viewport_size
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTEFACTS / f"{name}-{width}x{height}.png"))
        for locator in locators:
            inside(page, locator)
    page.set_viewport_size(original)
    page.evaluate("window.scrollTo(0, 0)")


def log_in(page, base):
    User.objects.create_superuser("ops", "ops@example.com", "a-long-test-password")
    page.goto(f"{base}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-test-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#site-name")
    shot(page, "01-logged-in")
