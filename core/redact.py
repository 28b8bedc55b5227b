"""Keep secrets out of logs, error messages and Sentry events.

Two nets: the configured secret values themselves (webhook secrets, the S3
secret key, passwords in the database/broker/Redis URLs), and the shapes of
secrets that are not configuration (API keys ``pf_...``, Bearer tokens,
``whsec_`` secrets, presigned URL signatures, passwords in any URL).

``install(settings)`` applies both to every log record made in the process
(message, arguments and traceback) and, when PIXELFLOW_SENTRY_DSN is set,
to every Sentry event before it is sent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from config import Settings

MASK = "[redacted]"

_SHAPES = [
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + MASK),
    (re.compile(r"\bpf_[A-Za-z0-9_-]{8,}"), "pf_" + MASK),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_" + MASK),
    (re.compile(r"(?i)\b(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s\"'<>]+"), r"\1" + MASK),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s\"']+:)[^@/\s\"']+@"), r"\1" + MASK + "@"),
]


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so that a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    @classmethod
    def for_settings(cls, settings: Settings) -> Redactor:
        values = [*settings.webhook_secrets, settings.s3_secret_key, settings.sentry_dsn or ""]
        # The broker URL may name every node of a cluster, separated by ";" (kombu fails over along them).
        for url in (settings.database_url, *settings.broker_url.split(";"), settings.redis_url):
            password = urlsplit(url).password
            if password:
                values += [password, unquote(password)]
        return cls(values)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        for pattern, replacement in _SHAPES:
            value = pattern.sub(replacement, value)
        return value

    def event(self, value: Any) -> Any:
        """A Sentry event (or any JSON-like value) with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.event(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.event(v) for v in value]
        return value


_installed: Redactor | None = None
_shapes_only = Redactor()


def scrub(value: str) -> str:
    """A message about to be stored or shown (a job's error, a delivery's error), redacted."""
    return (_installed or _shapes_only).text(value)


def install(settings: Settings) -> Redactor:
    """Redact every log record of this process from now on; start Sentry if it is configured."""
    global _installed
    redactor = Redactor.for_settings(settings)
    if _installed is None:
        base = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = base(*args, **kwargs)
            current = _installed
            if current is not None:
                try:
                    record.msg, record.args = current.text(record.getMessage()), None
                except (TypeError, ValueError):  # a bad format string: logging reports it as usual
                    return record
                if record.exc_info and record.exc_info[1] is not None:
                    record.exc_text = current.text(logging.Formatter().formatException(record.exc_info))
            return record

        logging.setLogRecordFactory(factory)
    _installed = redactor
    if settings.sentry_dsn:
        _init_sentry(settings, redactor)
    return redactor


def _init_sentry(settings: Settings, redactor: Redactor) -> None:
    import sentry_sdk

    def redacted(event: Any, hint: Any) -> Any:
        return redactor.event(event)

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        send_default_pii=False,  # no cookies, no user IPs, sensitive headers filtered
        before_send=redacted,
        before_send_transaction=redacted,
        before_breadcrumb=lambda crumb, hint: redactor.event(crumb),
        traces_sample_rate=settings.sentry_traces_sample_rate,
    )
