"""The browser tests' page: Debian's chromium driven by Playwright, in Chinese, at ``viewport``."""

from pathlib import Path

import pytest

from tests.browser.helpers import ARTEFACTS, CHROMIUM, FLAGS


@pytest.fixture
def viewport() -> dict:
    """The window size; a test module overrides it for the screen sizes it checks."""
    return {"width": 1280, "height": 900}


@pytest.fixture
def page(monkeypatch, viewport):
    # Playwright's sync API runs an event loop in this thread; the ORM calls around it stay synchronous.
    # (Only for these tests: a process started later must not inherit it, `check --deploy` refuses it.)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)"
        )
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(locale="zh-CN", viewport=viewport)
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        browser.close()
