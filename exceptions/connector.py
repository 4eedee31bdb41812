"""The exceptions app as a connector: the integration engine delivers events to the rules.

Going through the engine, rather than being called by the services, keeps the supplier's commit
fast and independent of the rules, and gives the rules the engine's guarantees: every event
reaches them, in order per purchase order, retried when a rule fails, replayable from the monitor.
"""

from __future__ import annotations

from typing import Any

from planning_sync.connectors.base import BaseConnector, Outcome, register


@register
class ExceptionRulesConnector(BaseConnector):
    kind = "exceptions"
    label = "Exception rules (internal)"

    def deliver(self, envelope: dict[str, Any]) -> Outcome:
        from exceptions.handlers import dispatch  # the rules import models: not at app loading

        dispatch(envelope)  # an error is a failed attempt: the engine logs it and retries
        return Outcome(delivered=True)
