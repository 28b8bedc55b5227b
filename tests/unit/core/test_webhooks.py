import base64
import uuid
from datetime import UTC, datetime

import pytest

from config.settings import Settings
from core import webhooks

OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()


def test_a_signature_verifies_with_its_secret_only() -> None:
    header = webhooks.sign([NEW], "msg_1", 1700000000, b'{"a":1}')
    assert header.startswith("v1,")
    assert webhooks.verify(NEW, "msg_1", 1700000000, b'{"a":1}', header)
    assert not webhooks.verify(OLD, "msg_1", 1700000000, b'{"a":1}', header)
    assert not webhooks.verify(NEW, "msg_1", 1700000001, b'{"a":1}', header)


def test_during_rotation_both_secrets_sign_so_either_receiver_verifies() -> None:
    header = webhooks.sign([NEW, OLD], "msg_2", 1700000000, b"{}")
    assert len(header.split(" ")) == 2
    assert webhooks.verify(OLD, "msg_2", 1700000000, b"{}", header)
    assert webhooks.verify(NEW, "msg_2", 1700000000, b"{}", header)


def test_the_message_id_is_stable_for_one_end_of_a_job_and_new_for_the_next() -> None:
    job = uuid.uuid4()
    ended = datetime(2026, 11, 22, tzinfo=UTC)
    assert webhooks.message_id(job, ended) == webhooks.message_id(job, ended)
    assert webhooks.message_id(job, ended) != webhooks.message_id(job, datetime(2026, 11, 23, tzinfo=UTC))


def test_secrets_must_be_whsec_base64_of_enough_bytes() -> None:
    from pydantic import ValidationError

    assert Settings(webhook_secrets=[NEW]).webhook_secrets == [NEW]
    with pytest.raises(ValidationError):
        Settings(webhook_secrets=["whsec_" + base64.b64encode(b"short").decode()])
    with pytest.raises(ValidationError):
        Settings(webhook_secrets=["whsec_not base64!"])
