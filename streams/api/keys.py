"""Where the API's token key comes from: the environment in production, a development secret file locally.

Why a dev secret file at all: `omnitrack run` on a fresh machine must give a working API without anyone
inventing a secret, yet the API must never fall back to a built-in default key (every checkout would then
accept every other checkout's tokens). So the first `omnitrack run` or `omnitrack api token` writes 32
random bytes to `<home>/api/dev-jwt-secret` (mode 0600, created once and reused), hands it to the API
process in its environment, and the API refuses to start when neither the environment nor that file has
a key. Production sets OMNITRACK_API_JWT_SECRET (or a public key file) and never has such a file.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from omnitrack.settings import Settings
from streams.api.auth import HMAC_ALGORITHMS, ConfigError, TokenVerifier

__all__ = ["SECRET_ENV", "dev_secret_path", "read_dev_secret", "ensure_dev_secret", "api_process_env",
           "signing_secret", "verifier_for"]

log = logging.getLogger(__name__)

SECRET_ENV = "OMNITRACK_API_JWT_SECRET"
DEV_SECRET_BYTES = 32
"""256 bits: the HS256 key length RFC 7518 asks for."""


def dev_secret_path(settings: Settings) -> Path:
    return settings.home / "api" / "dev-jwt-secret"


def _env_secret(settings: Settings) -> str | None:
    value = settings.api_jwt_secret.get_secret_value() if settings.api_jwt_secret is not None else ""
    return value or None  # an empty variable (compose's `${VAR:-}`) counts as unset


def read_dev_secret(settings: Settings) -> str | None:
    """The development secret, if the file exists."""
    path = dev_secret_path(settings)
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_dev_secret(settings: Settings) -> str:
    """The development secret, created once (random, mode 0600; O_EXCL so two racing processes agree)."""
    path = dev_secret_path(settings)
    existing = read_dev_secret(settings)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(DEV_SECRET_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_dev_secret(settings) or _fail_empty(path)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def _fail_empty(path: Path) -> str:
    raise ConfigError(f"the development JWT secret {path} is empty; delete it to have a new one made")


def api_process_env(settings: Settings) -> dict[str, str]:
    """Environment `omnitrack run` gives the API process: the dev secret when the environment has no key."""
    if _env_secret(settings) or settings.api_jwt_public_key_file is not None:
        return {}
    return {SECRET_ENV: ensure_dev_secret(settings)}


def signing_secret(settings: Settings) -> tuple[str, str]:
    """(HMAC secret, HMAC algorithm) for minting tokens: the environment's secret, else the dev secret
    (created if missing). With a public-key setup tokens come from the identity provider: ConfigError."""
    if settings.api_jwt_public_key_file is not None:
        raise ConfigError("the API verifies tokens with a public key (OMNITRACK_API_JWT_PUBLIC_KEY_FILE): "
                          "get tokens from the identity provider that holds the private key")
    algorithm = next((a for a in settings.api_jwt_algorithms if a in HMAC_ALGORITHMS), None)
    if algorithm is None:
        raise ConfigError(f"no HMAC algorithm in OMNITRACK_API_JWT_ALGORITHMS {settings.api_jwt_algorithms}")
    return _env_secret(settings) or ensure_dev_secret(settings), algorithm


def verifier_for(settings: Settings) -> tuple[TokenVerifier, str]:
    """The verifier the API uses, and where its key came from (for the start-up line).

    Never creates a key: an API started without one is a configuration error, reported clearly."""
    common = {"algorithms": settings.api_jwt_algorithms, "audience": settings.api_jwt_audience,
              "issuer": settings.api_jwt_issuer, "leeway_s": settings.api_jwt_leeway_s}
    if settings.api_jwt_public_key_file is not None:
        path = settings.api_jwt_public_key_file
        try:
            key = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read OMNITRACK_API_JWT_PUBLIC_KEY_FILE {path}: {exc}") from exc
        return TokenVerifier(key, **common), f"public key {path}"
    if secret := _env_secret(settings):
        return TokenVerifier(secret, **common), SECRET_ENV
    if secret := read_dev_secret(settings):
        log.warning("using the development JWT secret %s; production must set %s", dev_secret_path(settings),
                    SECRET_ENV)
        return TokenVerifier(secret, **common), f"development secret {dev_secret_path(settings)}"
    raise ConfigError(
        f"{SECRET_ENV} is not set and there is no development secret at {dev_secret_path(settings)}. "
        f"Production: set {SECRET_ENV} (at least 32 characters, e.g. `openssl rand -hex 32`) or "
        "OMNITRACK_API_JWT_PUBLIC_KEY_FILE. Development: `omnitrack run` or `omnitrack api token` creates "
        "the development secret.")
