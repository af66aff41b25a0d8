"""``manage.py createapikey NAME --user USERNAME [--expires-days N]``: create an API key and
print it once (only its hash is stored, so it cannot be shown again)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobcenter.errors import JobCenterError
from jobs.api_keys import create_api_key


class Command(BaseCommand):
    help = "Create an API key for a user and print it once (use: Authorization: Bearer <key>)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What the key is for, e.g. 'event-monitor'.")
        parser.add_argument("--user", required=True, help="User name of the key's owner.")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Days until the key stops working (default: never).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user = user_model._default_manager.filter(
            **{user_model.USERNAME_FIELD: options["user"]}
        ).first()
        if user is None:
            raise CommandError(f"No user {options['user']!r} (create it in the admin first).")
        if not user.is_active:
            raise CommandError(f"User {options['user']!r} is inactive.")
        days = options["expires_days"]
        if days is not None and days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        try:
            created = create_api_key(
                user, options["name"], expires_in=timedelta(days=days) if days else None
            )
        except JobCenterError as exc:
            raise CommandError(exc.message) from None
        key = created.api_key
        expiry = f"expires {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else "no expiry"
        self.stderr.write(
            f"API key {key.name!r} for {user.get_username()} (prefix {key.prefix}, {expiry}). "
            "It is shown only now; store it safely:"
        )
        self.stdout.write(created.raw_key)
