"""A task that does nothing but note when it ran: the latency floor of Celery plus one commit."""

import time

import redis
from celery import shared_task
from django.conf import settings

FLOOR_KEY = "supplyline:bench:floor"


@shared_task(ignore_result=True)
def noop(committed_at: float) -> None:
    redis.Redis.from_url(settings.REDIS_URL).rpush(FLOOR_KEY, time.time() - committed_at)
