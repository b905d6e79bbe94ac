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

from streams.notify.errors import PolicyError
from streams.notify.policy import RoutingPolicy, Subscription
from streams.notify.sns import make_sns_client

__all__ = ["ProvisionResult", "filter_policy_for", "provision"]

ProvisionResult = dict[str, dict[str, Any]]
"""topic key -> {"arn": topic ARN, "subscriptions": [subscription ARN, ...]}"""


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
              sns_client: Any = None) -> ProvisionResult:
    """Create (or find) every topic and subscription of `policy`; returns their ARNs.

    `extra_subscriptions` (topic key -> subscriptions) adds subscribers not in the file, e.g. the SQS queues
    tests and staging use in place of phones and inboxes. SQS subscribers need a queue policy allowing
    sns.amazonaws.com to send; that is the queue owner's job (moto does not enforce it).
    """
    env = environ if environ is not None else os.environ
    client = sns_client or make_sns_client(endpoint_url, region, session=session)
    out: ProvisionResult = {}
    for key, topic in policy.topics.items():
        arn = client.create_topic(Name=topic.name)["TopicArn"]
        subs = list(topic.subscriptions) + list((extra_subscriptions or {}).get(key, []))
        existing = _existing(client, arn)
        arns = []
        for sub in subs:
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
