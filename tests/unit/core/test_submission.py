"""The submission rules (core/submission.py) on the in-memory ports: every refusal, and what one job costs."""

from __future__ import annotations

from typing import Any

import pytest

from config import Settings, get_settings
from core.errors import IdempotencyKeyReused, InvalidRequest, SourceForbidden, SourceNotFound, WatermarkNotFound
from core.ids import new_id
from core.memory import MemoryJobs
from core.model import JobStatus
from core.spec import OutputSpec, upload_prefix
from core.submission import JobRequest, submit_job

TENANT = "tenant-submit"
SOURCE = f"{upload_prefix(TENANT)}0001/cat.jpg"
PRESETS = {"pair": [OutputSpec("p-small", "webp", 100), OutputSpec("p-big", "jpeg", 400)]}
SMALL = OutputSpec("small", "png", 64)


@pytest.fixture()
def ports() -> tuple[Settings, MemoryJobs]:
    """submit_job takes no object store: accepting a job asks storage nothing (tests/integration/test_api.py runs
    the API with its storage down)."""
    get_settings.cache_clear()
    return get_settings(), MemoryJobs()


def submit(ports: tuple[Settings, MemoryJobs], tenant: str = TENANT, **fields: Any) -> Any:
    settings, jobs = ports
    request = JobRequest(**({"outputs": [SMALL], "source_key": SOURCE} | fields))
    return submit_job(tenant, request, settings, PRESETS, jobs, new_id())


def test_a_valid_job_is_queued_with_its_presets_outputs_after_its_own(ports: Any) -> None:
    _, jobs = ports
    job = submit(ports, presets=["pair"], webhook_url="http://127.0.0.1:9/hook", placeholder="thumbhash")
    assert job.status == JobStatus.QUEUED and job.tenant == TENANT
    assert [o.spec.name for o in job.outputs] == ["small", "p-small", "p-big"]
    assert (job.source_key, job.webhook_url, job.placeholder_kind) == (SOURCE, "http://127.0.0.1:9/hook", "thumbhash")
    assert jobs.unsent() == 1


@pytest.mark.parametrize(
    ("fields", "message", "errors"),
    [
        ({"presets": ["nope"]}, "unknown preset 'nope' (known: pair)", {"presets": ["nope"]}),
        ({"outputs": [], "presets": []}, "ask for outputs, presets or both", {"outputs": ["nothing to make"]}),
        (
            {"outputs": [OutputSpec("p-small", "png", 10)], "presets": ["pair"]},
            "output names must be unique; repeated: p-small",
            {"outputs": ["p-small"]},
        ),
        ({"outputs": [OutputSpec(f"o{i}", "png", 10) for i in range(11)]}, "at most 10 outputs", None),
        ({"outputs": [OutputSpec("huge", "png", 9000)]}, "'huge' is larger than 8192 px", None),
    ],
)
def test_what_the_deployment_does_not_allow_is_a_validation_error_naming_the_field(
    ports: Any, fields: dict[str, Any], message: str, errors: dict[str, list[str]] | None
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        submit(ports, **fields)
    assert message in refused.value.message and refused.value.errors == errors
    assert (refused.value.code, refused.value.status) == ("validation_error", 422)
    assert ports[1].unsent() == 0  # nothing queued


def test_the_source_must_be_under_the_tenants_own_upload_prefix(ports: Any) -> None:
    with pytest.raises(SourceNotFound):
        submit(ports, tenant="someone-else")  # another tenant's upload is not there for it
    with pytest.raises(SourceNotFound):
        submit(ports, source_key="results/tenant-submit/x/cat.jpg")
    # Whether an upload under its prefix is there, and what it is, is the worker's to find (tests/unit/tasks).
    never = submit(ports, source_key=f"{upload_prefix(TENANT)}never/uploaded.jpg")
    assert never.status == JobStatus.QUEUED and never.source_key == f"{upload_prefix(TENANT)}never/uploaded.jpg"


def test_addresses_are_judged_before_anything_is_queued(ports: Any) -> None:
    with pytest.raises(SourceForbidden, match=r"^source\.url: "):
        submit(ports, source_key=None, source_url="http://169.254.169.254/latest/meta-data")
    with pytest.raises(SourceForbidden, match=r"^webhook_url: "):
        submit(ports, webhook_url="http://10.0.0.1/hook")
    assert ports[1].unsent() == 0
    job = submit(ports, source_key=None, source_url="http://127.0.0.1:8000/cat.jpg")  # allowed by the test run
    assert job.source_url == "http://127.0.0.1:8000/cat.jpg"


def test_an_image_watermark_must_be_under_the_tenants_upload_prefix(ports: Any) -> None:
    def marked(key: str) -> OutputSpec:
        return OutputSpec.from_fields({"name": "m", "format": "png", "width": 50, "watermark": {"image_key": key}})

    with pytest.raises(WatermarkNotFound):
        submit(ports, outputs=[marked(SOURCE)], tenant="someone-else", source_key=None, source_url="http://127.0.0.1/x")
    job = submit(ports, outputs=[marked(f"{upload_prefix(TENANT)}logo.png")])  # transform reads it, or fails the job
    assert (
        job.outputs[0].spec.watermark and job.outputs[0].spec.watermark.image_key == f"{upload_prefix(TENANT)}logo.png"
    )


def test_a_repeated_idempotency_key_returns_the_first_job(ports: Any) -> None:
    first = submit(ports, idempotency=("k1", "h1"))
    again = submit(ports, idempotency=("k1", "h1"))
    assert again.replayed and again.id == first.id and ports[1].unsent() == 1
    with pytest.raises(IdempotencyKeyReused):
        submit(ports, idempotency=("k1", "h2"))
