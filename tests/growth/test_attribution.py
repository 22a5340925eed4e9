"""A member who registers from a share is attributed to the activity (its channel) and the sharer (referrer)."""

import pytest

from growth import attribution, services
from growth.models import GroupBuyActivity
from members.models import Channel, Member
from members.services import member_login
from members.wechat import WechatSessionInfo
from tests.factories import MemberFactory
from tests.growth.helpers import open_paid
from tests.helpers import client_for, page_text

pytestmark = pytest.mark.django_db


def sign_up_from(share: dict, openid: str) -> Member:
    """A friend opens the shared path; the mini-program logs in with its channel and invite code."""
    session = WechatSessionInfo(openid=openid, session_key="k" * 24, unionid="")
    return member_login(session=session, channel=share["channel"], invite_code=share["invite_code"]).member


def test_a_member_who_registers_from_a_shared_group_is_attributed_to_the_sharer_and_the_activity(
    admin_client,
):
    from tests.growth.helpers import activity

    draft = activity()
    act = services.activity_save(
        activity=GroupBuyActivity(
            **{
                f.attname: getattr(draft, f.attname)
                for f in GroupBuyActivity._meta.concrete_fields
                if f.attname != "id"
            }
        )
    )
    sharer = MemberFactory(nickname="分享者")
    open_paid(sharer, act)
    share = client_for(sharer).get("/api/v1/growth/my-groups").json()[0]["share"]
    assert share["channel"] == f"groupbuy:{act.pk}" and share["invite_code"] == sharer.invite_code
    assert share["path"].startswith("pages/growth/group?id=")

    friends = [sign_up_from(share, f"share-{n}") for n in range(3)]

    assert {(f.registration_channel, f.referrer_id) for f in friends} == {(f"groupbuy:{act.pk}", sharer.pk)}
    assert attribution.new_members_by_sharer(channel=share["channel"]) == [
        {"referrer_id": sharer.pk, "referrer__nickname": "分享者", "members": 3}
    ]
    assert Channel.objects.get(code=share["channel"]).kind == Channel.Kind.INVITE
    again = sign_up_from({"channel": "other", "invite_code": ""}, "share-0")  # a later login changes nothing
    assert (again.registration_channel, again.referrer_id) == (f"groupbuy:{act.pk}", sharer.pk)
    page = page_text(admin_client.get(f"/admin/growth/groupbuyactivity/{act.pk}/change/"))
    assert "分享者" in page
    listing = page_text(admin_client.get("/admin/growth/groupbuyactivity/"))
    assert "从分享注册" in listing
