"""Traces with OpenTelemetry: one trace per job, from the POST through the outbox and the relay to every step.

Off unless an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, OTLP over HTTP); the standard
``OTEL_*`` variables configure the rest: ``OTEL_SERVICE_NAME``,
``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` with ``OTEL_TRACES_SAMPLER_ARG``
(the ratio), ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SDK_DISABLED``.

The context travels in the job's outbox row (W3C ``traceparent``, written by
the statement that creates the job) and, from the relay on, in each Celery
message's headers. Spans: the API's requests (Flask), PostgreSQL statements
(psycopg), storage calls (core/objectstore.py's own for reads and writes,
urllib3's under minio for the rest), the URL fetch and the webhook call
(httpx), each publish and each step run (Celery), the relay's publish.
Attributes name the job, tenant, step, outputs, source pixels and bytes;
URLs lose their query string (a signed URL's signature, a webhook's token)
and SQL carries placeholders, never values.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.propagate import extract, inject

log = logging.getLogger(__name__)
TRACER = "pixelflow"
_provider: Any = None
# The attributes an instrumentation may fill with a whole URL.
_URL_ATTRIBUTES = ("url.full", "http.url")


def enabled() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def start(service: str) -> bool:
    """Export this process's spans (once per process; after a fork, again in the child). False when off."""
    global _provider
    if _provider is not None or not enabled():
        return _provider is not None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; the role is the default name.
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER, parent-based by default
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    PsycopgInstrumentor().instrument(enable_commenter=False, skip_dep_check=True)
    HTTPXClientInstrumentor().instrument(request_hook=_without_query, async_request_hook=None)
    URLLib3Instrumentor().instrument(request_hook=_without_query)
    CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]
    log.info("traces exported over OTLP as %s", resource.attributes.get("service.name"))
    return True


def instrument_app(app: Any) -> None:
    """The API's requests, but not its probes and scrapes."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor().instrument_app(app, excluded_urls="healthz,readyz,metrics")  # type: ignore[no-untyped-call]


def flush() -> None:
    """Export what is buffered: before a process (a pool child) ends."""
    if _provider is not None:
        _provider.force_flush(5000)


def _without_query(span: Any, *call: Any) -> None:
    """A request hook (httpx: the request; urllib3: the pool, then the request): the URL without its query."""
    if not span.is_recording():
        return
    url = next((str(part.url) for part in call if getattr(part, "url", None)), "")
    if url:
        parts = urlsplit(url)
        for name in _URL_ATTRIBUTES:
            span.set_attribute(name, urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))


def carrier() -> str | None:
    """The current context as a W3C traceparent, to store beside work that another process picks up."""
    headers: dict[str, str] = {}
    inject(headers)
    return headers.get("traceparent")


@contextmanager
def continued(traceparent: str | None, name: str, **attributes: Any) -> Iterator[None]:
    """A span named ``name``, child of the stored ``traceparent`` (a new trace without one)."""
    parent = extract({"traceparent": traceparent}) if traceparent else None
    token = context_api.attach(parent) if parent is not None else None
    try:
        with trace.get_tracer(TRACER).start_as_current_span(name, kind=trace.SpanKind.PRODUCER) as span:
            annotate(span, **attributes)
            yield
    finally:
        if token is not None:
            context_api.detach(token)


@contextmanager
def span(name: str) -> Iterator[None]:
    """A span named ``name``, child of the current one."""
    with trace.get_tracer(TRACER).start_as_current_span(name):
        yield


def annotate(span: Any = None, **attributes: Any) -> None:
    """Set ``pixelflow.<name>`` attributes on the span (the current one by default); None values are skipped."""
    span = span or trace.get_current_span()
    if span.is_recording():
        for name, value in attributes.items():
            if value is not None:
                span.set_attribute(f"pixelflow.{name}", value if isinstance(value, int | float | bool) else str(value))


def trace_id() -> str:
    """The current trace's id (32 hex digits), or "-" outside one: for log lines."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else "-"
