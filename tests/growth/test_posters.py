"""Share posters: a PNG drawn here with a mini-program code WeChat draws once per scene, only of what the
member may share, and a friend who registers from its scene credited to the sharer and the activity."""

import io

import pytest
from django.utils import timezone
from PIL import Image

from growth import poster_art
from growth.models import PosterScene
from members.models import Channel, Member
from orders import services as orders
from points.selectors import points_balance
from tests.factories import CardTypeFactory, MallItemFactory, MemberFactory
from tests.growth.helpers import activity, open_paid
from tests.growth.test_bargains import bargain_activity, start
from tests.helpers import client_for
from tests.orders.helpers import basket, commit

pytestmark = pytest.mark.django_db

POSTERS = "/api/v1/growth/posters"


def jpeg(colour: str, size=(64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture
def wechat(fake_wechat, settings):
    """The fake WeChat also plays the CDN of avatars and item pictures (the only host posters fetch from)."""
    settings.POSTER_IMAGE_HOSTS = ["127.0.0.1"]
    fake_wechat.images["avatar.jpg"] = jpeg("#2E7D32")
    fake_wechat.images["cup.jpg"] = jpeg("#1565C0", (400, 300))
    return fake_wechat


@pytest.fixture
def sharer(wechat):
    return MemberFactory(nickname="王芳", avatar_url=f"{wechat.url}/images/avatar.jpg")


@pytest.fixture
def group(sharer, wechat):
    act = activity(size=3)
    act.item.name, act.item.image_url = "不锈钢保温杯 500ml", f"{wechat.url}/images/cup.jpg"
    act.item.save()
    return open_paid(sharer, act)


def poster(member, kind, target_id=None):
    query = {"kind": kind} if target_id is None else {"kind": kind, "id": target_id}
    return client_for(member).get(POSTERS, query)


def png(response) -> Image.Image:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    return image


def test_a_group_poster_is_a_png_with_the_code_wechat_drew_for_the_sharers_scene(sharer, group, wechat):
    image = png(poster(sharer, "group", group.pk))

    assert image.size == (poster_art.WIDTH, poster_art.HEIGHT)
    scene = PosterScene.objects.get()
    assert (scene.member_id, scene.kind, scene.target_id) == (sharer.pk, "group", group.pk)
    assert scene.channel == f"groupbuy:{group.activity_id}"
    [asked] = wechat.wxacode_requests
    assert asked == {
        "scene": scene.code,
        "page": "pages/growth/group",
        "width": 430,
        "check_path": True,
        "env_version": "release",
    }
    assert len(scene.code) <= 32 and scene.code.isalnum()
    # The avatar and the item's picture were fetched and drawn: the header's avatar disc is green.
    assert {"/images/avatar.jpg", "/images/cup.jpg"} <= set(wechat.requests)
    red, green, blue = image.convert("RGB").getpixel((40 + 44, 27 + 48))
    assert green > 100 and red < 100 and blue < 100


def test_the_code_is_asked_of_wechat_once_per_scene_even_when_the_poster_is_drawn_again(
    sharer, group, wechat, settings
):
    settings.POSTER_CACHE_SECONDS = 0  # every poster drawn anew: only the code's cache saves the call
    first = png(poster(sharer, "group", group.pk))
    second = png(poster(sharer, "group", group.pk))
    friend = MemberFactory()
    open_paid(friend, group.activity, key="friend-own")  # a group of the friend's own, to compare
    png(poster(sharer, "shop"))

    assert first.tobytes() == second.tobytes()
    assert [r["scene"] for r in wechat.wxacode_requests] == [
        PosterScene.objects.get(kind="group").code,
        PosterScene.objects.get(kind="shop").code,
    ]
    assert PosterScene.objects.filter(member=sharer).count() == 2


@pytest.mark.parametrize(
    ("errcode", "status", "code"),
    [(41030, 503, "wxacode_refused"), (-1, 503, "wechat_unavailable"), (45009, 503, "wechat_unavailable")],
)
def test_wechat_refusing_the_code_is_a_clean_error_and_the_next_poster_asks_again(
    sharer, group, wechat, errcode, status, code
):
    wechat.wxacode_errcode = errcode

    refused = poster(sharer, "group", group.pk)

    assert (refused.status_code, refused.json()["code"]) == (status, code)
    if code == "wxacode_refused":
        assert refused.json()["details"] == {"errcode": errcode}
    wechat.wxacode_errcode = 0
    png(poster(sharer, "group", group.pk))
    assert len(wechat.wxacode_requests) == 2  # the refusal was not cached


def test_a_revoked_access_token_is_renewed_once_for_the_code(sharer, group, wechat):
    png(poster(sharer, "shop"))
    wechat.expire_tokens()

    png(poster(sharer, "group", group.pk))

    assert len(wechat.tokens_issued) == 2


def test_a_member_may_share_only_their_own_open_group_or_bargain_and_what_is_on_offer(sharer, group, wechat):
    stranger = MemberFactory()
    bargain = start(sharer, bargain_activity())
    hidden_item = MallItemFactory(is_active=False)
    retired_card = CardTypeFactory(is_active=False)

    refused = [
        poster(stranger, "group", group.pk),  # someone else's group
        poster(stranger, "bargain", bargain.pk),  # someone else's bargain
        poster(sharer, "group", group.pk + 1000),
        poster(sharer, "item", hidden_item.pk),
        poster(sharer, "card", retired_card.pk),
        poster(sharer, "item"),  # no id
    ]
    invalid = [poster(sharer, "coupon", 1), poster(sharer, "group", "x")]

    assert {(r.status_code, r.json()["code"]) for r in refused} == {(404, "poster_target_not_found")}
    assert {(r.status_code, r.json()["code"]) for r in invalid} == {(400, "validation_error")}
    assert PosterScene.objects.count() == 0 and wechat.wxacode_requests == []
    # Without a token: 401, as every member route.
    from rest_framework.test import APIClient

    assert APIClient().get(POSTERS, {"kind": "shop"}).status_code == 401


def test_a_bargain_an_item_a_card_and_the_shop_each_have_their_poster(sharer, wechat):
    bargain = start(sharer, bargain_activity())
    item = MallItemFactory(name="积分换购·帆布袋", points=1200, cash_fen=990)
    card = CardTypeFactory(kind="paid", name="黑金会员月卡", colour="#111827")

    for kind, target in [("bargain", bargain.pk), ("item", item.pk), ("card", card.pk), ("shop", None)]:
        assert png(poster(sharer, kind, target)).size == (poster_art.WIDTH, poster_art.HEIGHT)

    assert {(s.kind, s.channel) for s in PosterScene.objects.all()} == {
        ("bargain", f"bargain:{bargain.activity_id}"),
        ("item", f"poster:item:{item.pk}"),
        ("card", f"poster:card:{card.pk}"),
        ("shop", "poster:shop"),
    }
    assert Channel.objects.get(code=f"poster:item:{item.pk}").kind == Channel.Kind.POSTER


def test_a_picture_from_a_host_not_listed_is_never_fetched(sharer, wechat, settings):
    settings.POSTER_IMAGE_HOSTS = ["thirdwx.qlogo.cn"]

    png(poster(sharer, "shop"))

    assert not any(path.startswith("/images/") for path in wechat.requests)


def test_without_the_cjk_font_a_poster_is_a_clear_error_and_wechat_is_not_called(sharer, wechat, settings):
    settings.POSTER_FONT_PATH = "/nonexistent/NotoSansCJK-Regular.ttc"

    response = poster(sharer, "shop")

    assert (response.status_code, response.json()["code"]) == (503, "poster_font_missing")
    assert wechat.wxacode_requests == [] and PosterScene.objects.count() == 0


def test_a_friend_who_registers_from_a_poster_is_attributed_to_the_sharer_and_the_activity(
    api, sharer, group, wechat
):
    png(poster(sharer, "group", group.pk))
    scene = PosterScene.objects.get().code
    someone_else = MemberFactory()
    wechat.add_login("friend-code", openid="o-friend", session_key="sk-friend")

    # The page opened by the code resolves its scene, and the friend logs in with it.
    landing = client_for(someone_else).get("/api/v1/growth/poster-scene", {"scene": scene})
    signed_up = api.post(
        "/api/v1/auth/wechat-login",
        # A channel and an invite code sent beside it do not outweigh the poster's own record.
        {
            "code": "friend-code",
            "poster_scene": scene,
            "channel": "ad",
            "invite_code": someone_else.invite_code,
        },
        format="json",
    )

    assert landing.json() == {
        "kind": "group",
        "target_id": group.pk,
        "path": f"pages/growth/group?id={group.pk}",
        "channel": f"groupbuy:{group.activity_id}",
        "sharer_nickname": "王芳",
        "sharer_avatar_url": sharer.avatar_url,
    }
    assert signed_up.status_code == 201
    friend = Member.objects.get(openid="o-friend")
    assert (friend.registration_channel, friend.referrer_id) == (f"groupbuy:{group.activity_id}", sharer.pk)
    # The invite reward follows as for any invitation: the sharer's points when the friend's first order completes.
    before = points_balance(member_id=sharer.pk)["balance"]
    commit(friend, basket(("SKU", 10_000, 1)), order_no="POSTER-1")
    orders.order_complete(order_no="POSTER-1")
    assert points_balance(member_id=sharer.pk)["balance"] == before + 100


@pytest.mark.parametrize("scene", ["unknown", "closed sharer's"])
def test_an_unknown_scene_or_a_closed_sharers_attributes_no_one_and_does_not_stop_the_login(
    api, sharer, wechat, scene
):
    code = "NoSuchScene1"
    if scene == "closed sharer's":
        png(poster(sharer, "shop"))
        code = PosterScene.objects.get().code
        Member.objects.filter(pk=sharer.pk).update(closed_at=timezone.now())  # as members.closure does
    wechat.add_login("c", openid="o-plain", session_key="sk")

    response = api.post("/api/v1/auth/wechat-login", {"code": "c", "poster_scene": code}, format="json")
    landing = client_for(MemberFactory()).get("/api/v1/growth/poster-scene", {"scene": code})

    assert response.status_code == 201
    friend = Member.objects.get(openid="o-plain")
    assert (friend.referrer_id, friend.registration_channel) == (None, "")
    assert (landing.status_code, landing.json()["code"]) == (404, "poster_scene_not_found")


def test_posters_are_throttled_per_member(sharer, wechat, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"poster": "2/min"})

    statuses = [poster(sharer, "shop").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert poster(MemberFactory(), "shop").status_code == 200  # another member has their own allowance
