"""Create an API key for a supplier and print it once: ``create_api_key --supplier ACME --scopes orders:read``."""

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from suppliers import services
from suppliers.models import ApiScope, Supplier


class Command(BaseCommand):
    help = "Create an API key for a supplier; the key is printed once and stored only as a hash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--supplier", required=True, help="The supplier's code, e.g. ACME.")
        parser.add_argument(
            "--scopes",
            required=True,
            nargs="+",
            help=f"One or more of: {', '.join(ApiScope.values)} (space- or comma-separated).",
        )
        parser.add_argument("--name", default="Created by staff", help="What will use the key.")
        parser.add_argument("--expires-days", type=int, default=None, help="Days until the key expires.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            supplier = Supplier.objects.get(code=options["supplier"])
        except Supplier.DoesNotExist:
            raise CommandError(f"No supplier has the code {options['supplier']!r}.") from None
        scopes = [scope for part in options["scopes"] for scope in part.split(",") if scope]
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be 1 or more.")
        try:
            api_key, secret = services.api_key_create(
                supplier=supplier,
                name=options["name"],
                scopes=scopes,
                by=None,
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stderr.write(f"API key {api_key.prefix}… for {supplier.code}, scopes {', '.join(api_key.scopes)}.")
        self.stderr.write("Copy it now: it is not shown again.")
        self.stdout.write(secret)
