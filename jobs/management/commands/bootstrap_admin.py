"""``manage.py bootstrap_admin``: on first run, create an admin user and print its password
once. Does nothing when a superuser exists, so run.sh can call it on every start."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create the first admin user with a generated password (printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()  # noqa: N806
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(options["username"], email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                "Created the admin user (shown only this once):\n"
                f"  username: {options['username']}\n  password: {password}"
            )
        )
