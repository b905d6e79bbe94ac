"""Publishing to Amazon SNS: PublishBatch (<= 10 entries), per-entry results, retries with full jitter.

WHY our own retry loop instead of botocore's: botocore retries a whole call, but PublishBatch fails per entry
(`Failed[]` with `SenderFault`), and we must retry exactly the entries that failed for a transient reason so
the ones already accepted are not sent twice. The botocore client is therefore built with retries off and
short timeouts; boto3 is blocking, so calls run in a thread to keep the Faust event loop (heartbeats) alive.

WHY our own form encoder (`form_urlencode`, hooked into the client by `make_sns_client`): SNS speaks the AWS
Query protocol, an `application/x-www-form-urlencoded` body. botocore keeps that body as a dict and runs
`urllib.parse.urlencode` on it every time something reads `AWSRequest.body` - three times in the CRT signer
and once more when the request is prepared - and `quote` walks every byte in Python. A PublishBatch of 10
alert messages is ~80 KB encoded, so that was ~80% of the client's CPU per call (py-spy). We encode the body
once, byte-identical to botocore's output, before it is signed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.exceptions as bex
from botocore.config import Config

from streams.notify.errors import DeliveryError, PermanentDeliveryError, RetryableDeliveryError
from streams.notify.messages import PublishEntry
from streams.notify.retry import RetryPolicy

__all__ = ["BATCH_LIMIT", "MAX_IN_FLIGHT", "make_sns_client", "form_urlencode", "SnsPublisher", "classify_client_error"]

log = logging.getLogger(__name__)

# SNS rejects a PublishBatch of more than 10 entries outright (TooManyEntriesInBatchRequest).
BATCH_LIMIT = 10
# PublishBatch calls one `SnsPublisher.publish` keeps in flight at once (each in a worker thread, each on its own
# pooled connection): more than 10 entries are sent as concurrent chunks, not one round trip after another.
MAX_IN_FLIGHT = 4
# Connections the client may keep open (botocore's default is 10): topics of a round and chunks in parallel.
POOL_CONNECTIONS = 20
# Error codes SNS (and its throttling front end) returns for "slow down / try later"; anything else 4xx is a
# request we built wrong, retrying it would only burn the retry budget.
RETRYABLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
    "InternalError", "InternalFailure", "ServiceUnavailable", "KMSThrottling", "RequestTimeout",
})


# Form encoding exactly as `urllib.parse.urlencode(..., doseq=True)` (quote_plus, safe=""): these stay as they
# are, space becomes "+", every other UTF-8 byte "%XX".
_FORM_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_UNSAFE = re.compile(r"[^A-Za-z0-9_.~-]")
_ESCAPES: dict[str, str] = {}
# Keys and short values repeat from call to call (`PublishBatchRequestEntries.member.3.MessageAttributes...`,
# "String", attribute names): remembered, bounded.
_SHORT: dict[str, str] = {}
_SHORT_LEN, _SHORT_MAX = 128, 8192


def _escape(ch: str) -> str:
    esc = _ESCAPES.get(ch)
    if esc is None:
        esc = _ESCAPES[ch] = "".join(f"%{b:02X}" for b in ch.encode("utf-8"))
    return esc


def _quote(value: str) -> str:
    if _FORM_UNSAFE.search(value) is None:
        return value
    # One C-speed str.replace per distinct unsafe character: '%' first (the escapes introduce '%'), ' ' -> '+'
    # last (a '+' already in the text must become %2B, the one standing for a space must not).
    bad = set(value).difference(_FORM_SAFE)
    if "%" in bad:
        value = value.replace("%", "%25")
        bad.discard("%")
    space = " " in bad
    bad.discard(" ")
    for ch in bad:
        value = value.replace(ch, _escape(ch))
    return value.replace(" ", "+") if space else value


def _quote_cached(value: str) -> str:
    if len(value) > _SHORT_LEN:
        return _quote(value)
    out = _SHORT.get(value)
    if out is None:
        out = _quote(value)
        if len(_SHORT) < _SHORT_MAX:
            _SHORT[value] = out
    return out


def form_urlencode(params: dict[str, str]) -> str:
    """`k=v&...` for str keys and values, byte-for-byte what botocore's `urlencode(..., doseq=True)` sends."""
    return "&".join(f"{_quote_cached(k)}={_quote_cached(v)}" for k, v in params.items())


def _encode_body_once(request: Any, **_: Any) -> None:
    """`before-sign` hook: turn the Query protocol's dict body into its encoded bytes, so the signer and the
    preparer read it instead of re-encoding the dict each time. Anything but a dict of str is left to botocore."""
    data = request.data
    if isinstance(data, dict) and all(type(k) is str and type(v) is str for k, v in data.items()):
        request.data = form_urlencode(data).encode("utf-8")


def make_sns_client(endpoint_url: str | None = None, region: str | None = None, timeout_s: float = 5.0,
                    session: boto3.session.Session | None = None) -> Any:
    """An SNS client with botocore's retries off (we retry per entry), bounded timeouts, a connection pool for
    concurrent calls and the request body form-encoded once per call (`_encode_body_once`)."""
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=timeout_s,
                 read_timeout=timeout_s, max_pool_connections=POOL_CONNECTIONS)
    sess = session or boto3.session.Session()
    client = sess.client("sns", endpoint_url=endpoint_url, region_name=region or sess.region_name or "us-east-1",
                         config=cfg)
    client.meta.events.register("before-sign.sns", _encode_body_once, unique_id="omnitrack-form-body")
    return client


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
                 on_retry: Callable[[Sequence[PublishEntry]], None] | None = None,
                 max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.client = client
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry
        self.max_in_flight = max(1, max_in_flight)
        self._arns: dict[str, str] = {}
        # Its own threads, one per call in flight (+1 for an ARN lookup): asyncio's default pool (cpus + 4) is
        # shared with the webhook POSTs, and a storm of those left PublishBatch calls queued behind them.
        self._threads = ThreadPoolExecutor(self.max_in_flight + 1, thread_name_prefix="sns")

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

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
        """Publish all entries (any count) with retries; id -> None, or the final error (dead-letter it).

        Chunks of `BATCH_LIMIT` are independent (disjoint ids, each retried on its own), so up to
        `max_in_flight` of them are sent at once."""
        chunks = [list(entries[i:i + BATCH_LIMIT]) for i in range(0, len(entries), BATCH_LIMIT)]
        if len(chunks) <= 1:
            return await self._publish_chunk(topic_name, chunks[0]) if chunks else {}
        if topic_name not in self._arns:  # resolve once, not in every concurrent chunk
            try:
                await self._call(self.arn, topic_name)
            except Exception:  # noqa: BLE001 - each chunk resolves it again inside its classified, retried call
                pass
        gate = asyncio.Semaphore(self.max_in_flight)

        async def one(chunk: list[PublishEntry]) -> dict[str, DeliveryError | None]:
            async with gate:
                return await self._publish_chunk(topic_name, chunk)

        results: dict[str, DeliveryError | None] = {}
        for got in await asyncio.gather(*(one(c) for c in chunks)):
            results.update(got)
        return results

    async def _publish_chunk(self, topic_name: str, entries: list[PublishEntry]) -> dict[str, DeliveryError | None]:
        results: dict[str, DeliveryError | None] = {}
        pending = entries
        clock = self.retry.start()
        while True:
            try:
                got = await self._call(self.publish_batch_once, topic_name, pending)
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
