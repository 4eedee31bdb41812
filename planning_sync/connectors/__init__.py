"""Connectors to external systems. Importing this package registers every built-in kind."""

from planning_sync.connectors import webhook
from planning_sync.connectors.base import REGISTRY, BaseConnector, Outcome, connector_for, kind_choices
from planning_sync.connectors.tryton import connector as tryton

__all__ = ["REGISTRY", "BaseConnector", "Outcome", "connector_for", "kind_choices", "tryton", "webhook"]
