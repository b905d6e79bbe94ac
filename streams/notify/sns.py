"""Publishing to Amazon SNS: PublishBatch (<= 10 entries), per-entry results, retries with full jitter.

WHY our own retry loop instead of botocore's: botocore retries a whole call, but PublishBatch fails per entry
(`Failed[]` with `SenderFault`), and we must retry exactly the entries that failed for a transient reason so
the ones already accepted are not sent twice. The botocore client is therefore built with retries off and
short timeouts; boto3 is blocking, so calls run in a thread to keep the Faust event loop (heartbeats) alive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import boto3
import botocore.exceptions as bex
from botocore.config import Config

from streams.notify.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from streams.notify.messages import PublishEntry
from streams.notify.retry import RetryPolicy

__all__ = ["BATCH_LIMIT", "make_sns_client", "SnsPublisher", "classify_client_error"]

log = logging.getLogger(__name__)

# SNS rejects a PublishBatch of more than 10 entries outright (TooManyEntriesInBatchRequest).
BATCH_LIMIT = 10
# Error codes SNS (and its throttling front end) returns for "slow down / try later"; anything else 4xx is a
# request we built wrong, retrying it would only burn the retry budget.
RETRYABLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
    "InternalError", "InternalFailure", "ServiceUnavailable", "KMSThrottling", "RequestTimeout",
})


def make_sns_client(endpoint_url: str | None = None, region: str | None = None, timeout_s: float = 5.0,
                    session: boto3.session.Session | None = None) -> Any:
    """An SNS client with botocore's retries off (we retry per entry) and bounded timeouts."""
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=timeout_s,
                 read_timeout=timeout_s, max_pool_connections=20)
    sess = session or boto3.session.Session()
    return sess.client("sns", endpoint_url=endpoint_url, region_name=region or sess.region_name or "us-east-1",
                       config=cfg)


def classify_client_error(exc: Exception) -> DeliveryError:
    """Map a botocore failure of a whole call to retryable or permanent."""
    if isinstance(exc, bex.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "ClientError"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in RETRYABLE_CODES or status >= 500 or status == 429:
            return RetryableDeliveryError(f"sns_{code}", str(err.get("Message", "")))
        return PermanentDeliveryError(f"sns_{code}", str(err.get("Message", "")))
    if isinstance(exc, (bex.ConnectionError, bex.HTTPClientError)):
        return RetryableDeliveryError("connection", type(exc).__name__)
    return PermanentDeliveryError("sns_unexpected", repr(exc))


class SnsPublisher:
    """Publishes prepared entries to SNS topics (by name; ARNs resolved once and cached)."""

    def __init__(self, client: Any, retry: RetryPolicy | None = None,
                 on_retry: Callable[[Sequence[PublishEntry]], None] | None = None) -> None:
        self.client = client
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry
        self._arns: dict[str, str] = {}

    # --- blocking primitives (one HTTP call each) --------------------------------------------------
    def arn(self, topic_name: str) -> str:
        """ARN of a topic: CreateTopic is idempotent and returns the existing ARN (needs sns:CreateTopic)."""
        arn = self._arns.get(topic_name)
        if arn is None:
            arn = self.client.create_topic(Name=topic_name)["TopicArn"]
            self._arns[topic_name] = arn
        return arn

    def publish_batch_once(self, topic_name: str, entries: Sequence[PublishEntry]) -> dict[str, DeliveryError | None]:
        """One PublishBatch call: id -> None (accepted) or the entry's error. Raises for a failed call."""
        assert 0 < len(entries) <= BATCH_LIMIT
        try:
            resp = self.client.publish_batch(TopicArn=self.arn(topic_name),
                                             PublishBatchRequestEntries=[e.to_batch_entry() for e in entries])
        except Exception as exc:  # noqa: BLE001 - classified, never swallowed
            raise classify_client_error(exc) from exc
        out: dict[str, DeliveryError | None] = {s["Id"]: None for s in resp.get("Successful", [])}
        for f in resp.get("Failed", []):
            cls = PermanentDeliveryError if f.get("SenderFault") else RetryableDeliveryError
            out[f["Id"]] = cls(f"sns_{f.get('Code', 'failed')}", str(f.get("Message", "")))
        for e in entries:  # an id SNS did not mention is not known to be accepted
            out.setdefault(e.id, RetryableDeliveryError("sns_missing_result"))
        return out

    def publish_once(self, topic_name: str, entry: PublishEntry) -> None:
        """One Publish call (the unbatched path, used by the benchmark as the baseline)."""
        try:
            self.client.publish(**entry.to_publish_kwargs(self.arn(topic_name)))
        except Exception as exc:  # noqa: BLE001
            raise classify_client_error(exc) from exc

    # --- the retried, non-blocking path -----------------------------------------------------------
    async def publish(self, topic_name: str, entries: Sequence[PublishEntry]) -> dict[str, DeliveryError | None]:
        """Publish all entries (any count) with retries; id -> None, or the final error (dead-letter it)."""
        results: dict[str, DeliveryError | None] = {}
        for i in range(0, len(entries), BATCH_LIMIT):
            results.update(await self._publish_chunk(topic_name, list(entries[i:i + BATCH_LIMIT])))
        return results

    async def _publish_chunk(self, topic_name: str, entries: list[PublishEntry]) -> dict[str, DeliveryError | None]:
        results: dict[str, DeliveryError | None] = {}
        pending = entries
        clock = self.retry.start()
        while True:
            try:
                got = await asyncio.to_thread(self.publish_batch_once, topic_name, pending)
            except RetryableDeliveryError as exc:
                got = {e.id: exc for e in pending}
            except PermanentDeliveryError as exc:
                results.update({e.id: exc for e in pending})
                return results
            retry_next: list[PublishEntry] = []
            for e in pending:
                err = got[e.id]
                if isinstance(err, RetryableDeliveryError):
                    retry_next.append(e)
                    results[e.id] = err
                else:
                    results[e.id] = err
            if not retry_next:
                return results
            sleep = clock.next_sleep()
            if sleep is None:
                log.warning("SNS %s: giving up on %d entries after %d attempts (%s)", topic_name, len(retry_next),
                            clock.attempt, results[retry_next[0].id])
                return results
            if self.on_retry:
                self.on_retry(retry_next)
            await asyncio.sleep(sleep)
            pending = retry_next
