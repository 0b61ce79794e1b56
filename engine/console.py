"""Console users, sign-in and sessions for the brand console (`/console`).

Passwords are hashed with argon2id (argon2-cffi's defaults). A sign-in that fails counts against
the brand's email (whatever the address it came from) and against the address; after
``MAX_FAILURES`` within ``THROTTLE_WINDOW`` further attempts are refused without checking the
password, right or wrong, until the window passes. A session is a random token in a cookie (its
SHA-256 here), with its own CSRF token, valid ``SESSION_HOURS``. See docs/architecture.md ("Console").
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode
from engine.models.console import ConsoleRole, ConsoleSession, ConsoleUser, LoginFailure
from engine.models.tenants import Tenant
from engine.tenancy import tenant_scope
from engine.text import check_text, require_texts

MAX_FAILURES = 10
THROTTLE_WINDOW = timedelta(minutes=15)
SESSION_HOURS = 12
PASSWORD_MIN = 12
_hasher = PasswordHasher()


class SignInRefused(Exception):
    """Wrong brand, email or password (one message for all: no account probing)."""


class SignInThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Session:
    user: ConsoleUser
    tenant: Tenant
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _normal_email(email: str) -> str:
    return email.strip().lower()


async def add_user(email: str, role: ConsoleRole, password: str) -> ConsoleUser:
    """A console user of the tenant in scope (an existing email gets the new role and password)."""
    email = _normal_email(email)
    require_texts(check_text(email, field="email", max_len=320))
    if "@" not in email:
        raise DomainError(ErrorCode.INVALID, "email must be an email address", "email")
    if len(password) < PASSWORD_MIN:
        raise DomainError(
            ErrorCode.TOO_SHORT, f"passwords have at least {PASSWORD_MIN} characters", "password"
        )
    hashed = _hasher.hash(password)
    user = await ConsoleUser.get_or_none(email=email)
    if user is None:
        return await ConsoleUser.create(email=email, password_hash=hashed, role=role)
    user.password_hash, user.role, user.disabled_at = hashed, role, None
    await user.save()
    return user


async def sign_in(brand_slug: str, email: str, password: str, ip: str) -> tuple[str, Session]:
    """A new session (its cookie token, and the session) or SignInRefused / SignInThrottled."""
    tenant = await Tenant.get_or_none(slug=brand_slug.strip().lower())
    if tenant is None:
        _hasher.hash(password)  # the same work as a real check: timing tells nothing
        raise SignInRefused()
    email = _normal_email(email)
    now = utcnow()
    with tenant_scope(tenant.id):
        since = now - THROTTLE_WINDOW
        recent = await LoginFailure.filter(failed_at__gte=since, email=email).count()
        from_ip = await LoginFailure.filter(failed_at__gte=since, ip=ip).count() if ip else 0
        if max(recent, from_ip) >= MAX_FAILURES:
            oldest = (
                await LoginFailure.filter(failed_at__gte=since, email=email)
                .order_by("failed_at")
                .first()
            )
            wait = THROTTLE_WINDOW - (now - oldest.failed_at) if oldest else THROTTLE_WINDOW
            raise SignInThrottled(max(1, int(wait.total_seconds())))
        user = await ConsoleUser.get_or_none(email=email, disabled_at=None)
        try:
            if user is None:
                _hasher.hash(password)
                raise VerificationError("no such user")
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError) as exc:
            await LoginFailure.create(email=email, ip=ip[:64], failed_at=now)
            raise SignInRefused() from exc
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
            await user.save(update_fields=["password_hash"])
        await LoginFailure.filter(email=email).delete()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        await ConsoleSession.create(
            user_id=user.id,
            token_hash=_digest(token),
            csrf_token=csrf,
            expires_at=now + timedelta(hours=SESSION_HOURS),
        )
    return token, Session(user, tenant, csrf)


async def session_for(token: str) -> Session | None:
    """The live session of a cookie token (the one cross-tenant lookup, like an API key's)."""
    if not token or len(token) > 200:
        return None
    row = await ConsoleSession.unscoped().get_or_none(token_hash=_digest(token))
    if row is None or row.expires_at <= utcnow():
        return None
    user = await ConsoleUser.unscoped().get_or_none(id=row.user_id, disabled_at=None)
    if user is None:
        return None
    tenant = await Tenant.get(id=row.tenant_id)
    return Session(user, tenant, row.csrf_token)


async def sign_out(token: str) -> None:
    await ConsoleSession.unscoped().filter(token_hash=_digest(token)).delete()
