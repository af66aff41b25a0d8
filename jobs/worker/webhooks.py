"""The worker's webhook thread: delivers due outbox rows (jobs/webhooks.py) without holding
up claims or outcomes; slow receivers only slow this thread."""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError, connections

from jobs import webhooks
from jobs.models import WebhookDelivery

logger = logging.getLogger("jobcenter.worker")

IDLE_SECONDS = 1.0


class DeliveryThread(threading.Thread):
    def __init__(self) -> None:
        super().__init__(name="jobcenter-webhooks", daemon=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        backoff = IDLE_SECONDS
        try:
            while not self.stopping.is_set():
                try:
                    due = webhooks.claim_due(limit=10)
                    for delivery in due:
                        self.deliver(delivery)
                    backoff = IDLE_SECONDS
                except DatabaseError as exc:
                    logger.warning("webhook delivery: database unavailable (%s)", exc)
                    connections.close_all()
                    due = []
                    backoff = min(30.0, backoff * 2)
                if not due:
                    self.stopping.wait(backoff)
        finally:
            connections.close_all()

    @staticmethod
    def deliver(delivery: WebhookDelivery) -> None:
        """One delivery; a bug it hits is logged and costs that delivery only (it is tried
        again when its claim runs out). Escaping, it would end this thread, and no later
        webhook of this worker would be sent."""
        try:
            webhooks.deliver(delivery)
        except DatabaseError:
            raise
        except Exception:
            logger.exception("webhook %s to %s: delivery failed", delivery.pk, delivery.url)

    def stop(self) -> None:
        self.stopping.set()
