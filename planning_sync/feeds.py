"""The pull side of the inbound feeds: fetch what changed since a cursor, apply it, then move the cursor.

A connector pulls the feeds listed in ``config["pull_feeds"]`` from
``config["feed_url"]`` (or ``config["base_url"]``), one page per pull; the next
pull asks for what changed since the cursor the page returned. Cursors live in
``config["cursors"][feed]`` and move only after the page was applied, so a crash
in between re-applies the page, which changes nothing the second time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction

from planning_sync import ratelimit
from planning_sync.inbound import BatchResult, Feed, apply_batch
from planning_sync.models import Connector

logger = logging.getLogger("supplyline.inbound")

FEED_PATHS: dict[str, str] = {
    Feed.PURCHASE_ORDERS: "/erp/purchase-orders",
    Feed.RECEIPTS: "/erp/receipts",
    Feed.INVENTORY: "/erp/inventory",
    Feed.DEMAND: "/planning/demand",
    Feed.SAFETY_STOCK: "/planning/safety-stock",
}


class FeedPullError(Exception):
    """A feed could not be fetched, or its answer was not a feed page; the cursor did not move."""


@dataclass(frozen=True)
class _Page:
    results: list[Any]
    cursor: str | None


def pull(connector: Connector, feed: str) -> BatchResult:
    """Fetch one page of the feed since the connector's cursor, apply it, and advance the cursor.

    Raises FeedPullError, moving nothing, when the system cannot be reached or
    answers with an error or something that is not ``{"results": [...], "cursor": "..."}``.
    """
    cursor = cursor_of(connector, feed)
    page = _fetch(connector, feed, cursor)
    result = apply_batch(feed, page.results, connector=connector)
    if page.cursor is not None and page.cursor != cursor:
        advance_cursor(connector, feed, expected=cursor, new=page.cursor)
    logger.info(
        "feed pulled",
        extra={"connector": connector.name, "feed": feed, "documents": len(page.results), "cursor": page.cursor},
    )
    return result


def pull_all() -> dict[str, BatchResult]:
    """Pull every feed of every enabled connector that lists ``pull_feeds``, and every enabled Tryton
    connector's purchases, receipts and inventory; one failing feed stops no other.

    Returns the results by ``<connector>/<feed>``; failures are logged and left out.
    """
    results: dict[str, BatchResult] = {}
    for connector in Connector.objects.filter(is_enabled=True, kind="tryton"):
        results |= _pull_tryton(connector)
    for connector in Connector.objects.filter(is_enabled=True, config__has_key="pull_feeds"):
        for feed in connector.config.get("pull_feeds") or []:
            try:
                results[f"{connector.name}/{feed}"] = pull(connector, feed)
            except FeedPullError as error:
                logger.warning(
                    "feed pull failed", extra={"connector": connector.name, "feed": feed, "error": str(error)}
                )
    return results


def _pull_tryton(connector: Connector) -> dict[str, BatchResult]:
    # Imported here: the Tryton pull builds on this module's cursors.
    from planning_sync.connectors.tryton.pull import tryton_pull
    from planning_sync.connectors.tryton.rpc import TrytonError

    # The connector's circuit breaker and rate limit hold for pulls as for deliveries: while the
    # circuit is open the deliveries' probe finds out when Tryton is back, and a pull waits for it;
    # a pull takes a token from the connector's bucket, and one that finds it empty waits for beat.
    if connector.circuit != Connector.Circuit.CLOSED:
        logger.info("tryton pull skipped: circuit open", extra={"connector": connector.name})
        return {}
    if ratelimit.take(connector.name, rate=connector.rate_per_s, burst=connector.burst) > 0:
        logger.info("tryton pull skipped: rate limit", extra={"connector": connector.name})
        return {}
    try:
        return {f"{connector.name}/{feed}": result for feed, result in tryton_pull(connector).items()}
    except TrytonError as error:
        logger.warning("tryton pull failed", extra={"connector": connector.name, "error": str(error)})
        return {}


def cursor_of(connector: Connector, feed: str) -> str:
    """Where the last pull of this feed left off; empty before the first."""
    cursors = (connector.config or {}).get("cursors") or {}
    return str(cursors.get(feed) or "")


def _fetch(connector: Connector, feed: str, cursor: str) -> _Page:
    url = _feed_url(connector, feed)
    try:
        with httpx.stream(
            "GET",
            url,
            params={"updated_since": cursor} if cursor else None,
            headers={"Accept": "application/json", "User-Agent": "Supplyline-Feed/1"},
            timeout=connector.timeout_s,
        ) as response:
            content = _body_within_limit(response, connector, feed)
    except httpx.HTTPError as error:
        raise FeedPullError(f"Could not reach {connector.name} for {feed}: {type(error).__name__}: {error}") from error
    if response.is_error:
        text = content[:300].decode("utf-8", "replace")
        raise FeedPullError(f"{connector.name} answered HTTP {response.status_code} for {feed}: {text}")
    try:
        body = json.loads(content)
    except ValueError as error:
        raise FeedPullError(f"{connector.name} answered {feed} with something that is not JSON.") from error
    return _page(connector, feed, body)


def _body_within_limit(response: httpx.Response, connector: Connector, feed: str) -> bytes:
    """The answer's body, read (and unpacked) only up to PLANNING_SYNC_MAX_BODY_BYTES, as pushed bodies are."""
    limit = int(settings.PLANNING_SYNC_MAX_BODY_BYTES)
    too_large = FeedPullError(f"{connector.name} answered {feed} with more than {limit:,} bytes: page it smaller.")
    if int(response.headers.get("Content-Length") or 0) > limit:
        raise too_large
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _feed_url(connector: Connector, feed: str) -> str:
    if feed not in FEED_PATHS:
        raise FeedPullError(f"{connector.name} lists an unknown feed {feed!r}: use one of {', '.join(FEED_PATHS)}.")
    base = (connector.config or {}).get("feed_url") or (connector.config or {}).get("base_url")
    if not base:
        raise FeedPullError(f"{connector.name} has no feed_url or base_url to pull {feed} from.")
    return f"{str(base).rstrip('/')}{FEED_PATHS[feed]}"


def _page(connector: Connector, feed: str, body: Any) -> _Page:
    results = body.get("results") if isinstance(body, dict) else None
    cursor = body.get("cursor") if isinstance(body, dict) else None
    if not isinstance(results, list) or not (cursor is None or isinstance(cursor, str)):
        raise FeedPullError(f'{connector.name} answered {feed} without {{"results": [...], "cursor": "..."}}.')
    return _Page(results=results, cursor=cursor)


@transaction.atomic
def advance_cursor(connector: Connector, feed: str, *, expected: str, new: str) -> None:
    """Move the feed's cursor from ``expected`` to ``new``, unless another pull of the same page moved it first.

    Locks the connector row for this one update only (the delivery engine writes
    it too), and rewrites config whole under that lock so no other key is lost.
    """
    locked = Connector.objects.select_for_update().get(pk=connector.pk)
    if cursor_of(locked, feed) != expected:
        return
    config = dict(locked.config or {})
    config["cursors"] = {**(config.get("cursors") or {}), feed: new}
    locked.config = config
    locked.save(update_fields=["config"])
    connector.config = locked.config
