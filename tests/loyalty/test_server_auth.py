import json
import time
from datetime import timedelta

import pytest

from loyalty import services as platform_services
from loyalty.api.server_auth import signed_headers
from loyalty.models import ApiClient, ApiNonce
from members.models import Member
from tests.factories import MemberFactory
from tests.helpers import as_meta

pytestmark = pytest.mark.urls("tests.loyalty.idempotency_urls")
GRANT = "/test/server-grant"


def signed_post(api, client, secret, body: dict, *, path=GRANT, key="k1", **overrides):
    raw = json.dumps(body).encode()
    headers = signed_headers(
        key_id=client.key_id, secret=secret, method="POST", path=path, body=raw, **overrides
    )
    return api.generic(
        "POST", path, raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key, **as_meta(headers)
    )


def granted():
    return Member.objects.filter(nickname="granted").count()


@pytest.mark.django_db
def test_a_correctly_signed_request_is_accepted(api, server_client):
    client, secret = server_client

    response = signed_post(api, client, secret, {"openid": "s1"})

    assert response.status_code == 201
    assert granted() == 1
    client.refresh_from_db()
    assert client.last_used_at is not None


@pytest.mark.django_db
def test_a_wrong_signature_is_401_and_changes_nothing(api, server_client):
    client, _ = server_client

    response = signed_post(api, client, "not-the-secret", {"openid": "s1"})

    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"
    assert granted() == 0
    assert not ApiNonce.objects.exists()


@pytest.mark.django_db
def test_a_tampered_body_is_401(api, server_client):
    client, secret = server_client
    headers = signed_headers(
        key_id=client.key_id, secret=secret, method="POST", path=GRANT, body=b'{"openid": "s1"}'
    )

    response = api.generic(
        "POST",
        GRANT,
        b'{"openid": "s2"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
        **as_meta(headers),
    )

    assert response.status_code == 401
    assert granted() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("skew", [-301, 301])
def test_a_stale_or_future_timestamp_is_401(api, server_client, skew):
    client, secret = server_client

    response = signed_post(api, client, secret, {"openid": "s1"}, timestamp=int(time.time()) + skew)

    assert response.status_code == 401
    assert response.json()["code"] == "signature_expired"
    assert granted() == 0


@pytest.mark.django_db
def test_a_replayed_request_is_401_even_with_a_valid_signature(api, server_client):
    client, secret = server_client
    first = signed_post(api, client, secret, {"openid": "s1"}, nonce="nonce-0001", key="k1")

    replay = signed_post(api, client, secret, {"openid": "s1"}, nonce="nonce-0001", key="k2")

    assert first.status_code == 201
    assert replay.status_code == 401
    assert replay.json()["code"] == "signature_replayed"
    assert granted() == 1


@pytest.mark.django_db
def test_missing_headers_are_401(api, server_client):
    response = api.post(GRANT, {"openid": "s1"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 401
    assert response.json()["code"] == "signature_missing"
    assert "HMAC-SHA256" in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_an_inactive_client_is_refused(api, server_client):
    client, secret = server_client
    client.is_active = False
    client.save()

    assert signed_post(api, client, secret, {"openid": "s1"}).status_code == 401
    assert granted() == 0


@pytest.mark.django_db
def test_a_member_token_cannot_call_server_endpoints(member_api):
    response = member_api.get("/api/v1/server/members/lookup?openid=x")

    assert response.status_code == 401


@pytest.mark.django_db
def test_the_query_string_is_signed(api, server_client):
    client, secret = server_client
    member = MemberFactory(openid="o-lookup")
    path = "/api/v1/server/members/lookup?openid=o-lookup"
    headers = signed_headers(key_id=client.key_id, secret=secret, method="GET", path=path)

    good = api.get(path, **as_meta(headers))
    swapped = api.get(
        "/api/v1/server/members/lookup?openid=o-other",
        **as_meta(signed_headers(key_id=client.key_id, secret=secret, method="GET", path=path)),
    )

    assert good.status_code == 200
    assert good.json()["id"] == member.pk
    assert swapped.status_code == 401


@pytest.mark.django_db
def test_server_lookup_of_an_unknown_member_is_404(api, server_client):
    client, secret = server_client
    path = "/api/v1/server/members/lookup?phone=13000000000"

    response = api.get(
        path, **as_meta(signed_headers(key_id=client.key_id, secret=secret, method="GET", path=path))
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_idempotency_keys_of_server_clients_work_too(api, server_client):
    client, secret = server_client

    first = signed_post(api, client, secret, {"openid": "s1"}, key="same")
    second = signed_post(api, client, secret, {"openid": "s1"}, key="same")

    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert granted() == 1


@pytest.mark.django_db
def test_an_oversized_signed_body_is_400_and_changes_nothing(api, server_client, settings):
    client, secret = server_client
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 512

    response = signed_post(api, client, secret, {"openid": "s1", "pad": "x" * 1024})

    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"
    assert granted() == 0
    assert not ApiNonce.objects.exists()


@pytest.mark.django_db
def test_a_client_deactivated_after_its_secret_was_cached_is_refused_at_once(api, server_client):
    client, secret = server_client
    assert signed_post(api, client, secret, {"openid": "s1"}, key="k1").status_code == 201
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)  # as another process would: no signal

    refused = signed_post(api, client, secret, {"openid": "s2"}, key="k2")

    assert refused.status_code == 401
    assert refused.json()["code"] == "signature_invalid"
    assert granted() == 1
    assert ApiNonce.objects.count() == 1


@pytest.mark.django_db
def test_a_rotated_secret_takes_effect_at_once_although_the_old_one_was_cached(api, server_client):
    client, old = server_client
    assert signed_post(api, client, old, {"openid": "s1"}, key="k1").status_code == 201
    new = platform_services.api_client_issue_secret(client=ApiClient.objects.get(pk=client.pk))

    with_old = signed_post(api, client, old, {"openid": "s2"}, key="k2")
    with_new = signed_post(api, client, new, {"openid": "s3"}, key="k3")

    assert with_old.status_code == 401
    assert with_new.status_code == 201
    assert granted() == 2
    assert ApiNonce.objects.count() == 2


@pytest.mark.django_db
def test_last_used_is_recorded_at_most_once_a_minute(api, server_client):
    client, secret = server_client
    assert signed_post(api, client, secret, {"openid": "s1"}, key="k1").status_code == 201
    first = ApiClient.objects.get(pk=client.pk).last_used_at
    ApiClient.objects.filter(pk=client.pk).update(last_used_at=first - timedelta(seconds=30))

    signed_post(api, client, secret, {"openid": "s2"}, key="k2")
    within = ApiClient.objects.get(pk=client.pk).last_used_at
    ApiClient.objects.filter(pk=client.pk).update(last_used_at=first - timedelta(seconds=90))
    signed_post(api, client, secret, {"openid": "s3"}, key="k3")
    after = ApiClient.objects.get(pk=client.pk).last_used_at

    assert within == first - timedelta(seconds=30)
    assert after > first - timedelta(seconds=90)


@pytest.mark.django_db
def test_a_signed_call_costs_one_statement_once_the_client_is_cached(
    api, server_client, django_assert_max_num_queries
):
    client, secret = server_client
    member = MemberFactory(openid="o-cost")
    path = "/api/v1/server/members/lookup?openid=o-cost"
    api.get(path, **as_meta(signed_headers(key_id=client.key_id, secret=secret, method="GET", path=path)))

    with django_assert_max_num_queries(2):  # the nonce statement and the lookup itself
        response = api.get(
            path, **as_meta(signed_headers(key_id=client.key_id, secret=secret, method="GET", path=path))
        )

    assert response.json()["id"] == member.pk
