"""The object store port's S3 implementation (MinIO, S3, any S3 API); the port is in core/ports.py.

Foreign errors stop here: a missing key is ``FileNotFoundError``, anything
else the storage does wrong is ``StorageUnavailable``.

The calls a job makes (head, get, read, put) go through obstore, object_store's
Rust client: a third of minio's CPU for a PUT, two thirds for a GET, and the GIL
released while it sends and reads. The rest (buckets, copies, deletes, listings,
presigned URLs) stays on minio. obstore's runtime does not survive a fork: a
process forked after its parent made an obstore call would hang on its first
one, so such a process makes those calls with minio instead (``_obstore_here``).
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from typing import Any

import obstore
import urllib3
from minio import Minio
from minio.commonconfig import CopySource
from minio.credentials.providers import IamAwsProvider, Provider, StaticProvider
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error
from obstore.exceptions import BaseError as ObstoreError
from obstore.store import S3Store
from opentelemetry import trace

from config import Settings
from core.errors import StorageUnavailable
from core.ports import ObjectInfo, ObjectStore
from core.tracing import TRACER

_MISSING = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}
# The process that started obstore's runtime (its threads do not survive a fork).
_runtime_pid: int | None = None
# minio renews credentials this long before they expire; obstore is told they expire then.
_RENEW_AHEAD = timedelta(seconds=10)


def _obstore_here() -> bool:
    """True when obstore may be called in this process: it started the runtime, or no ancestor did."""
    global _runtime_pid
    if _runtime_pid is None:
        _runtime_pid = os.getpid()
    return _runtime_pid == os.getpid()


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


def _obstore_credentials(settings: Settings, provider: Provider) -> dict[str, Any]:
    """Static keys as they are; else minio's provider, so that one exchange with STS serves every client."""
    if settings.s3_access_key:
        return {"access_key_id": settings.s3_access_key, "secret_access_key": settings.s3_secret_key}

    def current() -> dict[str, Any]:
        creds = provider.retrieve()
        expires = creds.expiration.replace(tzinfo=UTC) - _RENEW_AHEAD if creds.expiration else None
        return {
            "access_key_id": creds.access_key,
            "secret_access_key": creds.secret_key,
            "token": creds.session_token,
            "expires_at": expires,
        }

    return {"credential_provider": current}


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
        endpoint = f"{'https' if settings.s3_secure else 'http'}://{settings.s3_endpoint}"
        self.url = f"{endpoint}/{self.bucket}"  # an object's URL in its span: this, /, its key
        # The same bounds as minio's pool: 3 s to connect, 10 s between reads, 2 retries 0.2 s apart and up; and a
        # whole call within 60 s (a 50 MB source needs 0.9 MB/s), no retry begun past 40 s: inside a step's 120 s.
        # Path-style URLs, as minio uses them for every host but AWS's (where they work too).
        self.fast = S3Store(
            self.bucket,
            endpoint=endpoint,
            region=settings.s3_region,
            client_options={
                "allow_http": not settings.s3_secure,
                "connect_timeout": timedelta(seconds=3),
                "read_timeout": timedelta(seconds=10),
                "timeout": timedelta(seconds=60),
                "pool_idle_timeout": timedelta(seconds=30),
            },
            retry_config={
                "max_retries": 2,
                "backoff": {"init_backoff": timedelta(seconds=0.2), "max_backoff": timedelta(seconds=2)},
                "retry_timeout": timedelta(seconds=40),
            },
            **_obstore_credentials(settings, common["credentials"]),  # type: ignore[arg-type]
        )

    @contextmanager
    def _translated(self, key: str = "") -> Iterator[None]:
        try:
            yield
        except S3Error as exc:
            if exc.code in _MISSING:
                raise FileNotFoundError(f"No such key: {key!r}") from None
            raise StorageUnavailable(f"storage error {exc.code}: {exc.message}") from None
        except FileNotFoundError as exc:  # obstore's 404; a missing bucket is the storage's fault, not the key's
            if "NoSuchBucket" in str(exc):
                raise StorageUnavailable(f"storage error NoSuchBucket: no bucket {self.bucket!r}") from None
            raise FileNotFoundError(f"No such key: {key!r}") from None
        except ObstoreError as exc:
            raise StorageUnavailable(f"storage error: {str(exc).splitlines()[0]}") from None
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageUnavailable(f"storage unreachable: {exc}") from None

    @contextmanager
    def _call(self, method: str, key: str) -> Iterator[None]:
        """An obstore call: its errors translated, and a client span as urllib3's instrumentation makes for minio."""
        with (
            trace.get_tracer(TRACER).start_as_current_span(
                method,
                kind=trace.SpanKind.CLIENT,
                attributes={"http.request.method": method, "url.full": f"{self.url}/{key}"},
            ),
            self._translated(key),
        ):
            yield

    def ensure_bucket(self) -> None:
        with self._translated():
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

    def ping(self) -> None:
        with self._translated():
            if not self.client.bucket_exists(self.bucket):
                raise StorageUnavailable(f"bucket {self.bucket!r} does not exist")

    def head(self, key: str) -> ObjectInfo:
        if _obstore_here():
            with self._call("HEAD", key):
                found = obstore.get(self.fast, key, options={"head": True})
            return ObjectInfo(key=key, size=found.meta["size"], content_type=_content_type(found.attributes))
        with self._translated(key):
            stat = self.client.stat_object(self.bucket, key)
        return ObjectInfo(key=key, size=stat.size or 0, content_type=stat.content_type or "")

    def get(self, key: str, length: int | None = None) -> bytes:
        """The object's bytes, or only its first ``length`` bytes (a ranged GET)."""
        if _obstore_here():
            with self._call("GET", key):
                return bytes(obstore.get(self.fast, key, options={"range": (0, length)} if length else None).bytes())
        with self._translated(key):
            response = self.client.get_object(self.bucket, key, length=length or 0)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def read(self, key: str, max_bytes: int) -> tuple[ObjectInfo, bytes | None]:
        if _obstore_here():
            with self._call("GET", key):
                found = obstore.get(self.fast, key)
                total = found.meta["size"]
                # A body declared larger than allowed is not read: the connection is dropped instead.
                body = bytes(found.bytes()) if total <= max_bytes else None
            return ObjectInfo(key=key, size=total, content_type=_content_type(found.attributes)), body
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
        if _obstore_here():
            attributes = {"Content-Type": content_type} | ({"Cache-Control": cache_control} if cache_control else {})
            with self._call("PUT", key):
                obstore.put(self.fast, key, data, attributes=attributes)
            return
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


def _content_type(attributes: Any) -> str:
    return str(attributes.get("Content-Type") or "")
