"""Bearer tokens (JWT) and role-based access for the API: pure functions, no server and no I/O.

Why this shape:
* The accepted algorithms come from configuration, never from the token's header, and `none` is refused:
  a token that chooses its own algorithm can choose to be unsigned, or make an RSA public key act as an
  HMAC secret. A verifier holds either an HMAC secret or a public key, never both, with matching algorithms.
* `exp`, `aud`, `iss`, `sub` and `roles` are required: a token without an expiry is a password that never
  changes, one without audience/issuer may have been minted for another service with the same key, and
  `sub` becomes the actor written on every alert command (the audit trail).
* Roles are ordered (viewer < operator < admin); a route names the least role it needs, so adding a role
  never means editing every route.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import jwt

__all__ = [
    "Role", "Principal", "AuthError", "Forbidden", "ConfigError", "TokenVerifier", "authorize", "mint_token",
    "parse_roles", "HMAC_ALGORITHMS", "ASYMMETRIC_ALGORITHMS", "MIN_SECRET_CHARS",
]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                                   "ES512", "EdDSA"})

MIN_SECRET_CHARS = 32
"""Shortest HMAC secret accepted: a short secret can be brute-forced offline from any one token (RFC 7518
§3.2 asks for a key at least as long as the hash, 256 bits for HS256)."""

REQUIRED_CLAIMS = ("exp", "aud", "iss", "sub", "roles")

MAX_SUB_CHARS = 128
"""`sub` becomes `AlertCommand.actor`, which allows at most 128 characters."""

MAX_TTL_S = 30 * 24 * 3600
"""Longest lifetime `mint_token` gives: a leaked long-lived token is a standing credential."""


class Role(IntEnum):
    """Ordered: a higher role implies every lower one."""

    viewer = 1
    operator = 2
    admin = 3


class ConfigError(ValueError):
    """The verifier is misconfigured (no key, an unknown or mixed algorithm list): the API must not start."""


class AuthError(Exception):
    """No valid credentials (HTTP 401). `reason` is one of a fixed set (a metric label)."""

    REASONS = frozenset({"missing", "scheme", "malformed", "algorithm", "signature", "expired", "not_yet_valid",
                         "audience", "issuer", "missing_claim", "bad_claims", "invalid"})

    def __init__(self, reason: str, message: str) -> None:
        assert reason in self.REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.message = message


class Forbidden(Exception):
    """Valid credentials without the role the route needs (HTTP 403)."""

    def __init__(self, needed: Role, principal: "Principal") -> None:
        have = principal.level.name if principal.level else "no role"
        super().__init__(f"this needs role {needed.name}; the token of {principal.sub!r} has {have}")
        self.needed = needed


@dataclass(frozen=True)
class Principal:
    """Who called: the token's subject and the roles it grants."""

    sub: str
    roles: frozenset[Role]

    @property
    def level(self) -> Role | None:
        """The highest role held, or None."""
        return max(self.roles) if self.roles else None

    def allows(self, needed: Role) -> bool:
        return self.level is not None and self.level >= needed


def parse_roles(claim: Any) -> frozenset[Role]:
    """The known roles in a `roles` claim (a list of strings); unknown names are ignored, not an error,
    so an identity provider may carry other applications' roles in the same claim."""
    if not isinstance(claim, list) or not all(isinstance(r, str) for r in claim):
        raise AuthError("bad_claims", "the roles claim must be a list of strings")
    return frozenset(Role[r] for r in claim if r in Role.__members__)


def authorize(principal: Principal, needed: Role) -> None:
    """Raise Forbidden unless `principal` holds `needed` or a higher role."""
    if not principal.allows(needed):
        raise Forbidden(needed, principal)


def _check_algorithms(algorithms: Sequence[str]) -> tuple[str, ...]:
    algs = tuple(algorithms)
    if not algs:
        raise ConfigError("no JWT algorithm configured")
    unknown = [a for a in algs if a not in HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS]
    if unknown:
        raise ConfigError(f"JWT algorithms {unknown} are not supported (never 'none'); use "
                          f"{sorted(HMAC_ALGORITHMS)} with a secret or {sorted(ASYMMETRIC_ALGORITHMS)} with a public key")
    if set(algs) & HMAC_ALGORITHMS and set(algs) & ASYMMETRIC_ALGORITHMS:
        raise ConfigError("JWT algorithms mix HMAC and public-key ones: a public key could then be used as an "
                          "HMAC secret (key confusion); configure one family")
    return algs


class TokenVerifier:
    """Verifies `Authorization: Bearer <jwt>` headers against one key and a fixed algorithm list."""

    def __init__(self, key: str, *, algorithms: Sequence[str], audience: str, issuer: str,
                 leeway_s: float = 30.0) -> None:
        self._algorithms = _check_algorithms(algorithms)
        self._hmac = self._algorithms[0] in HMAC_ALGORITHMS
        if self._hmac and len(key) < MIN_SECRET_CHARS:
            raise ConfigError(f"the JWT secret has {len(key)} characters; at least {MIN_SECRET_CHARS} are needed")
        if not self._hmac and "PUBLIC KEY" not in key and "CERTIFICATE" not in key:
            raise ConfigError("the JWT key for public-key algorithms must be a PEM public key")
        for alg in self._algorithms:  # a key that does not fit an algorithm fails now, not on the first request
            try:
                jwt.get_algorithm_by_name(alg).prepare_key(key)
            except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
                raise ConfigError(f"the JWT key does not fit {alg}: {exc}") from exc
        self._key = key
        self._audience = audience
        self._issuer = issuer
        self._leeway_s = leeway_s

    @property
    def algorithms(self) -> tuple[str, ...]:
        return self._algorithms

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization` header value; AuthError when missing or invalid."""
        if not authorization:
            raise AuthError("missing", "no bearer token (Authorization: Bearer <token>)")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("scheme", "the Authorization header must be 'Bearer <token>'")
        return self.verify(token.strip())

    def verify(self, token: str) -> Principal:
        """Check signature, algorithm, expiry, audience, issuer and claims; AuthError with the reason."""
        try:
            claims = jwt.decode(token, self._key, algorithms=list(self._algorithms), audience=self._audience,
                                issuer=self._issuer, leeway=self._leeway_s,
                                options={"require": list(REQUIRED_CLAIMS), "verify_signature": True})
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("expired", "the token has expired") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise AuthError("algorithm", f"the token's algorithm is not accepted (accepted: "
                                         f"{', '.join(self._algorithms)})") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError("signature", "the token's signature does not verify") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("audience", f"the token is not for audience {self._audience!r}") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("issuer", f"the token is not from issuer {self._issuer!r}") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("missing_claim", f"the token lacks the {exc.claim!r} claim") from exc
        except jwt.ImmatureSignatureError as exc:
            raise AuthError("not_yet_valid", "the token is not valid yet") from exc
        except jwt.DecodeError as exc:
            raise AuthError("malformed", "the token is not a well-formed JWT") from exc
        except jwt.InvalidTokenError as exc:  # any other claim PyJWT rejects (e.g. a non-numeric exp)
            raise AuthError("invalid", f"the token is invalid: {exc}") from exc
        sub = claims["sub"]
        if not isinstance(sub, str) or not 0 < len(sub) <= MAX_SUB_CHARS:
            raise AuthError("bad_claims", f"sub must be a string of 1..{MAX_SUB_CHARS} characters")
        return Principal(sub=sub, roles=parse_roles(claims["roles"]))


def mint_token(secret: str, *, sub: str, roles: Iterable[Role | str], ttl_s: float = 3600.0,
               audience: str = "omnitrack-api", issuer: str = "omnitrack", algorithm: str = "HS256",
               now: float | None = None) -> str:
    """A signed HMAC token for `sub` with `roles` (for `omnitrack api token` and tests).

    Only HMAC: with a public-key setup, tokens come from the identity provider that holds the private key."""
    if algorithm not in HMAC_ALGORITHMS:
        raise ConfigError(f"mint_token signs with HMAC only, not {algorithm}")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be in (0, {MAX_TTL_S}]")
    issued = int(time.time() if now is None else now)
    names = [r.name if isinstance(r, Role) else Role[r].name for r in roles]
    claims: dict[str, Any] = {"sub": sub, "roles": names, "aud": audience, "iss": issuer, "iat": issued,
                              "nbf": issued, "exp": issued + int(ttl_s)}
    return jwt.encode(claims, secret, algorithm=algorithm)
