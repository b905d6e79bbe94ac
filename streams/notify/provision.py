"""Create the policy's SNS topics and subscriptions: idempotent, against AWS or a local endpoint.

WHY every subscription gets a `channels` filter: the notifier publishes each alert once per topic with the
channels it chose in the `channels` attribute (String.Array); the filter is what makes an SMS subscriber get
only what was meant for SMS. A subscription's own `filter_policy` is merged in (ANDed). Re-running is safe:
CreateTopic returns the existing ARN, Subscribe with the same attributes returns the existing subscription,
and filter policies / raw delivery are re-applied so an edited policy file takes effect.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import boto3

from omnitrack.settings import Settings
from streams.notify.errors import PolicyError
from streams.notify.policy import RoutingPolicy, Subscription, load_policy
from streams.notify.settings import NotifySettings
from streams.notify.sns import make_sns_client

__all__ = ["ProvisionResult", "filter_policy_for", "provision", "provision_for", "standin_subscriptions"]

ProvisionResult = dict[str, dict[str, Any]]
"""topic key -> {"arn": topic ARN, "subscriptions": [subscription ARN, ...]} (+ "skipped": [channel, ...]
when `skip_missing` left out subscriptions whose endpoint env var is unset)"""

STANDIN_QUEUE_PREFIX = "omnitrack-channel-"
"""SQS stand-in queue names (`omnitrack-channel-sms`, ...): one fixed name per channel, so re-provisioning
finds the same queue instead of piling up new ones."""


def filter_policy_for(sub: Subscription) -> dict[str, Any]:
    """The subscription's filter: its channel in `channels`, plus its own conditions."""
    policy: dict[str, Any] = {"channels": [sub.channel]}
    for k, v in (sub.filter_policy or {}).items():
        if k == "channels":
            raise PolicyError("a subscription's filter_policy may not set `channels` (it is derived)")
        policy[k] = v
    return policy


def _endpoint(sub: Subscription, environ: Mapping[str, str]) -> str:
    if sub.endpoint is not None:
        return sub.endpoint
    value = environ.get(sub.endpoint_env or "")
    if not value:
        raise PolicyError(f"subscription endpoint env var {sub.endpoint_env} is not set")
    return value


def provision(policy: RoutingPolicy, session: boto3.session.Session | None = None, endpoint_url: str | None = None,
              region: str | None = None, environ: Mapping[str, str] | None = None,
              extra_subscriptions: Mapping[str, list[Subscription]] | None = None,
              sns_client: Any = None, skip_missing: bool = False) -> ProvisionResult:
    """Create (or find) every topic and subscription of `policy`; returns their ARNs.

    `extra_subscriptions` (topic key -> subscriptions) adds subscribers not in the file, e.g. the SQS queues
    tests and staging use in place of phones and inboxes. SQS subscribers need a queue policy allowing
    sns.amazonaws.com to send; that is the queue owner's job (moto does not enforce it).
    `skip_missing`: a subscription whose endpoint env var is unset is left out (listed under "skipped")
    instead of failing - what a local stack wants, where nobody has an on-call phone configured.
    """
    env = environ if environ is not None else os.environ
    client = sns_client or make_sns_client(endpoint_url, region, session=session)
    out: ProvisionResult = {}
    for key, topic in policy.topics.items():
        arn = client.create_topic(Name=topic.name)["TopicArn"]
        subs = list(topic.subscriptions) + list((extra_subscriptions or {}).get(key, []))
        existing = _existing(client, arn)
        arns: list[str] = []
        skipped: list[str] = []
        for sub in subs:
            if skip_missing and sub.endpoint is None and not env.get(sub.endpoint_env or ""):
                skipped.append(sub.channel)
                continue
            endpoint = _endpoint(sub, env)
            attrs = {"FilterPolicy": json.dumps(filter_policy_for(sub), sort_keys=True)}
            if sub.raw_delivery and sub.protocol in ("sqs", "http", "https", "firehose"):
                attrs["RawMessageDelivery"] = "true"
            sub_arn = existing.get((sub.protocol, endpoint))
            if sub_arn is None or sub_arn == "PendingConfirmation":
                sub_arn = client.subscribe(TopicArn=arn, Protocol=sub.protocol, Endpoint=endpoint, Attributes=attrs,
                                           ReturnSubscriptionArn=True)["SubscriptionArn"]
            else:
                for name, value in attrs.items():  # re-apply: an edited filter must take effect
                    client.set_subscription_attributes(SubscriptionArn=sub_arn, AttributeName=name,
                                                       AttributeValue=value)
            arns.append(sub_arn)
        out[key] = {"arn": arn, "subscriptions": arns}
        if skipped:
            out[key]["skipped"] = skipped
    return out


def standin_subscriptions(policy: RoutingPolicy, sqs_client: Any) -> dict[str, list[Subscription]]:
    """One SQS queue per channel the policy routes (created if missing), subscribed to each topic its routes
    use with raw delivery: on a local endpoint these show what every channel received (`sqs receive-message`).
    """
    channels_by_topic: dict[str, set[str]] = {}
    for route in policy.routes:
        channels_by_topic.setdefault(route.topic, set()).update(route.channels)
    queues: dict[str, Subscription] = {}
    out: dict[str, list[Subscription]] = {}
    for topic, channels in channels_by_topic.items():
        for ch in sorted(channels):
            if ch not in queues:
                url = sqs_client.create_queue(QueueName=f"{STANDIN_QUEUE_PREFIX}{ch}")["QueueUrl"]
                arn = sqs_client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                queues[ch] = Subscription(channel=ch, protocol="sqs", endpoint=arn, raw_delivery=True)
            out.setdefault(topic, []).append(queues[ch])
    return out


def _existing(client: Any, topic_arn: str) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    kwargs: dict[str, Any] = {"TopicArn": topic_arn}
    while True:
        page = client.list_subscriptions_by_topic(**kwargs)
        for s in page.get("Subscriptions", []):
            found[(s["Protocol"], s["Endpoint"])] = s["SubscriptionArn"]
        if not page.get("NextToken"):
            return found
        kwargs["NextToken"] = page["NextToken"]


def provision_for(settings: Settings, *, sqs_standins: bool = False, skip_missing: bool = False) -> ProvisionResult:
    """`provision` with everything taken from the settings (`omnitrack notify provision`, `omnitrack run`).

    `sqs_standins` adds the per-channel SQS queues of `standin_subscriptions`; only against an endpoint
    override (moto, LocalStack), never real AWS, where it would create queues nobody reads.
    """
    notify = NotifySettings(settings)
    policy = load_policy(notify.policy_file)
    session = notify.session()
    client = make_sns_client(notify.sns_endpoint_url, notify.region, notify.request_timeout_s, session=session)
    extra = None
    if sqs_standins:
        if notify.sns_endpoint_url is None:
            raise PolicyError("SQS stand-in subscribers are for a local endpoint, not real AWS")
        extra = standin_subscriptions(policy, session.client("sqs", endpoint_url=notify.sns_endpoint_url))
    return provision(policy, extra_subscriptions=extra, sns_client=client, skip_missing=skip_missing)


def describe(settings: Settings, result: ProvisionResult) -> list[str]:
    """Human-readable lines: each topic's ARN and the subscriptions it has now (what exists, not what changed)."""
    notify = NotifySettings(settings)
    sns_client = make_sns_client(notify.sns_endpoint_url, notify.region, notify.request_timeout_s,
                                 session=notify.session())
    lines = [f"SNS endpoint: {notify.sns_endpoint_url or 'AWS (boto3 default chain)'}"]
    for key, info in result.items():
        lines.append(f"{key}: {info['arn']}")
        for (protocol, endpoint), _arn in sorted(_existing(sns_client, info["arn"]).items()):
            lines.append(f"  {protocol:<12} {endpoint}")
        if info.get("skipped"):
            lines.append(f"  skipped (endpoint env var unset): {', '.join(info['skipped'])}")
    return lines
