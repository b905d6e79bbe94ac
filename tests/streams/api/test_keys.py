"""streams/api/keys.py: the token key from the environment, or the development secret file (pure: no stack)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from omnitrack.services import engine_processes
from omnitrack.settings import Settings
from streams.api.auth import ConfigError, Role, TokenVerifier
from streams.api.keys import SECRET_ENV, api_process_env, dev_secret_path, ensure_dev_secret, signing_secret, verifier_for
from streams.api.main import token

ENV_SECRET = "e" * 48


def test_the_dev_secret_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first = ensure_dev_secret(settings)
    path = dev_secret_path(settings)
    assert path == tmp_path / "api" / "dev-jwt-secret"
    assert len(first) == 64 and int(first, 16) >= 0  # 32 random bytes, hex
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_dev_secret(settings) == first
    assert api_process_env(settings) == {SECRET_ENV: first}
    assert signing_secret(settings) == (first, "HS256")


def test_an_environment_secret_wins_and_no_file_is_written(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, api_jwt_secret=ENV_SECRET)
    assert api_process_env(settings) == {}
    assert signing_secret(settings) == (ENV_SECRET, "HS256")
    assert verifier_for(settings)[1] == SECRET_ENV
    assert not dev_secret_path(settings).exists()


def test_the_api_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"{SECRET_ENV} is not set") as info:
        verifier_for(Settings(home=tmp_path))
    assert "production" in str(info.value).lower()
    assert not dev_secret_path(Settings(home=tmp_path)).exists(), "the API itself never creates a key"
    ensure_dev_secret(Settings(home=tmp_path))
    verifier, source = verifier_for(Settings(home=tmp_path))
    assert isinstance(verifier, TokenVerifier) and "development secret" in source


def test_omnitrack_api_exits_2_with_the_message(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "OMNITRACK_HOME": str(tmp_path), "KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    done = subprocess.run([sys.executable, "-m", "omnitrack.cli", "api"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 2, done.stderr
    assert f"omnitrack api: {SECRET_ENV} is not set" in done.stderr


def test_run_hands_the_dev_secret_to_the_api_process_only(tmp_path: Path) -> None:
    specs = {s.name: s for s in engine_processes(Settings(home=tmp_path), simulate=False)}
    secret = dev_secret_path(Settings(home=tmp_path)).read_text().strip()
    assert specs["api"].env == {SECRET_ENV: secret}
    assert specs["api"].argv[-1] == "api"
    assert all(SECRET_ENV not in s.env for name, s in specs.items() if name != "api")


def test_token_command_mints_a_token_the_api_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(home=tmp_path)
    assert token(settings, role="operator", sub="alice", ttl_s=60) == 0
    printed = capsys.readouterr().out.strip()
    principal = verifier_for(settings)[0].verify(printed)
    assert principal.sub == "alice" and principal.level is Role.operator


def test_token_command_refuses_with_a_public_key_setup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(home=tmp_path, api_jwt_public_key_file=tmp_path / "idp.pem", api_jwt_algorithms=["RS256"])
    assert token(settings, role="viewer", sub=None, ttl_s=60) == 2
    assert "identity provider" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="cannot read"):
        verifier_for(settings)
