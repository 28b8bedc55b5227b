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
