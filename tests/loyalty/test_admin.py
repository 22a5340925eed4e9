import re

import pytest
from django.contrib.admin.models import LogEntry

from loyalty.models import ApiClient
from tests.factories import MemberFactory
from tests.helpers import signed_request


@pytest.fixture
def operator(admin_client):
    return admin_client


@pytest.mark.django_db
def test_the_admin_lists_members_in_chinese(operator):
    MemberFactory(nickname="张三", phone="13800000001")
    MemberFactory(nickname="李四")

    page = operator.get("/admin/members/member/").content.decode()

    assert "张三" in page and "李四" in page
    assert "注册渠道" in page  # column and filter labels are Chinese by default


@pytest.mark.django_db
def test_the_admin_searches_members_by_phone(operator):
    MemberFactory(nickname="张三", phone="13800000001")
    MemberFactory(nickname="李四", phone="13900000002")

    page = operator.get("/admin/members/member/", {"q": "13900000002"}).content.decode()

    assert "李四" in page and "张三" not in page


@pytest.mark.django_db
def test_the_member_page_never_shows_the_session_key(operator, member):
    from loyalty import crypto
    from members.models import WechatSession

    WechatSession.objects.create(member=member, session_key_encrypted=crypto.encrypt("SK-ADMIN-LEAK"))

    page = operator.get(f"/admin/members/member/{member.pk}/change/").content.decode()

    assert page.count(member.openid) >= 1
    assert "SK-ADMIN-LEAK" not in page and "session_key" not in page


@pytest.mark.django_db
def test_an_operator_creates_an_api_client_and_sees_its_secret_once(operator, api):
    response = operator.post("/admin/loyalty/apiclient/add/", {"name": "POS", "is_active": "on"}, follow=True)

    page = response.content.decode()
    client = ApiClient.objects.get(name="POS")
    secret = re.search(rf"{client.key_id}[^<]*?([A-Za-z0-9_-]{{43}})", page).group(1)
    assert secret not in client.secret_encrypted
    assert LogEntry.objects.filter(object_id=str(client.pk)).exists()  # audit trail
    path = "/api/v1/server/members/lookup?openid=nobody"
    assert (
        signed_request(api, client, secret, "GET", path).status_code == 404
    )  # authenticated; the member simply does not exist
    assert secret not in operator.get(f"/admin/loyalty/apiclient/{client.pk}/change/").content.decode()


def test_a_csv_keeps_amounts_as_numbers_and_quotes_text_a_spreadsheet_would_run():
    from django.utils.translation import gettext_lazy as _

    from loyalty.admin_tools import in_yuan, stream_csv
    from loyalty.money import yuan_text

    response = stream_csv(
        filename="储值流水.csv",
        header=[_("member"), in_yuan(_("principal part"))],
        rows=[["=1+1", yuan_text(-2_500)], ["-1+1", yuan_text(165_000)], ["@SUM(A1)", -7]],
    )
    text = b"".join(response.streaming_content).decode("utf-8")

    assert text.splitlines() == ["\ufeff会员,本金部分（元）", "'=1+1,-25.00", "'-1+1,1650.00", "'@SUM(A1),-7"]
    assert "filename*=UTF-8''%E5%82%A8" in response["Content-Disposition"]


def test_a_csv_is_written_in_the_language_of_its_request_though_it_streams_after_it():
    from django.utils import translation
    from django.utils.translation import gettext_lazy as _

    from loyalty.admin_tools import in_yuan, stream_csv

    with translation.override("en"):
        response = stream_csv(filename="x.csv", header=[in_yuan(_("goods"))], rows=[[_("refunded")]])
    with translation.override("zh-hans"):
        text = b"".join(response.streaming_content).decode("utf-8")

    assert text.splitlines() == ["\ufeffgoods (yuan)", "refunded"]
