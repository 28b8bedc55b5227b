"""deploy/aws checked as far as this machine allows (no provider can be downloaded): terraform fmt, checkov's
terraform framework, and the IAM policy the pods' role gets, parsed and held to what PixelFlow does."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.checkov import scan

ROOT = Path(__file__).resolve().parents[2]
AWS = ROOT / "deploy/aws"

# A check a resource answers instead of passing it: `#checkov:skip=ID:reason` inside the resource's block, where any
# checkov run reads it and reports the check skipped with that reason.
SKIP = re.compile(r"^\s*#checkov:skip=([A-Z0-9_]+):(.*)$")
RESOURCE = re.compile(r'^resource "([^"]+)" "([^"]+)"')


def skips_in_code() -> dict[tuple[str, str], str]:
    """(check id, resource) → reason, for every skip written in deploy/aws."""
    found, resource = {}, None
    for path in sorted(AWS.glob("*.tf")):
        for line in path.read_text().splitlines():
            if start := RESOURCE.match(line):
                resource = ".".join(start.groups())
            elif line.startswith("}"):
                resource = None
            elif (skip := SKIP.match(line)) and resource:
                found[(skip.group(1), resource)] = skip.group(2).strip()
    return found


def test_the_terraform_is_formatted() -> None:
    terraform = shutil.which("terraform")
    assert terraform, "terraform is missing"
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(AWS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_checkov_passes_the_terraform_and_every_check_it_skips_is_answered_in_the_code() -> None:
    report = scan(AWS, "terraform", skipped=True)
    assert report["summary"]["resource_count"] >= 60
    failed = [(f["check_id"], f["resource"]) for f in report["results"]["failed_checks"]]
    assert failed == [], failed
    skipped = {
        (c["check_id"], c["resource"]): c["check_result"].get("suppress_comment", "")
        for c in report["results"]["skipped_checks"]
    }
    answered = skips_in_code()
    assert len(answered) >= 5
    assert skipped == answered  # every skip checkov reports is one written in a resource, with its reason
    assert all(len(reason) > 20 for reason in answered.values()), answered


def policy(bucket: str = "arn:aws:s3:::pixelflow-images-x") -> dict:  # type: ignore[type-arg]
    text = (AWS / "policies/images-bucket.json.tftpl").read_text()
    values = {
        "bucket_arn": bucket,
        "kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/0000",
        "region": "eu-west-1",
    }
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, "a placeholder templatefile is not given"
    return json.loads(text)  # type: ignore[no-any-return]


def test_the_pods_policy_is_least_privilege_on_the_image_bucket() -> None:
    document = policy()
    assert document["Version"] == "2012-10-17"
    statements = document["Statement"]
    assert all(s["Effect"] == "Allow" for s in statements)
    actions = {a for s in statements for a in s["Action"]}
    # What PixelFlow does with storage (core/objectstore.py): HEAD/GET, PUT, DELETE, presigned PUTs and GETs
    # signed with these credentials, multipart uploads of large outputs, the bucket check at start-up.
    assert actions == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "s3:GetBucketLocation",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
    assert not [a for a in actions if "*" in a]
    resources = [r for s in statements for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
    assert "*" not in resources
    objects = next(s for s in statements if "s3:PutObject" in s["Action"])["Resource"]
    assert sorted(objects) == sorted(
        f"arn:aws:s3:::pixelflow-images-x/{p}/*" for p in ("uploads", "staging", "results")
    )
    kms = next(s for s in statements if "kms:Decrypt" in s["Action"])
    assert kms["Condition"]["StringEquals"]["kms:ViaService"] == "s3.eu-west-1.amazonaws.com"


@pytest.mark.parametrize("prefix", ["uploads/", "staging/", "results/"])
def test_every_prefix_pixelflow_writes_is_in_the_policy(prefix: str) -> None:
    from core import spec

    text = Path(spec.__file__).read_text() + (ROOT / "tasks/steps/common.py").read_text()
    assert f'"{prefix}' in text or f"'{prefix}" in text or f'f"{prefix}' in text, f"{prefix} is no longer written"
    objects = next(s for s in policy()["Statement"] if "s3:PutObject" in s["Action"])["Resource"]
    assert f"arn:aws:s3:::pixelflow-images-x/{prefix}*" in objects
