from core.migrations import sqlalchemy_url


def test_urls_and_conninfo_strings_both_reach_the_psycopg_dialect() -> None:
    assert sqlalchemy_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert sqlalchemy_url("host=127.0.0.1 port=5433 dbname=jobs user=pf password=s3cret sslmode=disable") == (
        "postgresql+psycopg://pf:s3cret@127.0.0.1:5433/jobs?sslmode=disable"
    )


def test_a_primary_and_its_standbys_become_sqlalchemys_hosts_and_reach_psycopg_as_libpq_lists() -> None:
    from sqlalchemy import create_engine

    url = "postgresql://pf@10.0.0.1:5432,10.0.0.2:5433/jobs?target_session_attrs=read-write&connect_timeout=2"
    engine = create_engine(sqlalchemy_url(url))
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    assert {k: kwargs[k] for k in ("host", "port", "dbname", "user", "target_session_attrs", "connect_timeout")} == {
        "host": "10.0.0.1,10.0.0.2",
        "port": "5432,5433",
        "dbname": "jobs",
        "user": "pf",
        "target_session_attrs": "read-write",
        "connect_timeout": "2",
    }
    # The key=value spelling, one port for every host.
    assert sqlalchemy_url("host=a,b port=6432 dbname=jobs user=pf") == (
        "postgresql+psycopg://pf@/jobs?host=a%3A6432&host=b%3A6432"
    )


def test_alembic_reads_back_a_url_with_percent_signs() -> None:
    # configparser interpolates "%": a percent-encoded password or host list must reach alembic unchanged.
    from core.migrations import alembic_config

    for url in ("postgresql://pf:p%40ss@db:5432/jobs", "postgresql://pf@a:5432,b:5433/jobs"):
        assert alembic_config(url).get_main_option("sqlalchemy.url") == sqlalchemy_url(url)
        assert "%" in sqlalchemy_url(url)
