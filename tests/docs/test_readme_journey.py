"""The README's "Try the API" block, run as written: bash against a live server with the demo data.

The block is taken from README.md itself, so the README cannot drift from the API: every command
must succeed (``set -euo pipefail``; ``curl`` fails on an HTTP error), and what it did is checked
in the database.
"""

import hashlib
import importlib
import io
import os
import re
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db.migrations.loader import MigrationLoader

from coupons.models import Coupon
from members.models import Member
from points.models import CheckIn
from stored_value.models import RechargeOrder

# A live server and the demo data: with the other live-server tests, on one xdist worker.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("many-connections")]

README = Path(settings.BASE_DIR) / "README.md"
# The rows the migrations create, which the demo runs on (earning rules, tiers, policies, checkout
# settings): an earlier transactional test may have flushed them.  Each creator is idempotent.
MIGRATION_DEFAULTS = [
    ("points.migrations.0002_ledger_triggers_and_default_rules", "create_defaults"),
    ("members.migrations.0003_ledger_triggers_and_defaults", "create_defaults"),
    ("orders.migrations.0002_append_only_and_settings", "create_settings"),
    ("stored_value.migrations.0002_ledger_trigger_and_policy", "create_policy"),
]
# Strict bash; curl exits non-zero on an HTTP error (and says why) wherever the block calls it.
PRELUDE = 'set -euo pipefail\ncurl() { command curl --fail-with-body --show-error "$@"; }\n'


def journey() -> str:
    section = README.read_text().split("\n## Try the API\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)


@pytest.fixture
def demo_server(live_server, settings, tmp_path):
    """The demo's data and its dev login (DEBUG and WECHAT_DEV_LOGIN, on in loyalty.settings.local)."""
    settings.BASE_DIR = tmp_path  # the demo API client file goes here
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for module, creator in MIGRATION_DEFAULTS:
        # Each creator on the models of its own migration (members' tiers now live in membership).
        app_label, _, name = module.split(".")
        state = loader.project_state((app_label, name))
        getattr(importlib.import_module(module), creator)(state.apps, None)
    call_command("seed_demo", "--members", "10", stdout=io.StringIO())
    settings.DEBUG = True
    settings.WECHAT_DEV_LOGIN = True
    return live_server.url


def test_the_readme_journey_runs_against_the_demo(demo_server):
    run = subprocess.run(
        ["bash", "-c", PRELUDE + journey()],
        env={**os.environ, "BASE": demo_server},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert run.returncode == 0, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    alice = Member.objects.get(openid="dev_" + hashlib.sha256(b"alice").hexdigest()[:24])
    assert alice.nickname == "小王"
    assert CheckIn.objects.filter(member=alice).count() == 1
    assert Coupon.objects.filter(member=alice, source="claim").count() == 1
    assert RechargeOrder.objects.get(member=alice).status == "credited"
    assert "affordable" in run.stdout
