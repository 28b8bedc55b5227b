"""The S3 adapter against a real S3 server process over HTTP."""

from datetime import timedelta

import httpx
import pytest

from config import Settings
from core.errors import StorageUnavailable
from core.objectstore import S3ObjectStore
from tests.integration.conftest import S3Server
from tests.support.stack import free_port


@pytest.fixture(scope="module")
def store(s3_server: S3Server, settings: Settings) -> S3ObjectStore:
    s = S3ObjectStore(settings)
    s.ensure_bucket()
    s.ensure_bucket()  # a second start finds the bucket there
    return s


def test_put_head_get_and_a_copy_that_keeps_the_headers(store: S3ObjectStore) -> None:
    store.put("staging/t1/a.webp", b"RIFF....WEBP", "image/webp", "public, max-age=60")
    assert store.head("staging/t1/a.webp").size == 12
    store.copy("staging/t1/a.webp", "results/t1/a.webp")
    assert store.get("results/t1/a.webp") == b"RIFF....WEBP"
    response = httpx.get(store.presign_get("results/t1/a.webp", timedelta(minutes=1)))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["cache-control"] == "public, max-age=60"


def test_a_missing_key_is_file_not_found(store: S3ObjectStore) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        store.head("uploads/nope")
    with pytest.raises(FileNotFoundError):
        store.get("uploads/nope")


def test_a_presigned_put_accepts_the_bytes_and_a_tampered_one_is_refused(store: S3ObjectStore) -> None:
    url = store.presign_put("uploads/t2/a.jpg", timedelta(minutes=1))
    assert httpx.put(url, content=b"jpeg bytes", headers={"Content-Type": "image/jpeg"}).status_code == 200
    assert store.head("uploads/t2/a.jpg").content_type == "image/jpeg"
    tampered = url.replace("uploads/t2/a.jpg", "uploads/t2/b.jpg")
    assert httpx.put(tampered, content=b"other").status_code == 403


def test_delete_prefix_removes_only_that_prefix(store: S3ObjectStore) -> None:
    for key in ("staging/t3/a", "staging/t3/b/c", "staging/t33/a"):
        store.put(key, b"x", "application/octet-stream")
    assert store.delete_prefix("staging/t3/") == 2
    assert store.head("staging/t33/a").size == 1
    with pytest.raises(FileNotFoundError):
        store.head("staging/t3/a")


def test_storage_down_is_storage_unavailable(settings: Settings) -> None:
    down = S3ObjectStore(settings.model_copy(update={"s3_endpoint": f"127.0.0.1:{free_port()}"}))
    with pytest.raises(StorageUnavailable):
        down.head("uploads/x")
    with pytest.raises(StorageUnavailable):
        down.ping()


def test_a_missing_bucket_is_storage_unavailable_not_a_missing_key(settings: Settings, s3_server: S3Server) -> None:
    absent = S3ObjectStore(settings.model_copy(update={"s3_bucket": "pixelflow-absent"}))
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        absent.get("uploads/x")
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        absent.read("uploads/x", 10)
    with pytest.raises(StorageUnavailable, match="NoSuchBucket"):
        absent.put("uploads/x", b"x", "text/plain")


def test_a_ranged_get_reads_only_the_first_bytes(store: S3ObjectStore) -> None:
    store.put("staging/t4/source", bytes(range(256)) * 4, "application/octet-stream")
    assert store.get("staging/t4/source", 10) == bytes(range(10))
    assert len(store.get("staging/t4/source")) == 1024


def test_read_tells_the_size_and_type_and_reads_only_what_is_within_the_limit(store: S3ObjectStore) -> None:
    store.put("staging/t6/source", bytes(range(256)) * 4, "image/png")
    info, data = store.read("staging/t6/source", 1024)
    assert (info.size, info.content_type, data) == (1024, "image/png", bytes(range(256)) * 4)
    info, data = store.read("staging/t6/source", 1023)
    assert (info.size, info.content_type, data) == (1024, "image/png", None)
    assert store.get("staging/t6/source", 4) == bytes(range(4))  # the unread body's connection is not reused
    with pytest.raises(FileNotFoundError):
        store.read("staging/t6/never", 10)


def test_delete_takes_many_keys_at_once_and_ignores_missing_ones(store: S3ObjectStore) -> None:
    for key in ("staging/t5/a", "staging/t5/b"):
        store.put(key, b"x", "application/octet-stream")
    store.delete(["staging/t5/a", "staging/t5/b", "staging/t5/never"])
    for key in ("staging/t5/a", "staging/t5/b"):
        with pytest.raises(FileNotFoundError):
            store.head(key)


def test_a_process_forked_after_the_fast_client_ran_makes_its_calls_with_minio(store: S3ObjectStore) -> None:
    # obstore's runtime threads do not survive a fork: a child that called it would hang on its first call.
    import multiprocessing

    from core import objectstore

    store.put("staging/t7/parent", b"from the parent", "text/plain")  # this process has run obstore now
    assert objectstore._obstore_here()

    def child(out: "multiprocessing.Queue[object]") -> None:
        try:
            store.put("staging/t7/child", b"from the child", "text/plain", "max-age=60")
            info = store.head("staging/t7/child")
            out.put((objectstore._obstore_here(), store.get("staging/t7/parent"), info.size, info.content_type))
        except BaseException as exc:  # the parent reports it
            out.put(repr(exc))

    results: multiprocessing.Queue[object] = multiprocessing.get_context("fork").Queue()
    process = multiprocessing.get_context("fork").Process(target=child, args=(results,))
    process.start()
    process.join(20)
    alive = process.is_alive()
    process.kill()
    assert not alive, "the forked child hung on a storage call"
    assert results.get(timeout=5) == (False, b"from the parent", len(b"from the child"), "text/plain")
    assert store.get("staging/t7/child") == b"from the child"  # and this process goes on with obstore
