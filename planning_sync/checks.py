"""System checks of the integration engine's settings (``manage.py check``, and ``check --deploy`` in CI)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

# The longest KPI window (exceptions.kpis.WEEK_CHOICES) in days: its cycle times start at outbox events.
KPI_WINDOW_DAYS = 52 * 7


@checks.register()
def retention_covers_the_kpis(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    days = int(settings.PLANNING_SYNC_RETENTION_DAYS)
    if 0 < days < KPI_WINDOW_DAYS:
        return [
            checks.Warning(
                f"PLANNING_SYNC_RETENTION_DAYS is {days}: the KPIs over 52 weeks read outbox events up to "
                f"{KPI_WINDOW_DAYS} days old, so their oldest weeks would fall back to the PO's creation time.",
                hint=f"Keep at least {KPI_WINDOW_DAYS} days (the default is 400), or 0 to keep every event.",
                id="planning_sync.W001",
            )
        ]
    return []
