import os

import pytest


def pytest_collection_modifyitems(config, items):
    """Slow fault tests (real processes killed and restarted, ~10 s each) run only with FULL=1.

    ``FULL=1 make test`` runs them, as does selecting them with ``-m slow``.
    """
    if os.environ.get("FULL") == "1" or "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow fault test: run with FULL=1")
    for item in items:
        if "slow" in item.keywords and "tests/faults/" in str(item.path):
            item.add_marker(skip)
