import pytest

from config.settings import Settings, SettingsError, load_settings


def test_defaults_point_at_the_local_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("PIXELFLOW_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    assert settings.database_url == "postgresql://postgres@127.0.0.1:5432/pixelflow"
    assert settings.broker_url == "amqp://guest:guest@127.0.0.1:5672//"
    assert settings.max_source_pixels == 50_000_000
    assert settings.fetch_allow == []


def test_every_invalid_variable_is_reported_at_once_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELFLOW_DB_POOL_MAX", "many")
    monkeypatch.setenv("PIXELFLOW_FETCH_TIMEOUT", "-1")
    monkeypatch.setenv("PIXELFLOW_LOG_LEVEL", "loud")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    names = sorted(p.split(":")[0] for p in caught.value.problems)
    assert names == ["PIXELFLOW_DB_POOL_MAX", "PIXELFLOW_FETCH_TIMEOUT", "PIXELFLOW_LOG_LEVEL"]
    assert "PIXELFLOW_DB_POOL_MAX" in str(caught.value)


def test_allowlist_is_read_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELFLOW_FETCH_ALLOW", " 10.0.0.0/8, images.internal ,")
    assert load_settings().fetch_allow == ["10.0.0.0/8", "images.internal"]


def test_presigned_urls_use_the_public_endpoint_when_set() -> None:
    assert Settings(s3_endpoint="minio:9000").presign_endpoint == "minio:9000"
    assert Settings(s3_endpoint="minio:9000", s3_public_endpoint="localhost:9000").presign_endpoint == "localhost:9000"


def test_an_error_in_a_secret_setting_names_the_variable_and_shows_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    good = "whsec_" + __import__("base64").b64encode(b"a-perfectly-good-secret-of-32-bytes").decode()
    monkeypatch.setenv("PIXELFLOW_WEBHOOK_SECRETS", f"{good},whsec_not!base64")
    monkeypatch.setenv("PIXELFLOW_DB_POOL_MAX", "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert "PIXELFLOW_WEBHOOK_SECRETS" in text and "each secret is 'whsec_' followed by base64" in text
    assert good not in text and "not!base64" not in text and good[6:20] not in text
    assert "PIXELFLOW_DB_POOL_MAX" in text and "got '0'" in text  # other values are still shown


def test_the_webhook_retry_limit_reaches_the_notify_task_and_the_steps_keep_theirs() -> None:
    # Celery applies a "*" annotation after a task's own: it must not override notify's limit.
    from tasks.celery_app import app
    from tasks.pipeline import job_chain  # noqa: F401  (registers the tasks)

    settings = __import__("config").get_settings()
    assert settings.webhook_max_retries != settings.task_max_retries
    assert app.tasks["pixelflow.notify"].max_retries == settings.webhook_max_retries
    assert app.tasks["pixelflow.notify"].retry_backoff_max == 3600
    assert {app.tasks[f"pixelflow.{s}"].max_retries for s in ("fetch", "validate", "transform", "upload")} == {
        settings.task_max_retries
    }
