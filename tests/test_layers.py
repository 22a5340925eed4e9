"""The apps' dependency direction, as the import-linter contracts in pyproject.toml write it down
(the layers, and the workflows above them that no app imports).

Run as ``lint-imports`` in a subprocess on this checkout (its own directory first on the path, so an
editable install elsewhere is not what gets analysed): a new upward import or cycle between apps fails here.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_apps_import_only_their_own_layer_and_those_below_and_no_app_imports_a_workflow():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
            "--no-cache",
            "--no-logo",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_registry_the_upper_apps_fill_at_startup_is_filled():
    """A registry left empty fails quietly (an audience of nobody, a multiplier of 1, no sign-up points):
    the lower apps know the upper ones only through what these hold once Django is ready."""
    from coupons import audience
    from coupons.models import Audience
    from members import events, selectors
    from membership import member_days
    from points import earning

    assert set(audience.AUDIENCE_CHECKS) == set(Audience.values)
    assert set(audience._SEGMENTS) == {"segments", "members"}
    assert set(member_days._SEGMENT_MEMBERS) == {"source"}
    assert set(earning._MULTIPLIER_NOW) == {"source"} and set(earning._ON_EARNED) == {"membership.cards"}
    assert set(events._LISTENERS) == {
        (events.CREATED, "points"),
        (events.CREATED, "membership"),
        (events.PROFILE_COMPLETED, "points"),
        (events.PHONE_BOUND, "points"),
    }
    assert set(selectors._SUMMARY_PARTS) == {"points", "stored_value", "coupons"}
    assert set(selectors._OVERVIEW_PARTS) == {"points", "stored_value", "coupons", "membership", "analytics"}
    # The labels of codes written by the apps above (loyalty/labels.py): an unlabelled one shows as "-".
    from coupons.models import OCCASIONS
    from coupons.models import SOURCES as COUPON_SOURCES
    from notifications.models import KINDS
    from points.models import SOURCES as POINTS_SOURCES
    from stored_value.models import SOURCES as STORED_VALUE_SOURCES

    assert {"order", "mall", "gift_pack", "recharge_gift"} <= {code for code, _ in POINTS_SOURCES.choices()}
    assert {"order"} <= {code for code, _ in STORED_VALUE_SOURCES.choices()}
    assert {"mall"} <= {code for code, _ in COUPON_SOURCES.choices()}
    assert {"new_member", "birthday", "recharge", "member-day"} <= {code for code, _ in OCCASIONS.choices()}
    assert {"points_expiring", "coupons_expiring", "tier_change", "card_expiring"} <= {
        code for code, _ in KINDS.choices()
    }
