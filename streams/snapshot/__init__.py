"""Snapshots of the engine's table changelogs to S3-compatible storage, and their restore (issue #14).

Why: Kafka (three replicas, min ISR 2) is the primary durable copy of every table; a snapshot in S3 covers the
loss of the whole Kafka cluster (or of a deployment's topics, deleted by mistake). A snapshot is the compacted
view of each changelog partition up to a recorded end offset; restoring re-produces it into the changelogs of an
empty cluster or prefix, and a Faust worker started afterwards rebuilds its tables from them as after any loss of
its local state. See docs/operations.md, "Snapshots to S3 (disaster recovery)".

Modules: `models` (manifest, line codec), `tables` (which changelogs), `store` (S3), `dump`, `restore`.
"""

from streams.snapshot.models import Manifest, SnapshotError

__all__ = ["Manifest", "SnapshotError"]
