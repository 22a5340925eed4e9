import pytest

from tests.membership.helpers import policy, standard_tiers


@pytest.fixture
def tiers(db):
    policy(window_months=12, protection_days=90, downgrade_period_days=30, growth_per_yuan=1)
    return standard_tiers()
