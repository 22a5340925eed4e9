import pytest

from loyalty.models import IdempotencyRecord
from members.models import Member
from tests.concurrency import run_concurrently
from tests.factories import MemberFactory
from tests.helpers import client_for

pytestmark = pytest.mark.urls("tests.loyalty.idempotency_urls")
URL = "/test/grant"


def post(client, body, key="key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, format="json", **headers)


def granted():
    return Member.objects.filter(nickname="granted").count()


@pytest.mark.django_db
def test_a_value_moving_post_without_a_key_is_refused(member_api):
    response = post(member_api, {"openid": "g1"}, key=None)

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert granted() == 0


@pytest.mark.django_db
def test_a_replayed_key_returns_the_first_response_and_moves_nothing_again(member_api):
    first = post(member_api, {"openid": "g1"})
    second = post(member_api, {"openid": "g1"})

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert granted() == 1


@pytest.mark.django_db
def test_the_same_key_with_other_parameters_is_a_conflict(member_api):
    post(member_api, {"openid": "g1"})

    response = post(member_api, {"openid": "g2"})

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert granted() == 1


@pytest.mark.django_db
def test_keys_belong_to_one_caller(member):
    first = post(client_for(member), {"openid": "g1"})
    second = post(client_for(MemberFactory()), {"openid": "g2"})

    assert first.status_code == second.status_code == 201
    assert granted() == 2


@pytest.mark.django_db
def test_a_refusal_is_stored_and_replayed_and_its_writes_are_rolled_back(member_api):
    first = post(member_api, {"openid": "g1", "fail": "refuse"})
    second = post(member_api, {"openid": "g1", "fail": "refuse"})

    assert first.status_code == second.status_code == 400
    assert first.json() == second.json()
    assert first.json()["code"] == "refused_for_test"
    assert granted() == 0


@pytest.mark.django_db
def test_invalid_input_is_refused_before_anything_is_stored(member_api):
    response = post(member_api, {"openid": ""})

    assert response.status_code == 400
    assert granted() == 0


@pytest.mark.django_db
def test_malformed_json_is_refused_without_a_record(member_api):
    response = member_api.post(URL, "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_crash_frees_the_key_so_a_retry_runs(member):
    client = client_for(member)
    client.raise_request_exception = False

    crashed = post(client, {"openid": "g1", "fail": "crash"})

    assert crashed.status_code == 500
    assert not IdempotencyRecord.objects.exists()
    assert granted() == 0


@pytest.mark.django_db
def test_a_service_unavailable_error_frees_the_key_and_writes_nothing(member):
    client = client_for(member)

    unavailable = post(client, {"openid": "g1", "fail": "unavailable"})

    assert unavailable.status_code == 503
    assert unavailable.json()["code"] == "provider_unavailable_for_test"
    assert not IdempotencyRecord.objects.exists()
    assert granted() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_run_once():
    member = MemberFactory()

    def send(_):
        response = post(client_for(member), {"openid": "race"})
        return response.status_code, response.json()

    results, _ = run_concurrently(send, 8)

    assert granted() == 1
    assert len(results) == 8
    assert {status for status, _ in results} == {201}
    assert len({body["member_id"] for _, body in results}) == 1


@pytest.mark.django_db(transaction=True)
def test_after_commit_runs_once_the_view_committed_and_again_on_each_replay_and_is_not_stored():
    client = client_for(MemberFactory())

    first = client.post("/test/grant-then-call", {"openid": "g1"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    again = client.post("/test/grant-then-call", {"openid": "g1"}, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert first.json()["after_commit"] == again.json()["after_commit"]
    assert first.json()["after_commit"] == {"in_atomic_block": False, "committed": True}
    assert "after_commit" not in IdempotencyRecord.objects.get().body
    assert granted() == 1


@pytest.mark.django_db
def test_an_after_commit_failure_is_the_answer_and_the_stored_response_waits_for_the_retry(member_api):
    body = {"openid": "g1", "after": "unavailable"}

    failed = member_api.post("/test/grant-then-call", body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert (failed.status_code, failed.json()["code"]) == (503, "provider_unavailable_for_test")
    record = IdempotencyRecord.objects.get()
    assert (record.status_code, record.body) == (201, {"member_id": failed.json()["details"]["member_id"]})
    assert granted() == 1
