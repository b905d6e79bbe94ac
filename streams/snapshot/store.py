"""The S3 side of snapshots: one bucket, objects under `<key prefix>/<snapshot id>/`, through boto3.

Why plain boto3 calls and whole objects: a partition's compacted view is small (hundreds of bytes per device,
gzipped), so a put per partition is simpler than multipart streaming and S3's PUT is atomic per object. The
same code talks to moto's S3 on the local stack and to Amazon S3 (or any S3-compatible store): only the
endpoint differs (`Settings.snapshot_endpoint`). Local endpoints get dummy credentials, real AWS boto3's chain.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from omnitrack.settings import Settings
from streams.notify.settings import sns_session
from streams.snapshot.models import Manifest, SnapshotError

MANIFEST = "manifest.json"


class SnapshotStore:
    """Snapshots in one bucket under one key prefix."""

    def __init__(self, bucket: str, key_prefix: str, endpoint_url: str | None, client: Any | None = None) -> None:
        self.bucket, self.key_prefix = bucket, key_prefix.strip("/")
        self.endpoint_url = endpoint_url
        # path-style: a loopback endpoint (moto) has no DNS for `<bucket>.127.0.0.1`
        self.client = client or sns_session(endpoint_url).client(
            "s3", endpoint_url=endpoint_url,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 8, "mode": "standard"}))

    @classmethod
    def from_settings(cls, settings: Settings) -> "SnapshotStore":
        return cls(settings.snapshot_bucket, settings.snapshot_prefix, settings.snapshot_endpoint)

    def key(self, snapshot_id: str, name: str) -> str:
        return f"{self.key_prefix}/{snapshot_id}/{name}" if self.key_prefix else f"{snapshot_id}/{name}"

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (moto starts empty; on AWS it is usually made by IaC)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise SnapshotError(f"bucket {self.bucket!r}: {exc}") from exc
        region = self.client.meta.region_name
        extra = {} if region in (None, "us-east-1") else {
            "CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise SnapshotError(f"cannot create bucket {self.bucket!r}: {exc}") from exc

    def put(self, key: str, body: bytes, content_type: str = "application/gzip") -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            raise SnapshotError(f"s3://{self.bucket}/{key}: {exc}") from exc

    def put_manifest(self, manifest: Manifest) -> str:
        key = self.key(manifest.id, MANIFEST)
        self.put(key, manifest.model_dump_json(indent=1).encode(), content_type="application/json")
        return key

    def manifest(self, snapshot_id: str) -> Manifest:
        return Manifest.model_validate_json(self.get(self.key(snapshot_id, MANIFEST)))

    def ids(self) -> list[str]:
        """Ids of the complete snapshots (those with a manifest), oldest first."""
        prefix = f"{self.key_prefix}/" if self.key_prefix else ""
        found: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                    Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", ()):
                    found.append(common["Prefix"][len(prefix):].rstrip("/"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                return []
            raise
        return sorted(i for i in found if self._exists(self.key(i, MANIFEST)))

    def manifests(self) -> list[Manifest]:
        return [self.manifest(i) for i in self.ids()]

    def latest(self, source_prefix: str | None = None) -> Manifest:
        """The newest complete snapshot, of `source_prefix`'s deployment if given."""
        for snapshot_id in reversed(self.ids()):
            manifest = self.manifest(snapshot_id)
            if source_prefix is None or manifest.source_prefix == source_prefix:
                return manifest
        where = f" of prefix {source_prefix!r}" if source_prefix is not None else ""
        raise SnapshotError(f"no snapshot{where} in s3://{self.bucket}/{self.key_prefix}")

    def delete(self, snapshot_id: str) -> int:
        """Delete one snapshot's objects, the manifest first (so a half-deleted snapshot is never listed)."""
        manifest_key = self.key(snapshot_id, MANIFEST)
        self.client.delete_object(Bucket=self.bucket, Key=manifest_key)
        keys = [o["Key"] for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.key(snapshot_id, "")) for o in page.get("Contents", ())]
        for start in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})
        return len(keys) + 1

    def prune(self, keep: int, source_prefix: str) -> list[str]:
        """Delete all but the newest `keep` snapshots of one deployment; returns the ids deleted.

        The newest snapshot that holds any key is always kept: after a cluster loss, periodic snapshots of the
        new, still empty changelogs must not push the last real state out of the bucket."""
        if keep <= 0:
            return []
        doomed = prunable(self.manifests(), keep, source_prefix)
        for snapshot_id in doomed:
            self.delete(snapshot_id)
        return doomed

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError:
            return False


def prunable(manifests: list[Manifest], keep: int, source_prefix: str) -> list[str]:
    """Ids to delete so that `keep` snapshots of `source_prefix` remain (oldest first in, oldest deleted), never
    the newest one that holds keys; `keep` 0 deletes nothing."""
    if keep <= 0:
        return []
    mine = sorted((m for m in manifests if m.source_prefix == source_prefix), key=lambda m: m.id)
    last_real = next((m.id for m in reversed(mine) if m.keys), None)
    return [m.id for m in mine[:-keep] if m.id != last_real]
