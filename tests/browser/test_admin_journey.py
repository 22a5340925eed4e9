"""The back office in a real browser: Debian's chromium driven by Playwright against a live server.

Log in, create a recharge plan, run a bulk coupon issue and watch its progress
bar reach 100 %.  Screenshots of each step go to ``test-artefacts/browser/``
(gitignored).  No browser is downloaded: Playwright drives /usr/bin/chromium,
which ``make test`` installs from Debian when it is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from coupons.models import BulkIssue, Coupon
from stored_value.models import RechargePlan
from tests.coupons.helpers import template
from tests.factories import MemberFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("many-connections"),
]

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


@pytest.fixture
def page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls around it stay synchronous.
    # (Only for this test: a process started later must not inherit it, `check --deploy` refuses it.)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)"
        )
    from playwright.sync_api import sync_playwright

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        browser.close()


def shot(page, name):
    page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def log_in(page, base):
    User.objects.create_superuser("ops", "ops@example.com", "a-long-test-password")
    page.goto(f"{base}/admin/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    shot(page, "01-logged-in")


def test_an_operator_logs_in_creates_a_recharge_plan_and_watches_a_bulk_issue_finish(page, live_server):
    base = live_server.url
    members = [MemberFactory() for _ in range(25)]
    coupon_template = template(name="会员日满100减20", total_stock=1000)
    log_in(page, base)
    assert "/admin/login/" not in page.url

    page.goto(f"{base}/admin/stored_value/rechargeplan/add/")
    page.fill("#id_name", "充1500送150")
    page.fill("#id_tiers-0-pay_fen", "150000")
    page.fill("#id_tiers-0-bonus_fen", "15000")
    shot(page, "02-recharge-plan-form")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist .success")
    shot(page, "03-recharge-plan-saved")
    plan = RechargePlan.objects.get(name="充1500送150")
    assert list(plan.tiers.values_list("pay_fen", "bonus_fen")) == [(150_000, 15_000)]

    page.goto(f"{base}/admin/coupons/coupontemplate/{coupon_template.pk}/bulk-issue/")
    page.check("#id_everyone")
    shot(page, "04-bulk-issue-form")
    page.click("input[type=submit]")
    page.wait_for_selector("#bulk-bar")
    page.wait_for_function(
        "() => { const bar = document.getElementById('bulk-bar');"
        " return bar && Number(bar.value) >= Number(bar.max) && Number(bar.max) > 0; }",
        timeout=60_000,
    )
    shot(page, "05-bulk-issue-done")

    bulk = BulkIssue.objects.get()
    assert (bulk.total, bulk.processed, bulk.issued) == (len(members), len(members), len(members))
    assert page.inner_text("#bulk-processed") == str(len(members))
    assert Coupon.objects.filter(template=coupon_template).count() == len(members)
    assert (ARTEFACTS / "05-bulk-issue-done.png").stat().st_size > 0
