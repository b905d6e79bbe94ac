"""KRaft cluster ids must never look like command-line options to the storage tool."""

from __future__ import annotations

import base64
import uuid
from unittest import mock

from omnitrack.stack.kafka import _cluster_id


def test_cluster_id_never_starts_with_a_dash() -> None:
    dash = base64.urlsafe_b64decode("-" + "A" * 21 + "==")  # an id that would start with '-'
    draws = iter([uuid.UUID(bytes=dash), uuid.UUID(bytes=dash), uuid.UUID(int=12345)])
    with mock.patch("omnitrack.stack.kafka.uuid.uuid4", side_effect=lambda: next(draws)):
        cluster_id = _cluster_id()
    assert not cluster_id.startswith("-") and len(cluster_id) == 22
    assert all(not _cluster_id().startswith("-") for _ in range(2000))
