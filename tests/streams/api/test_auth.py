"""streams/api/auth.py: token verification and roles, without a server (pure)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from streams.api.auth import (AuthError, ConfigError, Forbidden, Principal, Role, TokenVerifier, authorize,
                              mint_token)

SECRET = "s" * 40
OTHER_SECRET = "o" * 40
AUD, ISS = "omnitrack-api", "omnitrack"


def verifier(key: str = SECRET, algorithms: tuple[str, ...] = ("HS256",)) -> TokenVerifier:
    return TokenVerifier(key, algorithms=algorithms, audience=AUD, issuer=ISS, leeway_s=30)


def claims(**over: object) -> dict:
    now = int(time.time())
    base = {"sub": "alice", "roles": ["operator"], "aud": AUD, "iss": ISS, "iat": now, "exp": now + 600}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def reason_of(v: TokenVerifier, token: str) -> str:
    with pytest.raises(AuthError) as info:
        v.verify(token)
    return info.value.reason


def test_a_valid_token_gives_its_subject_and_roles() -> None:
    token = mint_token(SECRET, sub="alice", roles=["operator"], ttl_s=600)
    principal = verifier().verify(token)
    assert principal == Principal(sub="alice", roles=frozenset({Role.operator}))
    assert verifier().authenticate(f"Bearer {token}") == principal


def test_expired_token_is_refused_beyond_the_leeway_only() -> None:
    now = time.time()
    assert reason_of(verifier(), mint_token(SECRET, sub="a", roles=["viewer"], ttl_s=60, now=now - 200)) == "expired"
    # expired 10 s ago, within the 30 s leeway for clock skew: accepted
    assert verifier().verify(mint_token(SECRET, sub="a", roles=["viewer"], ttl_s=60, now=now - 70)).sub == "a"


def test_wrong_audience_and_wrong_issuer() -> None:
    assert reason_of(verifier(), mint_token(SECRET, sub="a", roles=["viewer"], audience="grafana")) == "audience"
    assert reason_of(verifier(), mint_token(SECRET, sub="a", roles=["viewer"], issuer="evil")) == "issuer"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused() -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims(roles=['admin']))}."
    assert reason_of(verifier(), unsigned) == "algorithm"
    with pytest.raises(ConfigError):
        verifier(algorithms=("none",))


def test_a_token_signed_with_another_secret() -> None:
    assert reason_of(verifier(), mint_token(OTHER_SECRET, sub="a", roles=["admin"])) == "signature"


def test_missing_required_claims() -> None:
    for claim in ("roles", "exp", "sub", "aud", "iss"):
        token = jwt.encode(claims(**{claim: None}), SECRET, algorithm="HS256")
        with pytest.raises(AuthError) as info:
            verifier().verify(token)
        assert (info.value.reason, claim in info.value.message) == ("missing_claim", True), claim


def test_malformed_claims_and_headers() -> None:
    assert reason_of(verifier(), jwt.encode(claims(roles="admin"), SECRET, algorithm="HS256")) == "bad_claims"
    assert reason_of(verifier(), "not.a.jwt") == "malformed"
    for header, reason in ((None, "missing"), ("", "missing"), ("Basic dXNlcjpwdw==", "scheme"), ("Bearer ", "scheme")):
        with pytest.raises(AuthError) as info:
            verifier().authenticate(header)
        assert info.value.reason == reason


def test_unknown_roles_are_ignored_and_give_no_access() -> None:
    principal = verifier().verify(jwt.encode(claims(roles=["superuser"]), SECRET, algorithm="HS256"))
    assert principal.roles == frozenset() and principal.level is None
    with pytest.raises(Forbidden):
        authorize(principal, Role.viewer)


def test_role_hierarchy() -> None:
    def who(*roles: Role) -> Principal:
        return Principal("x", frozenset(roles))

    assert [who(Role.viewer).allows(r) for r in Role] == [True, False, False]
    assert [who(Role.operator).allows(r) for r in Role] == [True, True, False]
    assert [who(Role.admin).allows(r) for r in Role] == [True, True, True]
    assert who(Role.viewer, Role.admin).level is Role.admin
    authorize(who(Role.admin), Role.operator)  # no exception
    with pytest.raises(Forbidden, match="needs role operator"):
        authorize(who(Role.viewer), Role.operator)


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def test_rs256_with_a_public_key_and_no_hmac_downgrade() -> None:
    private, public = _rsa_pair()
    rs = verifier(public, ("RS256",))
    assert rs.verify(jwt.encode(claims(), private, algorithm="RS256")).sub == "alice"
    # an HS256 token is refused, even one signed with the public key as HMAC secret (key confusion)
    assert reason_of(rs, mint_token(SECRET, sub="a", roles=["admin"])) == "algorithm"
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims(roles=['admin']))}"
    mac = hmac.new(public.encode(), signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert reason_of(rs, forged) == "algorithm"
    with pytest.raises(ConfigError):
        verifier(public, ("HS256",))  # a PEM public key is never an HMAC secret
    with pytest.raises(ConfigError):
        verifier(public, ("RS256", "HS256"))  # no mixed families


def test_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        verifier("short")
    with pytest.raises(ConfigError):
        verifier(algorithms=())
    with pytest.raises(ConfigError):
        mint_token(SECRET, sub="a", roles=["viewer"], algorithm="RS256")
    with pytest.raises(ValueError):
        mint_token(SECRET, sub="a", roles=["viewer"], ttl_s=0)
