"""Member tokens: HS256 JWTs signed with the tenant's identity secret by the brand's backend.

A token's lifetime (``exp`` after ``iat``, or after now without ``iat``) is capped by
``COSOURCE_MEMBER_TOKEN_MAX_LIFETIME_HOURS`` (24 h by default): a leaked token must not stay good
for months, and backends refresh tokens cheaply.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import jwt

from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode, Unauthenticated
from engine.members import MemberData
from engine.models.tenants import Tenant
from engine.settings import get_settings

DEFAULT_TTL = timedelta(hours=1)
MIN_TTL = timedelta(seconds=60)
_LEEWAY_SECONDS = 30


def max_ttl() -> timedelta:
    return timedelta(hours=get_settings().member_token_max_lifetime_hours)


def check_ttl(ttl: timedelta) -> None:
    """For tokens Cosource issues itself (issueMemberToken)."""
    longest = max_ttl()
    if not MIN_TTL <= ttl <= longest:
        raise DomainError(
            ErrorCode.OUT_OF_RANGE,
            f"ttlSeconds must be 60 to {int(longest.total_seconds())} s "
            f"(the maximum member-token lifetime)",
            "ttlSeconds",
        )


def issue_member_token(tenant: Tenant, data: MemberData, ttl: timedelta = DEFAULT_TTL) -> str:
    now = utcnow()
    claims: dict[str, object] = {
        "sub": data.external_id,
        "iat": int(now.timestamp()),
        "exp": int((now + min(ttl, max_ttl())).timestamp()),
    }
    if data.display_name is not None:
        claims["name"] = data.display_name
    if data.email is not None:
        claims["email"] = data.email
    if data.verified is not None:
        claims["verified"] = data.verified
    if data.tier is not None:
        claims["tier"] = data.tier
    return jwt.encode(claims, tenant.identity_secret, algorithm="HS256")


def in_grace(tenant: Tenant, secret: str) -> bool:
    """``secret`` is the tenant's previous identity secret and its grace period is running."""
    expires = tenant.previous_identity_secret_expires_at
    return bool(
        tenant.previous_identity_secret == secret and expires is not None and expires > utcnow()
    )


def _check_lifetime(claims: dict[str, object]) -> None:
    exp, iat = claims.get("exp"), claims.get("iat")
    now = time.time()
    start = iat if isinstance(iat, int | float) and iat <= now + _LEEWAY_SECONDS else now
    longest = max_ttl().total_seconds()
    if not isinstance(exp, int | float) or exp - start > longest + _LEEWAY_SECONDS:
        hours = longest / 3600
        raise Unauthenticated(
            f"member token lifetime exceeds the maximum of {hours:g} h: sign tokens whose exp is "
            f"at most {hours:g} h after iat (COSOURCE_MEMBER_TOKEN_MAX_LIFETIME_HOURS)"
        )


@dataclass(frozen=True)
class Verified:
    """A token :func:`verify` accepted: its claims, its exp (unix seconds) and the secret that
    signed it (the current one, or the previous one during its grace)."""

    data: MemberData
    expires_at: float
    signer: str


def verify_member_token(tenant: Tenant, token: str) -> MemberData:
    """Only HS256 with this tenant's secret (or, during a rotation's grace period, the previous
    one); exp and sub required (so alg none and forgeries fail)."""
    return verify(tenant, token).data


def verify(tenant: Tenant, token: str) -> Verified:
    """:func:`verify_member_token`, with what a cache of the token needs, from the one decode."""
    keys = [tenant.identity_secret]
    expires = tenant.previous_identity_secret_expires_at
    if tenant.previous_identity_secret and expires is not None and expires > utcnow():
        keys.append(tenant.previous_identity_secret)
    claims: dict[str, object] | None = None
    signer = keys[0]
    for index, key in enumerate(keys):
        signer = key
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                options={"require": ["exp", "sub"]},
                leeway=_LEEWAY_SECONDS,
            )
            break
        except jwt.InvalidSignatureError as exc:
            if index == len(keys) - 1:
                raise Unauthenticated(f"invalid member token: {exc}") from exc
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("member token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid member token: {exc}") from exc
    assert claims is not None
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise Unauthenticated("member token has no subject")
    _check_lifetime(claims)

    def text(name: str) -> str | None:
        value = claims.get(name)
        return value if isinstance(value, str) else None

    verified = claims.get("verified")
    data = MemberData(
        external_id=sub,
        display_name=text("name"),
        email=text("email"),
        verified=verified if isinstance(verified, bool) else None,
        tier=text("tier"),
    )
    return Verified(data, float(claims["exp"]), signer)  # type: ignore[arg-type]
