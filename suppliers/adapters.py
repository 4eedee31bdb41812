from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpRequest

from suppliers import services


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth ships no type hints
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are created by the distributor's staff and supplier admins.
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Render allauth's mail here, send it from a Celery worker.

        A slow or failing mail server then never slows down or breaks a login
        page, and the worker retries.
        """
        request = self.request
        # The context allauth's own send_mail gives its templates.
        ctx = {"request": request, "email": email, "current_site": get_current_site(request), **context}
        services.email_enqueue(self.render_mail(template_prefix, email, ctx))
