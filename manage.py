#!/usr/bin/env python
"""Django's command-line utility for Supplyline."""

import os
import sys

# Commands whose changes are not a person's (runserver: each request gets its own audit context) or
# that run before Django can be set up (help, version).
UNAUDITED = {"", "help", "version", "runserver"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    name = sys.argv[1] if len(sys.argv) > 1 else ""
    if name in UNAUDITED or name.startswith("-"):
        execute_from_command_line(sys.argv)
        return
    import django

    django.setup()
    from config.audit import context

    # Changes made by a command (seed_demo, shell, replay_deliveries, ...) are recorded as its own.
    with context.command(name):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
