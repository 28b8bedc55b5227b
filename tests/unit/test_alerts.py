"""Every alert rule evaluated by Prometheus's own engine (promtool test rules), on the series the processes export,
for a deployment whose queue is not called "pixelflow"."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

RULES = Path(__file__).resolve().parents[2] / "charts/pixelflow/files/prometheus/alerts.yml"
QUEUE = "images-prod"  # PIXELFLOW_QUEUE of this deployment

# Ten minutes of each series, one sample a minute.
SERIES = {
    # A work queue that grows and that no worker consumes; the dead-letter queue beside it holds letters and has no
    # consumer either, which is no alert of its own (PixelFlowDeadLetters counts the letters).
    f'pixelflow_queue_messages_ready{{queue="{QUEUE}", role="work"}}': "0+10x40",
    f'pixelflow_queue_consumers{{queue="{QUEUE}", role="work"}}': "0x40",
    f'pixelflow_queue_messages_ready{{queue="{QUEUE}.transform", role="work"}}': "0x40",
    f'pixelflow_queue_consumers{{queue="{QUEUE}.transform", role="work"}}': "2x40",
    f'pixelflow_queue_messages_ready{{queue="{QUEUE}.dead", role="dead-letters"}}': "7x40",
    f'pixelflow_queue_consumers{{queue="{QUEUE}.dead", role="dead-letters"}}': "0x40",
    "pixelflow_outbox_oldest_unsent_seconds": "500x40",
    'pixelflow_jobs_unfinished_oldest_seconds{status="processing"}': "1000x40",
    "pixelflow_dead_letters_pending": "3x40",
    'pixelflow_worker_jobs_finished_total{status="failed", code="internal_error"}': "0+2x40",
    'pixelflow_worker_jobs_finished_total{status="succeeded", code=""}': "0+10x40",
    'pixelflow_http_requests_total{status="500"}': "0+5x40",
    'pixelflow_http_requests_total{status="200"}': "0+50x40",
    'pixelflow_exporter_up{dependency="broker"}': "0x40",
    'pixelflow_exporter_up{dependency="database"}': "1x40",
}

# What fires at 30 minutes: every rule once, the queue rules for the work queue only.
EXPECTED = {
    "PixelFlowBacklogGrowing": (
        {"severity": "warning", "queue": QUEUE, "role": "work"},
        f"300 steps wait in {QUEUE} and the number keeps growing: add workers for it",
    ),
    "PixelFlowNoWorkers": (
        {"severity": "critical", "queue": QUEUE, "role": "work"},
        f"work waits in {QUEUE} and no worker consumes it",
    ),
    "PixelFlowOutboxStuck": (
        {"severity": "critical"},
        "accepted jobs are not being published (is the relay running, is RabbitMQ up?)",
    ),
    "PixelFlowJobsStuck": (
        {"severity": "warning", "status": "processing"},
        "a job has been processing for over 15 minutes; the sweeper re-drives it (celery -A tasks jobs stuck)",
    ),
    "PixelFlowDeadLetters": ({"severity": "warning"}, "3 dead letters wait for an operator (celery -A tasks dlq list)"),
    "PixelFlowJobFailureRatio": (
        {"severity": "warning"},
        "over 5% of jobs fail for the service's own reasons (not bad input)",
    ),
    "PixelFlowApiErrors": ({"severity": "warning"}, "over 2% of API requests answer 5xx"),
    "PixelFlowDependencyDown": (
        {"severity": "critical", "dependency": "broker"},
        "the exporter cannot reach broker",
    ),
}


def test_every_alert_fires_on_its_series_for_a_queue_of_any_name(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian's prometheus package, installed by scripts/bootstrap) is missing"
    rules = yaml.safe_load(RULES.read_text())
    names = [rule["alert"] for group in rules["groups"] for rule in group["rules"]]
    assert sorted(names) == sorted(EXPECTED), "a rule without a test here, or a test without its rule"
    suite = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in SERIES.items()],
                "alert_rule_test": [
                    {
                        "eval_time": "30m",
                        "alertname": name,
                        "exp_alerts": [{"exp_labels": labels, "exp_annotations": {"summary": summary}}],
                    }
                    for name, (labels, summary) in EXPECTED.items()
                ],
            }
        ],
    }
    path = tmp_path / "alerts-test.yml"
    path.write_text(yaml.safe_dump(suite))
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
