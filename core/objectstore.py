"""The object store port's S3 implementation (MinIO, S3, any S3 API); the port is in core/ports.py.

Foreign errors stop here: a missing key is ``FileNotFoundError``, anything
else the storage does wrong is ``StorageUnavailable``.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.credentials.providers import IamAwsProvider, Provider, StaticProvider
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from config import Settings
from core.errors import StorageUnavailable
from core.ports import ObjectInfo, ObjectStore

_MISSING = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}

__all__ = ["ObjectInfo", "ObjectStore", "S3ObjectStore", "credentials_for"]


def credentials_for(settings: Settings) -> Provider:
    """Static keys when configured; else the AWS environment's: web identity (IRSA) through STS, or the ECS or
    EC2 role. The provider caches what it got and asks again shortly before it expires (minio renews 10 s
    ahead), so a pod's first call after that pays one STS round trip and no call fails for it. One provider
    serves both clients (calls and presigning): one STS exchange per renewal."""
    if settings.s3_access_key:
        return StaticProvider(settings.s3_access_key, settings.s3_secret_key)
    # With a web-identity token the custom endpoint is STS's (default: the region's); without one it would be
    # the instance metadata's, so it is given only with a token.
    web_identity = bool(os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE"))
    return IamAwsProvider(
        custom_endpoint=(settings.s3_sts_endpoint or None) if web_identity else None, region=settings.s3_region
    )


class S3ObjectStore:
    def __init__(self, settings: Settings, connections: int = 10) -> None:
        self.bucket = settings.s3_bucket
        # A silent storage host costs a call at most 3 attempts of these (core/timeouts.py): well inside a
        # step's time limit, so the step retries later instead of being killed while it waits.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=10),
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
            maxsize=connections,  # kept open for reuse; a thread pool's workers each hold one
        )
        common = dict(credentials=credentials_for(settings), secure=settings.s3_secure, region=settings.s3_region)
        self.client = Minio(settings.s3_endpoint, http_client=http, **common)  # type: ignore[arg-type]
        # Presigned URLs carry the host the client will call: the public endpoint.
        # With the region given, presigning needs no request to the storage.
        self.signer = Minio(settings.presign_endpoint, **common)  # type: ignore[arg-type]

    @contextmanager
    def _translated(self, key: str = "") -> Iterator[None]:
        try:
            yield
        except S3Error as exc:
            if exc.code in _MISSING:
                raise FileNotFoundError(f"No such key: {key!r}") from None
            raise StorageUnavailable(f"storage error {exc.code}: {exc.message}") from None
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(f"storage unreachable: {exc}") from None

    def ensure_bucket(self) -> None:
        with self._translated():
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

    def ping(self) -> None:
        with self._translated():
            if not self.client.bucket_exists(self.bucket):
                raise StorageUnavailable(f"bucket {self.bucket!r} does not exist")

    def head(self, key: str) -> ObjectInfo:
        with self._translated(key):
            stat = self.client.stat_object(self.bucket, key)
        return ObjectInfo(key=key, size=stat.size or 0, content_type=stat.content_type or "")

    def get(self, key: str, length: int | None = None) -> bytes:
        """The object's bytes, or only its first ``length`` bytes (a ranged GET)."""
        with self._translated(key):
            response = self.client.get_object(self.bucket, key, length=length or 0)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def read(self, key: str, max_bytes: int) -> tuple[ObjectInfo, bytes | None]:
        with self._translated(key):
            response = self.client.get_object(self.bucket, key)
            try:
                declared = response.headers.get("content-length", "")
                size = int(declared) if declared.isdigit() else None
                # A body declared larger than allowed is not read: the connection is dropped instead.
                data = None if size is not None and size > max_bytes else response.read()
                content_type = response.headers.get("content-type") or ""
            finally:
                response.close()
                response.release_conn()
        if data is not None:
            size = len(data)
        info = ObjectInfo(key=key, size=size or 0, content_type=content_type)
        return info, data if size is not None and size <= max_bytes else None

    def put(self, key: str, data: bytes, content_type: str, cache_control: str | None = None) -> None:
        metadata = {"Cache-Control": cache_control} if cache_control else None
        with self._translated(key):
            self.client.put_object(
                self.bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type=content_type,
                metadata=metadata,  # type: ignore[arg-type]
            )

    def copy(self, source_key: str, key: str) -> None:
        # Content type and cache headers travel with the object.
        with self._translated(source_key):
            self.client.copy_object(self.bucket, key, CopySource(self.bucket, source_key))

    def delete(self, keys: list[str]) -> None:
        """Delete these keys in one request (missing keys are not an error)."""
        with self._translated():
            errors = list(self.client.remove_objects(self.bucket, (DeleteObject(k) for k in keys)))
        if errors:
            raise StorageUnavailable(f"could not delete {len(errors)} objects: {errors[0].message}")

    def delete_prefix(self, prefix: str) -> int:
        with self._translated(prefix):
            keys = [o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)]
        self.delete([k for k in keys if k])
        return len(keys)

    def list(self, prefix: str, start_after: str = "", limit: int = 1000) -> list[ObjectInfo]:
        """One ListObjectsV2 page (up to 1000 keys) when ``limit`` is at most 1000."""
        with self._translated(prefix):
            listing = self.client.list_objects(self.bucket, prefix=prefix, recursive=True, start_after=start_after)
            found = []
            for obj in itertools.islice(listing, limit):
                if obj.object_name:
                    found.append(ObjectInfo(obj.object_name, obj.size or 0, obj.content_type or "", obj.last_modified))
        return found

    def presign_put(self, key: str, ttl: timedelta) -> str:
        return self.signer.presigned_put_object(self.bucket, key, expires=ttl)

    def presign_get(self, key: str, ttl: timedelta) -> str:
        return self.signer.presigned_get_object(self.bucket, key, expires=ttl)
