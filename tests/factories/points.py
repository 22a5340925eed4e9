"""Points earned through the ledger service, so accounts, lots and entries always agree."""

import factory

from points import ledger
from points.ledger import Posting
from tests.factories.members import MemberFactory


class EarnedPointsFactory(factory.Factory):
    """Points earned by a member through ``points_earn`` (one lot, one entry); returns the posting."""

    class Meta:
        model = Posting

    member = factory.SubFactory(MemberFactory)
    amount = 1_000
    idempotency_key = factory.Sequence(lambda n: f"earned-{n}")
    source = "test"
    expires_at = None

    @classmethod
    def _create(cls, model_class, *, member, **fields):
        return ledger.points_earn(member_id=member.pk, **fields)
