import importlib

import pytest
from django.apps import apps

_defaults = importlib.import_module("points.migrations.0002_ledger_triggers_and_default_rules")


@pytest.fixture
def default_rules(db):
    """Transactional tests flush the tables, taking the migration's default rules with them."""
    _defaults.create_defaults(apps, None)
