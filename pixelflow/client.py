"""A typed client of PixelFlow's HTTP API, on httpx: uploads, jobs, batches and their event streams.

    from pixelflow.client import Client

    with Client() as pf:                      # PIXELFLOW_URL and PIXELFLOW_API_KEY, or the config file
        key = pf.upload("shoe.jpg")
        batch = pf.create_batch([{"source": {"key": key}}], presets=["thumbnails"])
        for event in pf.batch_events(batch["id"]):
            print(event.event, event.data)

Where the endpoint and key come from, first found first: the arguments; the
environment (PIXELFLOW_URL, PIXELFLOW_API_KEY); the config file
(PIXELFLOW_CONFIG, else ``$XDG_CONFIG_HOME/pixelflow/config.toml``), its
``[default]`` table or the one PIXELFLOW_PROFILE names::

    [default]
    url = "https://images.example.com"
    api_key = "pf_…"

An error answer raises ``ApiError`` with the API's stable ``code``. An answer of 429 (over a
rate limit) or 503 (the API or the storage unavailable for now) is sent again, after the
Retry-After it gives or else a growing wait, a bounded number of times: a folder of more
images than a minute's uploads allow goes through at the limit's pace instead of failing.
"""

from __future__ import annotations

import json
import mimetypes
import os
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import connect_sse
from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_attempt, stop_after_delay
from tenacity.wait import wait_exponential_jitter

DEFAULT_URL = "http://127.0.0.1:8080"
ENDED = ("succeeded", "failed", "canceled")
AGAIN = (429, 503)  # refused before anything was done: safe to send again, even a POST


class ApiError(Exception):
    """An answer of 4xx or 5xx: its HTTP status and the API's error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Event:
    """One event of a stream: its name, its data (parsed JSON) and its id (to resume after)."""

    event: str
    data: dict[str, Any]
    id: str | None


def retry_after(state: RetryCallState) -> float:
    """The wait before sending again: the answer's Retry-After (seconds, at most a minute), else exponential."""
    outcome = state.outcome
    response = outcome.result() if outcome is not None and not outcome.failed else None
    header = response.headers.get("Retry-After", "") if response is not None else ""
    if header.isdigit():
        return min(float(header), 60.0) + 0.05 * state.attempt_number
    return float(wait_exponential_jitter(initial=0.5, max=10)(state))


def config_path() -> Path:
    if os.environ.get("PIXELFLOW_CONFIG"):
        return Path(os.environ["PIXELFLOW_CONFIG"])
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "pixelflow" / "config.toml"


def configured(url: str | None = None, api_key: str | None = None) -> tuple[str, str | None]:
    """The endpoint and key: the arguments, else the environment, else the config file's profile."""
    url = url or os.environ.get("PIXELFLOW_URL")
    api_key = api_key or os.environ.get("PIXELFLOW_API_KEY")
    path = config_path()
    if (url is None or api_key is None) and path.exists():
        profile = tomllib.loads(path.read_text()).get(os.environ.get("PIXELFLOW_PROFILE", "default"), {})
        url = url or profile.get("url")
        api_key = api_key or profile.get("api_key")
    return (url or DEFAULT_URL).rstrip("/"), api_key


class Client:
    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
        retry_for: float = 300,
    ) -> None:
        self.url, key = configured(url, api_key)
        if not key:
            raise ApiError(401, "unauthorized", "no API key: set PIXELFLOW_API_KEY or api_key in " + str(config_path()))
        self.http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key}", "User-Agent": "pixelflow-client"},
            timeout=timeout,
            transport=transport,
        )
        # Presigned PUTs and GETs go to the storage, never with the API key.
        self.storage = httpx.Client(timeout=timeout, transport=transport)
        self.retry_for = retry_for
        self.waits = 0  # answers of 429 or 503 waited out and sent again

    def _send(self, http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request, sent again on 429/503 for at most ``retry_for`` seconds and 20 attempts; the last answer."""
        retrying = Retrying(
            retry=retry_if_result(lambda response: response.status_code in AGAIN),
            wait=retry_after,
            stop=stop_after_attempt(20) | stop_after_delay(self.retry_for),
            before_sleep=self._waited,
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        response: httpx.Response = retrying(http.request, method, url, **kwargs)
        return response

    def _waited(self, _: RetryCallState) -> None:
        self.waits += 1

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()
        self.storage.close()

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                body = response.json()
                raise ApiError(response.status_code, body.get("code", "error"), body.get("message", response.text))
            except (ValueError, AttributeError):
                raise ApiError(response.status_code, "error", response.text[:500]) from None
        return response.json()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._json(self._send(self.http, method, path, **kwargs))

    # Uploads

    def upload(self, source: Path | str | bytes, content_type: str | None = None, file_name: str | None = None) -> str:
        """Put one image in storage through a presigned PUT; its key, for a job's or batch item's source."""
        if isinstance(source, bytes):
            data, name = source, file_name or "upload"
        else:
            path = Path(source)
            data, name = path.read_bytes(), file_name or path.name
        kind = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        slot = self.request("POST", "/v1/uploads", json={"content_type": kind, "file_name": name})
        put = self._send(self.storage, "PUT", slot["url"], content=data, headers=slot["headers"])
        if put.status_code >= 300:
            raise ApiError(put.status_code, "storage_unavailable", f"the upload's PUT answered {put.status_code}")
        return str(slot["key"])

    # Jobs

    def create_job(self, body: Mapping[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.request("POST", "/v1/jobs", json=dict(body), headers=headers)  # type: ignore[no-any-return]

    def get_job(self, job_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/jobs/{job_id}")  # type: ignore[no-any-return]

    def job_events(self, job_id: str, last_event_id: str | None = None) -> Iterator[Event]:
        return self._events(f"/v1/jobs/{job_id}/events", last_event_id)

    def wait_job(self, job_id: str, on_event: Callable[[Event], object] | None = None) -> dict[str, Any]:
        """Follow the job's events until it ends (reconnecting where the stream left off); its document."""
        last = None
        while True:
            for event in self.job_events(job_id, last):
                last = event.id or last
                if on_event is not None:
                    on_event(event)
                if event.event == "job.ended":
                    return event.data
            job = self.get_job(job_id)
            if job["status"] in ENDED:
                return job

    # Batches

    def create_batch(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        presets: Sequence[str] = (),
        outputs: Sequence[Mapping[str, Any]] = (),
        webhook_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"items": list(items), "presets": list(presets), "outputs": list(outputs)}
        if webhook_url:
            body["webhook_url"] = webhook_url
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.request("POST", "/v1/batches", json=body, headers=headers)  # type: ignore[no-any-return]

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/batches/{batch_id}?limit=1")  # type: ignore[no-any-return]

    def batch_jobs(self, batch_id: str, status: str | None = None) -> Iterator[dict[str, Any]]:
        """Every job of the batch, in item order, a page at a time."""
        cursor = None
        while True:
            params = {"limit": 100, **({"status": status} if status else {}), **({"cursor": cursor} if cursor else {})}
            page = self.request("GET", f"/v1/batches/{batch_id}", params=params)
            yield from page["jobs"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def batch_events(self, batch_id: str, last_event_id: str | None = None) -> Iterator[Event]:
        return self._events(f"/v1/batches/{batch_id}/events", last_event_id)

    def wait_batch(self, batch_id: str, on_event: Callable[[Event], object] | None = None) -> dict[str, Any]:
        """Follow the batch's events until it has finished (its manifest written); its document."""
        last = None
        while True:
            for event in self.batch_events(batch_id, last):
                last = event.id or last
                if on_event is not None:
                    on_event(event)
                if event.event == "batch.finished":
                    return event.data
            batch = self.get_batch(batch_id)
            if batch["finished_at"]:
                return batch
            time.sleep(0.5)

    def download(self, url: str, path: Path) -> int:
        """A presigned GET into ``path`` (its directories made); the bytes written."""
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        response = self._send(self.storage, "GET", url)  # an output is held whole: it is an image, not a stream
        if response.status_code != 200:
            raise ApiError(response.status_code, "storage_unavailable", f"GET {path.name}: {response.status_code}")
        part.write_bytes(response.content)
        part.replace(path)
        return path.stat().st_size

    def _events(self, path: str, last_event_id: str | None) -> Iterator[Event]:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        with connect_sse(self.http, "GET", path, headers=headers, timeout=httpx.Timeout(30, read=None)) as source:
            if source.response.status_code == 204:
                return
            if source.response.status_code >= 400:
                source.response.read()
                self._json(source.response)
            for sse in source.iter_sse():
                if not sse.data:
                    continue  # the stream's opening retry: field
                yield Event(sse.event, json.loads(sse.data), sse.id or None)
