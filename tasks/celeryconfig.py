"""Celery settings, derived from PixelFlow's settings when Celery first needs them.

The queues are quorum queues on a topic exchange: with both, a retry's
countdown is held by RabbitMQ (native delayed delivery), not in worker
memory where the broker's consumer timeout would kill it. transform has a
queue of its own (tasks/topology.py); a retry goes back to the queue it
came from (Celery keeps the delivery's routing key).
"""

from config import get_settings
from core import logs, timeouts
from tasks.topology import transform_queue, transform_routing_key, work_queues

_settings = get_settings()

broker_url = _settings.broker_url
broker_connection_retry_on_startup = True
# The worker's consumer beats (its event loop sends them): RabbitMQ requeues the steps of a worker host that
# vanished within about two intervals. Celery opens publishing connections (the relay, pool children) without
# a heartbeat, so those without a loop are not dropped for missing beats; keepalives, TCP_USER_TIMEOUT and
# socket timeouts bound them instead (core/timeouts.py).
broker_heartbeat = _settings.broker_heartbeat
broker_transport_options = timeouts.amqp(_settings)

task_queues = work_queues(_settings)
task_routes = {
    "pixelflow.transform": {
        "queue": transform_queue(_settings),
        "routing_key": transform_routing_key(_settings),
    }
}
task_default_queue = _settings.queue
task_default_exchange = _settings.queue
task_default_exchange_type = "topic"
task_default_routing_key = f"{_settings.queue}.step"
task_default_queue_type = "quorum"
task_create_missing_queues = False

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
task_ignore_result = True
result_backend = None

STEPS_BEFORE_NOTIFY = ("fetch", "validate", "transform", "upload")
# By name only: Celery applies a "*" entry after the named one, so it would override notify's.
task_annotations = {
    **{f"pixelflow.{step}": {"max_retries": _settings.task_max_retries} for step in STEPS_BEFORE_NOTIFY},
    # Webhooks keep trying for hours: 2 s doubling to an hour between attempts.
    "pixelflow.notify": {"max_retries": _settings.webhook_max_retries, "retry_backoff_max": 3600},
    "pixelflow.finish_batch": {"max_retries": _settings.webhook_max_retries, "retry_backoff_max": 3600},
}

task_acks_late = True
# A step that ends its job with an error is acked: the job holds the error, Flower and the task events show
# the step FAILED. What an operator must act on (a bug, the service's own peers down past the last retry) the
# step rejects without requeue itself: dead-lettered (tasks/pipeline.py). A hard time limit is acked (the
# job is failed by the sweeper's deadline instead of a rerun).
task_acks_on_failure = True
task_acks_on_timeout = True
task_reject_on_worker_lost = True
# Native delayed delivery set up through one node of a cluster, not each (tasks/celery_app.py).
worker_consumer = "tasks.celery_app:Consumer"
worker_prefetch_multiplier = 1
worker_cancel_long_running_tasks_on_connection_loss = True
worker_max_tasks_per_child = _settings.worker_max_tasks_per_child
worker_max_memory_per_child = _settings.worker_max_memory_per_child_kb
task_soft_time_limit = _settings.task_soft_time_limit
task_time_limit = _settings.task_time_limit
worker_hijack_root_logger = False
# Every line names its job and task (core/logs.py binds them around each step).
logs.bind_context()
worker_log_format = logs.WORKER_FORMAT
worker_task_log_format = logs.WORKER_FORMAT
# Task events (for Flower) cost three extra broker messages per task; off
# unless asked for (PIXELFLOW_TASK_EVENTS, or `celery control enable_events`).
worker_send_task_events = _settings.task_events
task_send_sent_event = _settings.task_events
