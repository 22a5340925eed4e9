"""Actions beside their objects, in a real browser at the screen sizes operators use (1366x768 and
1920x1080): the 操作 links of the redemption list and the buttons of a redemption's page are inside the
viewport, never scrolled off to the right.  Screenshots go to ``test-artefacts/browser/``."""

from __future__ import annotations

import pytest

from tests.browser.helpers import log_in, on_screen
from tests.factories import EarnedPointsFactory, MallItemFactory, MemberFactory
from tests.mall.helpers import address, redeem

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("many-connections"),
]


def test_the_action_buttons_of_the_redemption_list_and_page_are_on_screen(page, live_server):
    member = MemberFactory(nickname="一位昵称很长很长的会员")
    EarnedPointsFactory(member=member, amount=100_000)
    home = address(
        member, recipient="欧阳长名字收件人", detail="某某省某某市某某区某某街道某某小区 12 栋 3 单元 1201 室"
    )
    item = MallItemFactory(name="一件名字相当长的实物商品（积分加现金，限量款）", stock=50)
    r = redeem(member, item, address_id=home.pk)
    log_in(page, live_server.url)

    page.goto(f"{live_server.url}/admin/mall/redemption/")
    on_screen(
        page,
        "redemptions",
        page.locator(f'#result_list a[href="/admin/mall/redemption/{r.pk}/ship/"]'),
        page.locator(f'#result_list a[href="/admin/mall/redemption/{r.pk}/cancel/"]'),
    )
    page.goto(f"{live_server.url}/admin/mall/redemption/{r.pk}/change/")
    on_screen(
        page,
        "redemption",
        page.locator(f'a[href="/admin/mall/redemption/{r.pk}/ship/"]').first,
        page.locator(f'a[href="/admin/mall/redemption/{r.pk}/cancel/"]').first,
    )
