"""The database router: the primary by default; the replica only for a replica-fed page's GET.

Here the replica alias is the suite's mirror of the primary (``settings/test.py``), or, where a test
asks for ``separate_replica``, another database that nothing connects to (only routing is asked).
A real replica streaming from a real primary: tests/loyalty/test_replica.py.
"""

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory
from django.urls import reverse

from loyalty import db_router
from loyalty.db_router import ReplicaReadsMiddleware, replica_alias, replica_readable
from members.models import Member
from points.models import PointsAccount, PointsEntry
from tests.factories import MemberFactory
from tests.helpers import page_text


@pytest.fixture
def separate_replica(monkeypatch):
    """The replica alias names a database apart from the primary's (never connected to here: taken as
    reachable, only routing is asked)."""
    settings_dict = connections["replica"].settings_dict
    name = settings_dict["NAME"]
    settings_dict["NAME"] = "a_replica_elsewhere"
    monkeypatch.setattr(db_router, "replica_reachable", lambda: True)
    yield
    settings_dict["NAME"] = name


def _reading(view, method="get"):
    """Where ``Member`` rows are read from inside ``view`` (marked replica-readable) for a request."""
    seen = []

    def recorded(request):
        seen.append(router.db_for_read(Member))
        return HttpResponse()

    ReplicaReadsMiddleware(view(recorded))(getattr(RequestFactory(), method)("/"))
    return seen[0]


@pytest.mark.usefixtures("separate_replica")
def test_reads_and_writes_go_to_the_primary_outside_a_replica_fed_page():
    assert router.db_for_read(Member) == "default"
    assert router.db_for_write(Member) == "default"
    assert _reading(lambda view: view) == "default"  # a request whose view is not marked


@pytest.mark.usefixtures("separate_replica")
def test_a_marked_views_get_reads_the_replica_and_its_post_the_primary():
    assert _reading(replica_readable, "get") == "replica"
    assert _reading(replica_readable, "head") == "replica"
    assert _reading(replica_readable, "post") == "default"
    assert router.db_for_read(Member) == "default"  # the request's scope ended with it


@pytest.mark.usefixtures("separate_replica")
def test_who_the_operator_is_and_may_do_is_read_from_the_primary_even_on_a_replica_fed_page():
    seen = []

    @replica_readable
    def view(request):
        seen.extend(router.db_for_read(model) for model in (User, Session, ContentType, PointsEntry))
        return HttpResponse()

    ReplicaReadsMiddleware(view)(RequestFactory().get("/"))

    assert seen == ["default", "default", "default", "replica"]


@pytest.mark.usefixtures("separate_replica")
def test_a_streamed_export_reads_the_replica_while_it_streams_after_the_view_returned():
    @replica_readable
    def view(request):
        return StreamingHttpResponse(router.db_for_read(Member) for _ in range(2))

    response = ReplicaReadsMiddleware(view)(RequestFactory().get("/"))

    assert router.db_for_read(Member) == "default"
    assert b"".join(response.streaming_content) == b"replicareplica"
    assert router.db_for_read(Member) == "default"


def test_without_a_replica_apart_from_the_primary_a_replica_fed_page_reads_the_primary():
    assert replica_alias() == "default"  # the suite's mirror is the primary's own database
    assert _reading(replica_readable) == "default"


# --- the pages: 数据截至 on those fed by the replica, nothing on the others ---------------------------


@pytest.mark.django_db
def test_a_list_page_says_as_of_when_and_an_object_page_does_not(admin_client):
    member = MemberFactory()

    listed = admin_client.get(reverse("admin:members_member_changelist"))
    shown = admin_client.get(reverse("admin:members_member_change", args=[member.pk]))

    assert listed.status_code == 200 and shown.status_code == 200
    assert "数据截至" in page_text(listed) and 'class="lo-as-of"' in listed.content.decode()
    assert "数据截至" not in page_text(shown)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    ["admin:analytics_dailymetrics_changelist", "admin:stored_value_liability"],
    ids=["dashboard", "liability"],
)
def test_the_dashboard_and_the_reports_say_as_of_when(admin_client, url):
    response = admin_client.get(reverse(url))

    assert response.status_code == 200
    assert "数据截至" in page_text(response)


@pytest.mark.django_db
def test_an_action_page_reached_from_a_list_reads_the_primary_and_says_nothing(admin_client):
    member = MemberFactory()
    account = PointsAccount.objects.create(member=member)

    response = admin_client.get(reverse("admin:points_pointsaccount_adjust", args=[account.pk]))

    assert response.status_code == 200
    assert "数据截至" not in page_text(response)


@pytest.mark.usefixtures("separate_replica")
def test_a_replica_that_cannot_be_reached_sends_its_pages_to_the_primary_for_a_while(monkeypatch):
    from django.db import OperationalError

    monkeypatch.undo()  # the fixture's "reachable": here the connection refuses
    connections["replica"].settings_dict["NAME"] = "a_replica_elsewhere"
    monkeypatch.setattr(db_router, "_replica_down_until", 0.0)
    clock, tries = [1000.0], []
    monkeypatch.setattr(db_router.time, "monotonic", lambda: clock[0])

    def refused():
        tries.append(clock[0])
        raise OperationalError("connection refused")

    monkeypatch.setattr(connections["replica"], "ensure_connection", refused)

    assert _reading(replica_readable) == "default"  # the page still works, on the primary
    clock[0] += db_router.REPLICA_RETRY_SECONDS - 1
    assert _reading(replica_readable) == "default" and tries == [1000.0]  # not tried again meanwhile
    clock[0] += 2
    assert _reading(replica_readable) == "default" and len(tries) == 2  # tried again after the window
    monkeypatch.setattr(connections["replica"], "ensure_connection", lambda: None)
    clock[0] += db_router.REPLICA_RETRY_SECONDS
    assert _reading(replica_readable) == "replica"  # back once it answers
