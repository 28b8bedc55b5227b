"""What every connection carries so that a silent peer holds work for seconds, not hours."""

from __future__ import annotations

import socket

import psycopg

from config import Settings
from core import broker, timeouts


def test_postgres_connections_bound_both_ends() -> None:
    params = timeouts.postgres(Settings(db_timeout=1.5, tcp_keepalive=10))
    assert params["connect_timeout"] == 2  # libpq's least
    assert params["tcp_user_timeout"] == 1500
    assert (params["keepalives"], params["keepalives_idle"], params["keepalives_interval"]) == (1, 10, 5)
    server = dict(option.split("=") for option in params["options"].replace("-c ", "").split())
    assert server["tcp_keepalives_idle"] == "10" and server["tcp_keepalives_count"] == "3"
    # The server's user timeout never cuts its keepalive short; an open transaction cannot wait forever.
    assert int(server["tcp_user_timeout"]) >= (10 + 5 * 3) * 1000
    assert server["idle_in_transaction_session_timeout"] == "60000"
    assert "options" not in timeouts.postgres(Settings(db_server_timeouts=False))
    # libpq accepts every one of them.
    psycopg.conninfo.make_conninfo("postgresql://u@h/db", **params)


def test_amqp_sockets_carry_keepalives_and_a_user_timeout() -> None:
    options = timeouts.amqp(Settings(tcp_keepalive=8))
    assert options["confirm_publish"] is True
    assert options["read_timeout"] == options["write_timeout"] == timeouts.AMQP_SOCKET_TIMEOUT
    settings = options["socket_settings"]
    assert settings[socket.TCP_USER_TIMEOUT] == timeouts.AMQP_SOCKET_TIMEOUT * 1000
    assert (settings[socket.TCP_KEEPIDLE], settings[socket.TCP_KEEPINTVL], settings[socket.TCP_KEEPCNT]) == (8, 4, 3)
    connection = broker.connection(Settings(), connect_timeout=1)
    assert connection.transport_options["connect_timeout"] == 1


def test_the_worker_consumer_beats_and_publishers_do_not() -> None:
    from tasks.celery_app import app

    assert app.conf.broker_heartbeat == Settings().broker_heartbeat > 0
    # Celery opens connections for writing without a heartbeat: publishers without a loop are not dropped.
    with app.connection_for_write() as conn:
        assert not conn.heartbeat
