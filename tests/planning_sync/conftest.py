"""The engine's tests count and drive the deliveries, connectors and subscriptions they create themselves."""

import pytest

from planning_sync.models import Connector


@pytest.fixture(autouse=True)
def _without_exception_rules(db):
    """Take away the built-in exception-rules connector (tests/exceptions covers it), so the
    connectors, subscriptions and deliveries these tests see are exactly their own."""
    Connector.objects.filter(kind="exceptions").delete()
