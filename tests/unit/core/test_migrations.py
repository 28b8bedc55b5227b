from core.migrations import sqlalchemy_url


def test_urls_and_conninfo_strings_both_reach_the_psycopg_dialect() -> None:
    assert sqlalchemy_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert sqlalchemy_url("host=127.0.0.1 port=5433 dbname=jobs user=pf password=s3cret sslmode=disable") == (
        "postgresql+psycopg://pf:s3cret@127.0.0.1:5433/jobs?sslmode=disable"
    )
