"""Settings classes, read from the environment; `load_config()` picks one by TRACKER_ENV."""
import os
import re


def normalize_database_url(url):
    """Accept the usual `postgresql://user@host/db` form and route it to the psycopg 3 driver."""
    return re.sub(r"^postgres(?:ql)?://", "postgresql+psycopg://", url)


class Config:
    """Embedded defaults: an SQLite file, in-memory limiter storage. Safe for a laptop, not for production."""

    ENV_NAME = "development"
    SQLALCHEMY_DATABASE_URI = normalize_database_url(
        os.environ.get("DATABASE_URL", "sqlite:///" + os.path.abspath("instance/tracker_api.sqlite3"))
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL")  # None: rate-limit counters live in process memory
    API_KEY_PEPPER = os.environ.get("API_KEY_PEPPER", "development-pepper-not-secret")
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(1024 * 1024)))

    # flask-smorest / OpenAPI
    API_TITLE = "Tracker API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/swagger-ui/"
    OPENAPI_SWAGGER_UI_CONFIG = {"persistAuthorization": True, "tryItOutEnabled": True}
    OPENAPI_REDOC_PATH = "redoc"
    OPENAPI_REDOC_URL = "/api/docs/assets/redoc/redoc.standalone.js"

    JSON_SORT_KEYS = False


class ProductionConfig(Config):
    """Everything secret must come from the environment; a missing setting stops the start."""

    ENV_NAME = "production"

    def __init__(self):
        missing = [name for name in ("DATABASE_URL", "API_KEY_PEPPER", "REDIS_URL") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"production settings missing from the environment: {', '.join(missing)}")


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True


CONFIGS = {"development": Config, "production": ProductionConfig, "test": TestConfig}


def load_config(name=None):
    """The settings object for TRACKER_ENV (development by default)."""
    name = name or os.environ.get("TRACKER_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"TRACKER_ENV={name!r} is not one of {sorted(CONFIGS)}") from None
