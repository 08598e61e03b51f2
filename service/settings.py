"""The one settings object: every knob comes from the environment (or a .env file) through here."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Gradyard's configuration; defaults give the embedded mode (SQLite, file-system broker)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/gradyard.db"
    broker_url: str = "filesystem://"
    broker_dir: Path = Path("var/broker")
    queue_name: str = "gradyard"
    host: str = "127.0.0.1"
    port: int = 8000

    # Limits on what one request may ask for; over a limit is a 422 (413 for the body).
    max_body_bytes: int = Field(default=2_000_000, gt=0)
    max_parameters: int = Field(default=100_000, gt=0)
    max_samples: int = Field(default=10_000, gt=0)
    max_epochs: int = Field(default=1_000_000, gt=0)
    max_work: int = Field(default=100_000_000, gt=0, description="epochs x samples")
    max_predict_batch: int = Field(default=10_000, gt=0)

    # How often a worker writes progress: whichever comes first.
    flush_seconds: float = Field(default=0.25, gt=0)
    flush_epochs: int = Field(default=5_000, gt=0)
    checkpoint_seconds: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=3, gt=0)

    @property
    def is_sqlite(self) -> bool:
        """True in the embedded mode's database."""
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
