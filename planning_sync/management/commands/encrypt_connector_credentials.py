"""Encrypt every connector's credentials under the current SECRET_KEY: after a key rotation."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from planning_sync import credentials
from planning_sync.models import Connector


class Command(BaseCommand):
    help = (
        "Encrypt the passwords, tokens and signing secrets of every connector under the current SECRET_KEY. "
        "Run it after rotating the key, with the old one in DJANGO_SECRET_KEY_FALLBACKS; then it can go."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        try:
            with transaction.atomic():
                for connector in Connector.objects.select_for_update().only("pk", "config"):
                    # Loaded, it was decrypted by whichever key opens it; saved, it is encrypted under the current key.
                    Connector.objects.filter(pk=connector.pk).update(config=connector.config)
                    count += 1
        except credentials.CredentialUndecryptable as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Encrypted the credentials of {count} connector{'' if count == 1 else 's'}.")
