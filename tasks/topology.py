"""RabbitMQ topology, declared by PixelFlow itself (the worker and the relay do it at start).

    exchange {queue} (topic) ──{queue}.#──────────▶ quorum queue {queue}            fetch, validate, upload, notify
                             ──{queue}-transform.#─▶ quorum queue {queue}.transform  transform
    (both queues)
        x-delivery-limit          a message redelivered more often (a pool child that
                                  dies on it every time) is dead-lettered, not retried forever
        x-dead-letter-exchange    {queue}.dlx, at-least-once (needs x-overflow=reject-publish)
    exchange {queue}.dlx (fanout) ──▶ quorum queue {queue}.dead

Two work queues, so that a deployment can give the steps that wait on the
network (fetch, validate, upload, notify) a thread pool of many slots, and
transform, which keeps a core busy, a process pool sized to the cores; each
is scaled on its own queue's depth. A worker started without -Q takes both.
The transform key's first word differs from the queue's, so that neither
binding (nor Celery's delayed-delivery binding, "#." + the binding) takes the
other queue's messages.

A step that fails for good is rejected without requeue, so its message lands
in the dead-letter queue too. The relay moves dead letters into PostgreSQL
(table dead_letters), where `celery -A tasks dlq` lists and replays them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import unquote, urlsplit

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


def transform_queue(settings: Settings) -> str:
    return f"{settings.queue}.transform"


def _transform_word(settings: Settings) -> str:
    # The first word of transform's routing keys: not the work queue's (its binding is "{queue}.#").
    return f"{settings.queue}-transform"


def transform_routing_key(settings: Settings) -> str:
    return f"{_transform_word(settings)}.step"


def work_queues(settings: Settings) -> list[Queue]:
    """The two work queues on the work exchange: the I/O steps' and transform's."""
    exchange = Exchange(settings.queue, type="topic", durable=True)
    arguments = work_queue_arguments(settings)
    return [
        Queue(settings.queue, exchange, routing_key=f"{settings.queue}.#", queue_arguments=arguments, durable=True),
        Queue(
            transform_queue(settings),
            exchange,
            routing_key=f"{_transform_word(settings)}.#",
            queue_arguments=arguments,
            durable=True,
        ),
    ]


def work_queue_arguments(settings: Settings) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": f"{settings.queue}.dlx",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def declare(connection: Connection, settings: Settings) -> None:
    """The dead-letter exchange and queue, then both work queues on their exchange.

    A worker declares the queues it consumes, but Celery binds every queue it knows (both) to its
    delayed-delivery exchange at start: a worker-io started before any worker-transform would find no
    transform queue and lose native delayed delivery for its retries. So every worker and the relay
    declare the whole topology first.
    """
    channel = connection.default_channel
    dead_letter_exchange(settings)(channel).declare()
    dead_letter_queue(settings)(channel).declare()
    for queue in work_queues(settings):
        queue(channel).declare()


def delete_all(connection: Connection, settings: Settings) -> None:
    """Remove the queues and exchanges of ``settings.queue`` (tests and benchmarks clean up with it)."""
    channel = connection.default_channel
    for queue in (settings.queue, transform_queue(settings), f"{settings.queue}.dead"):
        channel.queue_delete(queue)
    for exchange in (settings.queue, f"{settings.queue}.dlx"):
        channel.exchange_delete(exchange)


def definitions(settings: Settings, *, salt: bytes = b"pxfl") -> dict[str, Any]:
    """The topology above as RabbitMQ definitions, for a node that loads them at boot (compose).

    The broker URL's user is created with full rights on its vhost: a node
    that imports definitions at boot creates no default user. ``salt`` keeps
    the password hash (rabbit_password_hashing_sha256) reproducible.
    """
    url = urlsplit(settings.broker_url.split(";")[0])  # a cluster's nodes share their users
    vhost = unquote(url.path[1:]) if url.path not in ("", "/") else "/"
    user, password = unquote(url.username or "guest"), unquote(url.password or "guest")
    digest = hashlib.sha256(salt + password.encode()).digest()
    queue, dlx = settings.queue, f"{settings.queue}.dlx"

    def exchange(name: str, kind: str) -> dict[str, Any]:
        return {
            "name": name,
            "vhost": vhost,
            "type": kind,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }

    def durable_queue(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "vhost": vhost, "durable": True, "auto_delete": False, "arguments": arguments}

    def binding(source: str, destination: str, key: str) -> dict[str, Any]:
        return {
            "source": source,
            "vhost": vhost,
            "destination": destination,
            "destination_type": "queue",
            "routing_key": key,
            "arguments": {},
        }

    return {
        "users": [
            {
                "name": user,
                "password_hash": base64.b64encode(salt + digest).decode(),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": ["administrator"],
            }
        ],
        "vhosts": [{"name": vhost}],
        "permissions": [{"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}],
        "exchanges": [exchange(queue, "topic"), exchange(dlx, "fanout")],
        "queues": [
            *(durable_queue(q.name, q.queue_arguments) for q in work_queues(settings)),
            durable_queue(f"{queue}.dead", {"x-queue-type": "quorum"}),
        ],
        "bindings": [
            *(binding(queue, q.name, q.routing_key) for q in work_queues(settings)),
            binding(dlx, f"{queue}.dead", ""),
        ],
    }


if __name__ == "__main__":
    # python -m tasks.topology > config/rabbitmq/definitions.json (with the settings of the target)
    from config import get_settings

    print(json.dumps(definitions(get_settings()), indent=2))
