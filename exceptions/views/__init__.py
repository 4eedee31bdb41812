"""The exceptions app's pages: the queue (``queue``), supply projections (``supply``), KPIs (``kpis``)."""
