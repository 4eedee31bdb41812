"""Every write of purchasing state, for every channel: orders and their answers (orders.py),
shipment notices (shipments.py). Views, the API, EDI and CSV intake all call these."""

from purchasing.services.orders import (
    MAX_DELIVERIES,
    LineChange,
    LineDecision,
    NewLine,
    acknowledgement_accept_all,
    acknowledgement_deadlines_sweep,
    acknowledgement_submit,
    change_order_issue,
    current_terms,
    proposal_decide,
    purchase_order_issue,
)
from purchasing.services.shipments import (
    shipment_notice_cancel,
    shipment_notice_replace,
    shipment_notice_submit,
    shipment_notices_departed_sweep,
)

__all__ = [
    "MAX_DELIVERIES",
    "LineChange",
    "LineDecision",
    "NewLine",
    "acknowledgement_accept_all",
    "acknowledgement_deadlines_sweep",
    "acknowledgement_submit",
    "change_order_issue",
    "current_terms",
    "proposal_decide",
    "purchase_order_issue",
    "shipment_notice_cancel",
    "shipment_notice_replace",
    "shipment_notice_submit",
    "shipment_notices_departed_sweep",
]
