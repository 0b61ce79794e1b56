"""Who is calling: a secret key, a publishable key, and optionally a member token with it.

- ``Authorization: Bearer sk_...``: the brand's server, everything in its tenant.
- ``X-Cosource-Key: pk_...``: public reads from allowed browser origins; with
  ``Authorization: Bearer <member JWT>`` also the member's own actions.
The tenant found here is put in scope for the whole request (engine.tenancy), which is what makes
other tenants' rows unreachable.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from starlette.datastructures import Headers

from engine import console as console_sessions
from engine import keys, member_tokens
from engine.errors import DomainError, Forbidden, Unauthenticated
from engine.members import upsert_member
from engine.models.members import Member
from engine.models.tenants import ApiKey, KeyKind, Tenant
from engine.tenancy import tenant_scope
from engine.visibility import Audience
from engine.visibility import Role as Role  # re-exported: the API names roles by it

KEY_HEADER = "x-cosource-key"
_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    # The API key used; None for a console session (which acts with the secret key's reach,
    # narrowed by its role: api.permissions).
    key: ApiKey | None
    role: Role
    # The member row when this request read it; a cached token carries only member_id and the
    # row is read when something needs it (Context.require_member, Query.viewer).
    member: Member | None = None
    member_id: int | None = None
    console: console_sessions.Session | None = None

    def __post_init__(self) -> None:
        if self.member is not None and self.member_id is None:
            object.__setattr__(self, "member_id", self.member.id)

    @property
    def tenant_id(self) -> int:
        return int(self.tenant.id)

    @property
    def audience(self) -> Audience:
        return Audience(self.role, self.member_id)


# Keys are looked up on every request; a short in-process cache saves two queries per request.
# Revocation takes effect within _CACHE_SECONDS.
_UNKNOWN = (
    f"unknown or revoked API key: send a publishable key (pk_...) in the {KEY_HEADER} header, "
    "or a secret key as 'Authorization: Bearer sk_...'"
)
# digest -> (until, key, tenant, the key's principal without a member token). A Principal is
# immutable, so requests with the key alone share one.
_key_cache: dict[str, tuple[float, ApiKey, Tenant, Principal]] = {}


# Publishable keys' digests, computed once per key rather than once per request (they are public;
# secret keys are hashed each time, so none is kept in memory).
_digests: dict[str, str] = {}


def _digest(raw: str) -> str:
    if not raw.startswith("pk_"):
        return keys.hash_key(raw)
    digest = _digests.get(raw)
    if digest is None:
        if len(_digests) > 10_000:
            _digests.clear()
        digest = _digests[raw] = keys.hash_key(raw)
    return digest


async def _lookup(raw: str) -> tuple[ApiKey, Tenant, Principal]:
    digest = _digest(raw)
    hit = _key_cache.get(digest)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1], hit[2], hit[3]
    key = await keys.find_key(raw)
    if key is None:
        raise Unauthenticated(_UNKNOWN)
    tenant = await Tenant.get(id=key.tenant_id)
    if len(_key_cache) > 10_000:
        _key_cache.clear()
    role = Role.SECRET if key.kind == KeyKind.SECRET else Role.PUBLIC
    principal = Principal(tenant, key, role)
    _key_cache[digest] = (now + _CACHE_SECONDS, key, tenant, principal)
    return key, tenant, principal


# A member token is resolved to its member id once per token per _MEMBER_SECONDS, not with an
# upsert SELECT (and a signature check) per request. The claims are inside the token, so a changed
# claim is a new token: a miss, and the upsert applies it. A hit is only taken before the token's
# exp (the full check, leeway included, decides after that) and while the secret that signed it
# is still accepted (the current one, or the previous one during its grace).
# Only the id is cached; whoever needs the member's row (a mutation checking its level,
# Query.viewer) reads it fresh.
_MEMBER_SECONDS = 60.0
# key (tenant, token) -> (until, token exp, member id, the identity secret that signed it)
_member_cache: dict[tuple[int, str], tuple[float, float, int, str]] = {}


# Tokens being resolved right now: a page's widgets send their first requests together, and the
# requests behind the first wait for its answer instead of each verifying and upserting the same
# member (and contending for its row).
_resolving: dict[tuple[int, str], asyncio.Event] = {}


def _cached_member(tenant: Tenant, key: tuple[int, str]) -> int | None:
    hit = _member_cache.get(key)
    if hit is not None and hit[0] > time.monotonic() and hit[1] > time.time():
        signer = hit[3]
        # Signed with the current secret, or with the previous one while its grace lasts.
        if signer == tenant.identity_secret or member_tokens.in_grace(tenant, signer):
            return hit[2]
    return None


async def _member(tenant: Tenant, token: str) -> tuple[Member | None, int]:
    key = (tenant.id, token)
    while True:
        member_id = _cached_member(tenant, key)
        if member_id is not None:
            return None, member_id
        pending = _resolving.get(key)
        if pending is None:
            break
        # When that one fails (a bad claim, an outage), the next waiter finds out for itself.
        await pending.wait()
    done = _resolving[key] = asyncio.Event()
    try:
        return await _resolve_member(tenant, token, key)
    finally:
        if _resolving.get(key) is done:
            del _resolving[key]
        done.set()


async def _resolve_member(tenant: Tenant, token: str, key: tuple[int, str]) -> tuple[Member, int]:
    verified = member_tokens.verify(tenant, token)  # one decode: claims, exp and signer
    with tenant_scope(tenant.id):
        try:
            member = await upsert_member(verified.data)
        except DomainError as exc:
            raise Unauthenticated(f"member token claims are invalid: {exc}") from exc
    if len(_member_cache) > 10_000:
        _member_cache.clear()
    until = time.monotonic() + _MEMBER_SECONDS
    _member_cache[key] = (until, verified.expires_at, member.id, verified.signer)
    return member, member.id


def cached_public_key(raw: str, origin: str | None) -> Principal | None:
    """The principal of a publishable key already in the key cache and usable from ``origin``;
    None whenever :func:`authenticate` would read the database or refuse (the cache-hit front
    path then leaves the request to the full app: api/front.py)."""
    hit = _key_cache.get(_digest(raw))
    if hit is None or hit[0] <= time.monotonic():
        return None
    key, principal = hit[1], hit[3]
    if key.kind != KeyKind.PUBLISHABLE or not origin_allowed(key, origin):
        return None
    return principal


def cached_member(principal: Principal, token: str) -> Principal | None:
    """The member principal for ``token`` sent with the publishable key of ``principal``, when
    the token was resolved lately (the member cache); None whenever :func:`authenticate` would
    verify it or read the database (the compiled-POST front path then leaves the request to the
    full app: api/front.py)."""
    tenant = principal.tenant
    member_id = _cached_member(tenant, (tenant.id, token))
    if member_id is None:
        return None
    return Principal(tenant, principal.key, Role.MEMBER, None, member_id)


def forget_cached_keys() -> None:
    _key_cache.clear()
    _member_cache.clear()


def _bearer(headers: Headers) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <token>'")
    return token.strip()


def origin_allowed(key: ApiKey, origin: str | None) -> bool:
    """Browsers send Origin; a publishable key restricted to origins refuses the others."""
    if origin is None or not key.allowed_origins:
        return True
    return origin.rstrip("/") in {o.rstrip("/") for o in key.allowed_origins}


CONSOLE_COOKIE = "cosource_console"


async def _console(headers: Headers) -> Principal | None:
    """A console session's cookie (only when no key was sent: keys always win)."""
    cookie = headers.get("cookie")
    if not cookie or CONSOLE_COOKIE not in cookie:
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie)
    except CookieError:
        return None
    morsel = jar.get(CONSOLE_COOKIE)
    if morsel is None:
        return None
    session = await console_sessions.session_for(morsel.value)
    if session is None:
        raise Unauthenticated("the console session has ended; sign in again at /console")
    return Principal(session.tenant, None, Role.SECRET, console=session)


async def authenticate(headers: Headers) -> Principal | None:
    """None when no credentials were sent (introspection may still run); raises on bad ones."""
    bearer = _bearer(headers)
    public_raw = headers.get(KEY_HEADER)
    if bearer is not None and bearer.startswith("sk_"):
        key, tenant, principal = await _lookup(bearer)
        if key.kind != KeyKind.SECRET:
            raise Unauthenticated(_UNKNOWN)
        return principal
    if public_raw is None:
        if bearer is not None:
            raise Unauthenticated(f"a member token needs the {KEY_HEADER} header")
        return await _console(headers)
    key, tenant, principal = await _lookup(public_raw.strip())
    if key.kind != KeyKind.PUBLISHABLE:
        raise Unauthenticated(f"{KEY_HEADER} takes a publishable key (pk_...)")
    if not origin_allowed(key, headers.get("origin")):
        raise Forbidden("this publishable key may not be used from this origin")
    if bearer is None:
        return principal
    member, member_id = await _member(tenant, bearer)
    return Principal(tenant, key, Role.MEMBER, member, member_id)
