"""Storage without stored keys: web identity (EKS IRSA) exchanged with STS, against a local STS stand-in.

The stand-in speaks STS's protocol (AssumeRoleWithWebIdentity, query parameters on a POST, the 2011-06-15 XML
answer) and hands out the S3 server's own keys as the session's credentials, with a session token and an
expiry; the S3 server checks every signature, so a request signed with anything else fails.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from config import Settings
from core.objectstore import S3ObjectStore
from tests.support.stack import S3Server
from tests.support.sts import ROLE, STS, TOKEN


@pytest.fixture()
def sts(settings: Settings, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[STS]:
    # 12 s of life: minio renews 10 s before expiry, so a call 3 s later already asks again.
    server = STS(settings.s3_access_key, settings.s3_secret_key, timedelta(seconds=12))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = tmp_path / "token"
    token.write_text(TOKEN)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "pixelflow-test")
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_without_keys_storage_is_reached_with_web_identity_credentials_renewed_before_they_expire(
    settings: Settings, sts: STS
) -> None:
    keyless = settings.model_copy(update={"s3_access_key": "", "s3_secret_key": "", "s3_sts_endpoint": sts.url})
    store = S3ObjectStore(keyless)
    store.ensure_bucket()
    key = f"uploads/irsa/{uuid.uuid4()}.bin"
    store.put(key, b"signed with the session's credentials", "application/octet-stream")
    assert store.get(key) == b"signed with the session's credentials"
    # One exchange for both clients (calls and presigning), with the token, the role and the session name.
    [call] = sts.calls
    assert (call["Action"], call["Version"], call["RoleArn"], call["RoleSessionName"]) == (
        "AssumeRoleWithWebIdentity",
        "2011-06-15",
        ROLE,
        "pixelflow-test",
    )
    # A presigned URL carries the session token; the S3 server takes it.
    url = store.presign_get(key, timedelta(minutes=5))
    assert "X-Amz-Security-Token=session-1" in url
    assert httpx.get(url).content == b"signed with the session's credentials"
    # Past the renewal point the next call exchanges the token again first, and does not fail.
    threading.Event().wait(3)
    assert store.head(key).size == len(b"signed with the session's credentials")
    assert len(sts.calls) == 2
    store.delete([key])


def test_with_keys_no_token_is_exchanged_and_half_a_pair_is_refused(settings: Settings, sts: STS) -> None:
    from config.settings import SettingsError, load_settings

    S3ObjectStore(settings).ensure_bucket()
    assert sts.calls == []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXELFLOW_S3_SECRET_KEY", "")
        with pytest.raises(SettingsError, match="go together"):
            load_settings()
