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
        unreadable: list[str] = []
        with transaction.atomic():
            for connector in Connector.objects.select_for_update().only("pk", "name", "config"):
                # Loaded, it was decrypted by whichever key opens it; saved, it is encrypted under the current key
                # (one no key opens is stored again as it was).
                Connector.objects.filter(pk=connector.pk).update(config=connector.config)
                count += 1
                if paths := credentials.unreadable_paths(connector.config):
                    unreadable.append(f"{connector.name} ({', '.join(paths)})")
        self.stdout.write(f"Encrypted the credentials of {count} connector{'' if count == 1 else 's'}.")
        if unreadable:
            raise CommandError(
                credentials.UNDECRYPTABLE_MESSAGE.format("; ".join(unreadable))
                + " Those were left as they were; the others are encrypted under the current key."
            )
