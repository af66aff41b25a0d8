from django.apps import AppConfig


class LegacyConfig(AppConfig):
    name = "legacy"
    verbose_name = "Legacy import"

    def ready(self) -> None:
        # Jobs whose webhook has the older service's options get its callback payload.
        from jobs.webhooks import PayloadFormat, register_payload_format
        from legacy.webhooks import is_legacy_webhook, legacy_headers, legacy_job_payload

        register_payload_format(
            PayloadFormat(is_legacy_webhook, legacy_job_payload, legacy_headers)
        )
