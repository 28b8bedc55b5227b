"""How long a silent peer may hold work: what every connection PixelFlow opens carries.

On one host a dead peer announces itself: the kernel sends RST or FIN. Across
hosts it can vanish without a word (node loss, a partition), and a TCP
connection to it stays open until something probes it. Each kind of
connection here has its bound:

- PostgreSQL, client side: ``connect_timeout`` and ``tcp_user_timeout``
  (``PIXELFLOW_DB_TIMEOUT``: a call on a partitioned server fails within it)
  and keepalives on idle pooled connections (``PIXELFLOW_TCP_KEEPALIVE``).
- PostgreSQL, server side, asked for at connect (``PIXELFLOW_DB_SERVER_TIMEOUTS``):
  the same keepalives and TCP_USER_TIMEOUT on the server's socket, and
  ``idle_in_transaction_session_timeout``, so the server ends the session of
  a client host that vanished and frees its row locks (a relay that died
  holding outbox rows, say) within seconds instead of hours.
- RabbitMQ, the worker's consumer: AMQP heartbeats (``PIXELFLOW_BROKER_HEARTBEAT``),
  driven by the worker's event loop; the broker requeues the unacknowledged
  steps of a worker that stopped beating. Publishing connections (the relay,
  pool children) negotiate no heartbeat (they have no loop to send one);
  their sockets carry keepalives and TCP_USER_TIMEOUT, and socket timeouts
  bound every read and write.
- S3: connect and read timeouts on every request (core/objectstore.py).
"""

from __future__ import annotations

import math
import socket
from typing import Any

from config import Settings

PROBES = 3
# Seconds a session may sit in an open transaction waiting for its client.
IDLE_IN_TRANSACTION = 60
# Seconds an AMQP socket may leave sent bytes unacknowledged, and the read/write timeout.
AMQP_SOCKET_TIMEOUT = 10


def _keepalive(settings: Settings) -> tuple[int, int]:
    idle = max(1, round(settings.tcp_keepalive))
    return idle, max(1, idle // 2)


def postgres(settings: Settings) -> dict[str, Any]:
    """libpq connection parameters (psycopg ``connect(**…)``)."""
    idle, interval = _keepalive(settings)
    user_timeout = round(settings.db_timeout * 1000)
    params: dict[str, Any] = {
        "connect_timeout": max(2, math.ceil(settings.db_timeout)),
        "keepalives": 1,
        "keepalives_idle": idle,
        "keepalives_interval": interval,
        "keepalives_count": PROBES,
        "tcp_user_timeout": user_timeout,
    }
    if settings.db_server_timeouts:
        server = {
            "tcp_keepalives_idle": idle,
            "tcp_keepalives_interval": interval,
            "tcp_keepalives_count": PROBES,
            "tcp_user_timeout": max(user_timeout, (idle + interval * PROBES) * 1000),
            "idle_in_transaction_session_timeout": IDLE_IN_TRANSACTION * 1000,
        }
        params["options"] = " ".join(f"-c {name}={value}" for name, value in server.items())
    return params


def amqp(settings: Settings) -> dict[str, Any]:
    """kombu transport options for py-amqp: connect, read and write timeouts, and the socket's own bounds."""
    idle, interval = _keepalive(settings)
    return {
        "confirm_publish": True,
        "connect_timeout": 5,
        "read_timeout": AMQP_SOCKET_TIMEOUT,
        "write_timeout": AMQP_SOCKET_TIMEOUT,
        "socket_settings": {
            socket.TCP_USER_TIMEOUT: AMQP_SOCKET_TIMEOUT * 1000,
            socket.TCP_KEEPIDLE: idle,
            socket.TCP_KEEPINTVL: interval,
            socket.TCP_KEEPCNT: PROBES,
        },
    }
