"""The members back office: closed accounts by number, channels by the names operators gave them."""

import pytest

from coupons import services as coupon_services
from members import codes
from members.closure import member_close
from members.models import Channel, Member
from membership import cards
from points import ledger as points_ledger
from tests.factories import CardTypeFactory, CouponTemplateFactory, MemberFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed(member):
    coupon_services.coupon_claim(member=member, template_id=CouponTemplateFactory().pk, idempotency_key="k")
    points_ledger.points_earn(
        member_id=member.pk, amount=100, idempotency_key="e", source="signup", expires_at=None
    )
    member_close(member_id=member.pk)
    member.refresh_from_db()
    return member


def test_a_closed_account_reads_as_closed_member_and_its_number_everywhere(admin_client, closed):
    name = f"已注销会员 #{closed.pk}"
    assert str(closed) == name and closed.openid.startswith("closed_")

    for url in [
        "/admin/members/member/",
        f"/admin/members/member/{closed.pk}/change/",
        "/admin/members/closedmember/",
        f"/admin/members/closedmember/{closed.pk}/change/",
        "/admin/coupons/coupon/",
        "/admin/points/pointsentry/",
        f"/admin/members/member/{closed.pk}/overview/",
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert name in page_text(response), url
        assert closed.openid not in response.content.decode(), url  # the placeholder, a meaningless code


def test_a_member_with_neither_nickname_nor_phone_reads_as_member_and_number(admin_client):
    member = MemberFactory(nickname="", phone="")

    points_ledger.points_earn(
        member_id=member.pk, amount=10, idempotency_key="e", source="signup", expires_at=None
    )

    assert str(member) == f"会员 #{member.pk}"
    text = page_text(admin_client.get("/admin/points/pointsentry/"))
    assert f"会员 #{member.pk}" in text and member.openid not in text


def test_the_member_list_filter_and_page_show_the_channel_by_its_name(admin_client):
    Channel.objects.create(code="qr:store-01", name="门店码·一号店", kind=Channel.Kind.STORE_QR)
    named = MemberFactory(registration_channel="qr:store-01")
    unnamed = MemberFactory(registration_channel="wechat_ad")

    listing = page_text(admin_client.get("/admin/members/member/"))
    detail = page_text(admin_client.get(f"/admin/members/member/{named.pk}/change/"))
    filtered = page_text(admin_client.get("/admin/members/member/", {"registration_channel": "qr:store-01"}))

    assert listing.count("门店码·一号店") == 2  # the column and the filter
    assert "qr:store-01" not in listing
    assert "wechat_ad（未命名渠道）" in listing  # a code no one has named yet: itself, marked for naming
    assert "门店码·一号店" in detail and "qr:store-01" not in detail
    assert named.nickname in filtered and unnamed.nickname not in filtered


def test_the_card_list_and_the_member_overview_show_the_claim_channel_by_its_name(admin_client, member):
    Channel.objects.create(code="poster:spring", name="春季海报", kind=Channel.Kind.POSTER)
    card = cards.card_claim(member_id=member.pk, card_type_id=CardTypeFactory().pk, channel="poster:spring")

    for url in [
        "/admin/membership/membershipcard/",
        f"/admin/membership/membershipcard/{card.pk}/change/",
        "/admin/membership/cardevent/",
        f"/admin/members/member/{member.pk}/overview/",
    ]:
        text = page_text(admin_client.get(url))
        assert "春季海报" in text and "poster:spring" not in text, url
        assert "claim" not in text, url  # the card's source and event read 领取


def test_operators_name_channels_in_their_registry(admin_client):
    MemberFactory.create_batch(2, registration_channel="qr:store-02")

    response = admin_client.post(
        "/admin/members/channel/add/",
        {"code": "qr:store-02", "name": "门店码·二号店", "kind": "store_qr", "note": "", "is_active": "on"},
    )

    assert response.status_code == 302
    assert Member.objects.filter(registration_channel="qr:store-02").count() == 2  # codes stay as they were
    listing = page_text(admin_client.get("/admin/members/channel/"))
    assert "门店码·二号店" in listing and "门店码" in listing and "\n2\n" in listing  # name, kind, members


def test_the_member_codes_page_never_shows_a_whole_code(admin_client):
    """A live 会员码 pays at a till: the back office shows it masked, in the list and on its page."""
    code = codes.member_code_issue(member=MemberFactory(nickname="码主"))

    listing = admin_client.get("/admin/members/membercode/")
    detail = admin_client.get(f"/admin/members/membercode/{code.pk}/change/")

    for page in (listing, detail):
        assert page.status_code == 200
        assert code.code not in page.content.decode() and f"{code.code[:4]}…{code.code[-2:]}" in page_text(
            page
        )
