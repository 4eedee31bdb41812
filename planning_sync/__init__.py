"""The integration edge: the transactional outbox, connectors to the ERP and the
planning system, and their inbound feeds (docs/architecture.md)."""
