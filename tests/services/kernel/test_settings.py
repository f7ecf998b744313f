import pytest
from pydantic import ValidationError

from services.kernel.settings import DEFAULT_SECRET, Settings


@pytest.mark.parametrize("environment", ["test", "production"])
def test_default_secret_is_refused_outside_development(environment: str) -> None:
    with pytest.raises(ValidationError, match="STIC_SECRET_KEY"):
        Settings(environment=environment, secret_key=DEFAULT_SECRET)


def test_default_secret_is_allowed_in_development() -> None:
    assert Settings(environment="development").secret_key == DEFAULT_SECRET


def test_environment_variables_use_the_stic_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STIC_PORT", "9123")
    monkeypatch.setenv("STIC_DATABASE_URL", "sqlite+aiosqlite:////tmp/x.db")
    settings = Settings()
    assert settings.port == 9123
    assert settings.is_sqlite
