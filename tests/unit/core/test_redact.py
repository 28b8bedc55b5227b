import logging

import pytest

from config import Settings
from core import redact
from core.redact import MASK, Redactor

SECRET = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMy"


def test_secret_shapes_are_masked_wherever_they_appear() -> None:
    r = Redactor()
    assert r.text("Authorization: Bearer pf_abcdefghijklmnop") == f"Authorization: Bearer {MASK}"
    assert r.text("key pf_abcdefghijklmnop_QRS-tuv revoked") == f"key pf_{MASK} revoked"
    assert r.text(f"signing with {SECRET}.") == f"signing with whsec_{MASK}."
    url = "http://s3:9000/b/k.png?X-Amz-Algorithm=AWS4&X-Amz-Credential=AK%2F1&X-Amz-Signature=abc123&x=1"
    assert (
        r.text(url) == f"http://s3:9000/b/k.png?X-Amz-Algorithm=AWS4&X-Amz-Credential={MASK}&X-Amz-Signature={MASK}&x=1"
    )
    assert r.text("postgresql://app:s3cr3t@db:5432/x and amqp://u:p%40ss@mq//") == (
        f"postgresql://app:{MASK}@db:5432/x and amqp://u:{MASK}@mq//"
    )
    assert r.text("http://example.com/a.jpg?w=1") == "http://example.com/a.jpg?w=1"


def test_configured_secret_values_are_masked_even_without_their_shape() -> None:
    settings = Settings(
        s3_secret_key="plain-storage-secret",
        database_url="postgresql://app:db-password-1@db/x",
        webhook_secrets=[SECRET],
    )
    r = Redactor.for_settings(settings)
    assert (
        r.text("auth with plain-storage-secret failed; db-password-1 rejected")
        == f"auth with {MASK} failed; {MASK} rejected"
    )
    assert r.event({"a": ["x plain-storage-secret", {"b": ("db-password-1",)}], "n": 3}) == {
        "a": [f"x {MASK}", {"b": [MASK]}],
        "n": 3,
    }


def test_every_log_record_is_redacted_message_arguments_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    redact.install(Settings(s3_secret_key="plain-storage-secret"))
    log = logging.getLogger("pixelflow.test")
    with caplog.at_level(logging.INFO):
        log.info("calling %s with %s", "http://u:pw123456@h/", "plain-storage-secret")
        try:
            raise RuntimeError(f"refused {SECRET}")
        except RuntimeError:
            log.exception("step crashed")
    text = caplog.text
    assert "pw123456" not in text and "plain-storage-secret" not in text and SECRET not in text
    assert f"http://u:{MASK}@h/" in text and f"refused whsec_{MASK}" in text and "Traceback" in text
