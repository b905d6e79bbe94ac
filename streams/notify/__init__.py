"""Multi-channel alert delivery: `alerts` topic -> Amazon SNS (email, SMS, push, chat relays) and chat webhooks.

Modules: `policy` (routing YAML), `gates` (quiet hours, rate limits), `messages` (SNS bodies + attributes),
`webhooks` (Slack / Teams), `sns` (PublishBatch), `retry`, `notifier` (the delivery logic), `app`/`worker`
(Faust process), `provision` (SNS topics + subscriptions), `replay` (DLQ), `metrics`, `bench` lives in
`bench/notify.py`.
"""

from streams.notify.errors import NotifyError, PermanentDeliveryError, PolicyError, RetryableDeliveryError
from streams.notify.policy import RoutingPolicy, load_policy

__all__ = [
    "NotifyError",
    "PolicyError",
    "RetryableDeliveryError",
    "PermanentDeliveryError",
    "RoutingPolicy",
    "load_policy",
]
