"""What `omnitrack run` prepares before the engine's processes start: the console link with a ready token, the
local SNS topics, and the Kafka topics, created and served.

WHY a module of its own: these are the run command's set-up steps, each importing the upper floors (`streams`),
kept out of the CLI's argument handling so that `omnitrack/cli.py` stays a table of commands.
"""

from __future__ import annotations

import os
import sys

from omnitrack.settings import Settings

__all__ = ["CONSOLE_TOKEN_TTL_S", "console_line", "create_topics", "provision_local_sns"]


CONSOLE_TOKEN_TTL_S = 12 * 3600
"""Lifetime of the operator token in `omnitrack run`'s console link: a working day, then `omnitrack api token`."""


def console_line(settings: Settings, api_url: str) -> str:
    """The console's address with a ready operator token in its fragment, when the API runs on the development
    key (a local stack); with a configured key or identity provider, how to get a token instead."""
    from streams.api.auth import Role, mint_token
    from streams.api.keys import api_process_env, signing_secret

    if not api_process_env(settings):  # a key from the environment: not ours to hand out
        return f"Console (token) : {api_url}/console/  (sign in with your identity provider's token; docs/api.md)"
    secret, algorithm = signing_secret(settings)
    token = mint_token(secret, sub=os.environ.get("USER") or "operator", roles=[Role.operator],
                       ttl_s=CONSOLE_TOKEN_TTL_S, audience=settings.api_jwt_audience,
                       issuer=settings.api_jwt_issuer, algorithm=algorithm)
    return (f"Console (token) : {api_url}/console/#token={token}\n"
            f"                  (operator, {CONSOLE_TOKEN_TTL_S // 3600} h; "
            "another: `omnitrack api token --role viewer`)")


def create_topics(settings: Settings) -> None:
    """Create the engine's topics, and wait until the broker serves them, before any process starts. WHY: each
    process creates what it lacks, but then the others (the API, the decider) start consuming topics created a
    moment ago by another and log the broker's first refusals as errors; created here, every process finds them
    ready."""
    import asyncio

    from streams.admin import ensure_topics
    from streams.topics import topics_for

    asyncio.run(ensure_topics(settings.bootstrap, topics_for(settings)))


def provision_local_sns(settings: Settings) -> None:
    """Create the policy's SNS topics (and per-channel SQS stand-ins) on a local endpoint before the notifier
    starts, so a newcomer's first alerts reach SNS and can be read back. Real AWS is never provisioned
    implicitly: that is `omnitrack notify provision`, run on purpose. A failure is reported, not fatal: the
    notifier still runs and dead-letters what it cannot deliver."""
    from omnitrack.settings import is_loopback_url
    from streams.notify.provision import describe, provision_for

    if not is_loopback_url(settings.sns_endpoint):
        return
    try:
        result = provision_for(settings, sqs_standins=True, skip_missing=True)
        print("\n".join(["SNS topics (local):", *describe(settings, result)]), flush=True)
    except Exception as exc:  # noqa: BLE001 - the engine runs without SNS topics; the notifier dead-letters
        print(f"omnitrack run: provisioning the local SNS topics failed: {exc}", file=sys.stderr, flush=True)
