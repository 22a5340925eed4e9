"""The analytics dashboard in a real browser (Debian's chromium, 1366×768): every column of its tables
within its card, the cohorts' 90天 included.  Screenshots go to ``test-artefacts/browser/``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.reports import reports_refresh
from analytics.selectors import local_today
from tests.analytics.helpers import growth_report_data
from tests.browser.helpers import log_in, shot
from tests.factories import MemberFactory, OrderFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("many-connections"),
]

# Each table's last header cell against the box its scroller shows, unscrolled.
LAST_HEADER_SHOWN = """w => {
  const head = w.querySelector('thead th:last-child').getBoundingClientRect(), box = w.getBoundingClientRect();
  return {head: w.querySelector('thead th:last-child').textContent.trim(), fits: head.right <= box.right + 1,
          scrolls: getComputedStyle(w).overflowX === 'auto'};
}"""


@pytest.fixture
def viewport() -> dict:
    return {"width": 1366, "height": 768}


def months_of_buyers() -> None:
    """Buyers over four months paying ¥12,345.00 each time, some coming back: rows of long figures."""
    now = timezone.now()
    for i in range(6):
        member = MemberFactory()
        for k in range(i % 3 + 1):
            OrderFactory(member=member, at=now - timedelta(days=5 + 35 * k + i), cash_fen=1_234_500)
    today = local_today()
    reports_refresh(start=today - timedelta(days=150), end=today)


def test_every_table_of_the_dashboard_fits_its_card_at_1366_pixels_the_cohorts_90_days_included(
    page, live_server
):
    months_of_buyers()
    log_in(page, live_server.url)
    today = local_today()
    page.goto(
        f"{live_server.url}/admin/analytics/dailymetrics/?start={today - timedelta(days=150)}&end={today}"
    )
    shot(page, "dashboard-1366")
    tables = [wrap.evaluate(LAST_HEADER_SHOWN) for wrap in page.locator(".lo-table-wrap").all()]
    assert "90天" in [t["head"] for t in tables]
    assert all(t["fits"] for t in tables), [t for t in tables if not t["fits"]]
    assert all(t["scrolls"] for t in tables)  # on a narrower window a table scrolls inside its card


def test_the_growth_report_draws_its_tables_within_their_cards_and_its_chart(page, live_server):
    growth_report_data()
    log_in(page, live_server.url)
    page.goto(f"{live_server.url}/admin/analytics/dailymetrics/growth/?period=last_30_days")
    page.wait_for_selector("#c-growth")
    shot(page, "growth-report-1366")
    tables = [wrap.evaluate(LAST_HEADER_SHOWN) for wrap in page.locator(".lo-table-wrap").all()]
    assert [t["head"] for t in tables] == ["新会员", "带来新会员"]
    assert all(t["fits"] for t in tables), tables
    assert page.locator("#c-growth").evaluate("c => c.height") > 0
