"""Per-API-key token buckets in Redis: SUPPLYLINE_API_RATE/BURST, and a lower one for uploads.

The bucket is planning_sync.ratelimit's (``take_counted`` reports the tokens left, which the
``RateLimit-*`` headers need). Without Redis (or when it is down) each process keeps its
own buckets: the API keeps answering, with a looser limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from planning_sync import ratelimit
from suppliers.models import ApiKey

UPLOAD_SCOPE = "documents"
STATE_ATTRIBUTE = "_supplyline_ratelimit"


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_s: int
    wait_s: float

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


def take(name: str, *, rate: float, burst: int) -> RateLimitState:
    """Take one token from bucket ``name``; ``wait_s`` > 0 means refused for that long."""
    wait, tokens = ratelimit.take_counted(f"supplyline:api:ratelimit:{name}", rate=rate, burst=burst)
    return RateLimitState(
        limit=burst,
        remaining=max(0, math.floor(tokens)),
        reset_s=math.ceil((burst - tokens) / rate),
        wait_s=wait,
    )


def limits_for(view: APIView) -> tuple[float, int]:
    if getattr(view, "throttle_scope", None) == UPLOAD_SCOPE:
        return float(settings.SUPPLYLINE_API_UPLOAD_RATE), int(settings.SUPPLYLINE_API_UPLOAD_BURST)
    return float(settings.SUPPLYLINE_API_RATE), int(settings.SUPPLYLINE_API_BURST)


def bucket_name(request: Request, view: APIView) -> str:
    """Per key; requests without a valid key share a bucket per client address."""
    who = f"key:{request.auth.pk}" if isinstance(request.auth, ApiKey) else f"ip:{request.META.get('REMOTE_ADDR')}"
    scope = UPLOAD_SCOPE if getattr(view, "throttle_scope", None) == UPLOAD_SCOPE else "default"
    return f"{who}:{scope}"


class ApiKeyThrottle(BaseThrottle):
    """Set ``throttle_scope = "documents"`` on a view for the upload limit."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        rate, burst = limits_for(view)
        self.state = take(bucket_name(request, view), rate=rate, burst=burst)
        setattr(request, STATE_ATTRIBUTE, self.state)
        return self.state.wait_s <= 0

    def wait(self) -> float | None:
        return self.state.wait_s
