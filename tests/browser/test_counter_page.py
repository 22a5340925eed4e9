"""The clerk page on a phone (390×844) in a real browser: a clerk signs in, redeems a coupon and hands
over a pick-up, the codes typed; then a coupon scanned from a fake camera showing its QR code
(chromium's fake capture device playing a Y4M file made here).  Screenshots go to
``test-artefacts/browser/counter-*.png``."""

from __future__ import annotations

import pytest
import qrcode

from coupons.models import CouponEvent
from mall.models import RedemptionEvent
from tests.browser.helpers import ARTEFACTS, CHROMIUM, FLAGS, inside
from tests.counter.helpers import staff, store
from tests.factories import (
    CouponFactory,
    CouponTemplateFactory,
    EarnedPointsFactory,
    MallItemFactory,
    MemberFactory,
)
from tests.mall.helpers import redeem

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("many-connections"),
]

PHONE = {"width": 390, "height": 844}


def qr_y4m(text: str, path, *, width=640, height=480, frames=10) -> None:
    """A still video of ``text``'s QR code, black on white, as chromium's fake camera plays it (Y4M, 4:2:0)."""
    matrix = qrcode.QRCode(border=4, box_size=1)
    matrix.add_data(text)
    matrix.make(fit=True)
    modules = matrix.get_matrix()
    scale = min(width, height) * 3 // 4 // len(modules)
    size = scale * len(modules)
    left, top = (width - size) // 2, (height - size) // 2
    luma = bytearray(b"\xeb" * (width * height))
    for y, row in enumerate(modules):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + y * scale + dy) * width + left + x * scale
                    luma[start : start + scale] = b"\x10" * scale
    chroma = b"\x80" * (width * height // 4)
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + bytes(luma) + chroma + chroma)


@pytest.fixture
def camera_code(db):
    """A coupon of its own, whose QR code the fake camera shows."""
    coupon = CouponFactory(member=MemberFactory(), template=CouponTemplateFactory(name="扫码立减券"))
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / "counter-camera-qr.y4m"
    qr_y4m(coupon.code, path)
    return coupon, path


@pytest.fixture
def phone(monkeypatch, camera_code):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    _coupon, video = camera_code
    camera = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS + camera)
        context = browser.new_context(locale="zh-CN", viewport=PHONE, has_touch=True, is_mobile=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page, context
        browser.close()


def snap(page, name):
    page.screenshot(path=str(ARTEFACTS / f"counter-{name}.png"), full_page=True)


def look_up(page, code):
    page.fill("#code", code)
    page.click("#lookup")
    page.wait_for_selector("#result")


def test_a_clerk_redeems_a_coupon_and_a_pick_up_on_a_phone(phone, live_server, camera_code):
    page, context = phone
    shop = store("SH-001")
    clerk = staff(shop, code="S012")
    member = MemberFactory(nickname="王芳")
    coupon = CouponFactory(member=member)
    EarnedPointsFactory(member=member, amount=1_000)
    pickup = redeem(member, MallItemFactory(name="帆布袋", kind="pickup", points=300, stock=5))
    base = live_server.url.replace("127.0.0.1", "localhost")  # a secure context: the camera is allowed

    page.goto(f"{base}/counter/")
    page.wait_for_selector("#id_username")
    snap(page, "01-login")
    page.fill("#id_username", clerk.user.username)
    page.fill("#id_password", "pw-S012")
    page.click("button[type=submit]")
    page.wait_for_selector("#code")
    snap(page, "02-scan")
    inside(page, page.locator("#lookup"))
    inside(page, page.locator("#camera"))

    look_up(page, coupon.code.lower())
    assert "可核销" in page.inner_text("#result")
    inside(page, page.locator("#redeem"))
    snap(page, "03-coupon")
    page.click("#redeem")
    page.wait_for_selector(".msg.success")
    assert "满100减20" in page.inner_text(".msg.success")
    snap(page, "04-coupon-redeemed")

    look_up(page, pickup.pickup_code)
    assert "待提货" in page.inner_text("#result")
    snap(page, "05-pickup")
    page.click("#redeem")
    page.wait_for_selector(".msg.success")
    assert "帆布袋" in page.inner_text(".msg.success")
    assert "自提 帆布袋" in page.inner_text("#activity")
    snap(page, "06-pickup-handed-over")

    used = CouponEvent.objects.get(coupon=coupon, kind="used")
    assert (used.store_id, used.staff_id) == (shop.pk, clerk.pk)
    handed = RedemptionEvent.objects.get(redemption=pickup, kind="picked_up")
    assert (handed.store_id, handed.staff_id) == (shop.pk, clerk.pk)
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= PHONE["width"]  # nothing wider than the phone

    # The camera: the fake device shows the other coupon's QR code; the page reads it and looks it up.
    scanned, _video = camera_code
    context.grant_permissions(["camera"], origin=base)
    page.click("#camera")
    page.wait_for_selector("#result", timeout=30_000)
    assert "扫码立减券" in page.inner_text("#result")
    snap(page, "07-scanned")
    page.click("#redeem")
    page.wait_for_selector(".msg.success")
    assert CouponEvent.objects.filter(coupon=scanned, kind="used", store=shop).exists()
