"""RabbitMQ topology, declared by PixelFlow itself (the worker and the relay do it at start).

    exchange {queue} (topic) ──{queue}.#──▶ quorum queue {queue}
        x-delivery-limit          a message redelivered more often (a pool child that
                                  dies on it every time) is dead-lettered, not retried forever
        x-dead-letter-exchange    {queue}.dlx, at-least-once (needs x-overflow=reject-publish)
    exchange {queue}.dlx (fanout) ──▶ quorum queue {queue}.dead

A step that fails for good is rejected without requeue, so its message lands
in the dead-letter queue too. The relay moves dead letters into PostgreSQL
(table dead_letters), where `celery -A tasks dlq` lists and replays them.
"""

from __future__ import annotations

from typing import Any

from kombu import Connection, Exchange, Queue

from config import Settings


def dead_letter_exchange(settings: Settings) -> Exchange:
    return Exchange(f"{settings.queue}.dlx", type="fanout", durable=True)


def dead_letter_queue(settings: Settings) -> Queue:
    return Queue(
        f"{settings.queue}.dead",
        dead_letter_exchange(settings),
        durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )


def work_queue_arguments(settings: Settings) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": f"{settings.queue}.dlx",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def declare_dead_letters(connection: Connection, settings: Settings) -> None:
    """The dead-letter exchange and queue (Celery declares the work queue itself)."""
    channel = connection.default_channel
    dead_letter_exchange(settings)(channel).declare()
    dead_letter_queue(settings)(channel).declare()


def delete_all(connection: Connection, settings: Settings) -> None:
    """Remove the queues and exchanges of ``settings.queue`` (tests and benchmarks clean up with it)."""
    channel = connection.default_channel
    for queue in (settings.queue, f"{settings.queue}.dead"):
        channel.queue_delete(queue)
    for exchange in (settings.queue, f"{settings.queue}.dlx"):
        channel.exchange_delete(exchange)
