"""The rules that raise and clear exception cases (supply risk lives in ``exceptions.supply_risk``).

Two entry points reach them. The integration engine delivers every event to ``exceptions.handlers``,
and the handlers here re-evaluate what the event touched (a PO and its lines, a shipment notice and
its lines) from the database, so a retried or replayed delivery finds the same answer. The periodic
sweep (``rules_sweep``, beat) catches what time alone makes true: deadlines passed, notices late,
dead letters (one case per connector).

Every evaluation yields, per dedupe key, either a ``Finding`` (the condition holds: raise or update
its case) or a reason (it does not: the unresolved case, if any, clears itself, saying why).
A case a person resolved stays resolved while the same facts hold: each finding names its
``episode`` (the deadline, the promised date, the answer...), and a finding whose key and episode
match a case resolved by a person is not raised again.
"""

from exceptions.rules.base import Outcome, Rules, apply_outcomes
from exceptions.rules.deliveries import connector_outcome
from exceptions.rules.erp import on_line_change, on_revision
from exceptions.rules.orders import ack_outcomes, line_outcomes, on_po_event, po_check
from exceptions.rules.shipments import notice_check, on_notice_event
from exceptions.rules.sweep import SWEEPS, rules_sweep

__all__ = [
    "SWEEPS",
    "Outcome",
    "Rules",
    "ack_outcomes",
    "apply_outcomes",
    "connector_outcome",
    "line_outcomes",
    "notice_check",
    "on_line_change",
    "on_notice_event",
    "on_po_event",
    "on_revision",
    "po_check",
    "rules_sweep",
]
