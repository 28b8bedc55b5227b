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

An error answer raises ``ApiError`` with the API's stable ``code``.
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

DEFAULT_URL = "http://127.0.0.1:8080"
ENDED = ("succeeded", "failed", "canceled")


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
        return self._json(self.http.request(method, path, **kwargs))

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
        put = self.storage.put(slot["url"], content=data, headers=slot["headers"])
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
        with self.storage.stream("GET", url) as response:
            if response.status_code != 200:
                raise ApiError(response.status_code, "storage_unavailable", f"GET {path.name}: {response.status_code}")
            with part.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
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
