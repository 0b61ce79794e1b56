"""Console users, sign-in and sessions for the brand console (`/console`).

Passwords are hashed with argon2id (argon2-cffi's defaults). A sign-in that fails counts against
the brand's email (whatever the address it came from) and against the address; after
``MAX_FAILURES`` within ``THROTTLE_WINDOW`` further attempts are refused without checking the
password, right or wrong, until the window passes. A session is a random token in a cookie (its
SHA-256 here), with its own CSRF token, valid ``SESSION_HOURS``.

Owners bring in the rest of the team by invitation: a one-time link whose token is stored hashed,
valid ``INVITE_HOURS``, where the invited person sets their own password (so no owner ever knows
it). Role changes and removals never leave a brand without an owner, even when two owners act at
once. See docs/architecture.md ("Console").
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.transactions import in_transaction

from engine import audit
from engine.clock import utcnow
from engine.errors import DomainError, ErrorCode, NotFound
from engine.models.console import (
    ConsoleInvite,
    ConsoleRole,
    ConsoleSession,
    ConsoleUser,
    LoginFailure,
)
from engine.models.tenants import Tenant
from engine.tenancy import tenant_scope
from engine.text import check_text, require_texts

MAX_FAILURES = 10
THROTTLE_WINDOW = timedelta(minutes=15)
SESSION_HOURS = 12
PASSWORD_MIN = 12
INVITE_HOURS = 72
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


def _checked_email(email: str) -> str:
    email = _normal_email(email)
    require_texts(check_text(email, field="email", max_len=320))
    if "@" not in email:
        raise DomainError(ErrorCode.INVALID, "email must be an email address", "email")
    return email


def _checked_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise DomainError(
            ErrorCode.TOO_SHORT, f"passwords have at least {PASSWORD_MIN} characters", "password"
        )
    if len(password) > 1000:
        raise DomainError(ErrorCode.TOO_LONG, "passwords have at most 1000 characters", "password")
    return _hasher.hash(password)


async def add_user(email: str, role: ConsoleRole, password: str) -> ConsoleUser:
    """A console user of the tenant in scope (an existing email gets the new role and password)."""
    email = _checked_email(email)
    hashed = _checked_password(password)
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


@dataclass(frozen=True)
class IssuedInvite:
    invite: ConsoleInvite
    token: str  # the link's secret: shown once, stored only as its SHA-256


@dataclass(frozen=True)
class PendingInvite:
    invite: ConsoleInvite
    tenant: Tenant


async def invite_user(email: str, role: ConsoleRole, invited_by: int | None) -> IssuedInvite:
    """A one-time sign-up link for the tenant in scope; a new invite to the same email replaces
    the pending one (so only the latest link works)."""
    email = _checked_email(email)
    if await ConsoleUser.filter(email=email, disabled_at=None).exists():
        raise DomainError(
            ErrorCode.ALREADY_EXISTS, "this email already has a console account", "email"
        )
    token = secrets.token_urlsafe(32)
    async with in_transaction():
        await ConsoleInvite.filter(email=email, accepted_at=None).delete()
        invite = await ConsoleInvite.create(
            email=email,
            role=role,
            token_hash=_digest(token),
            invited_by_id=invited_by,
            expires_at=utcnow() + timedelta(hours=INVITE_HOURS),
        )
    return IssuedInvite(invite, token)


async def pending_invites() -> list[ConsoleInvite]:
    """The tenant's invites not yet accepted nor expired, newest first."""
    return await ConsoleInvite.filter(accepted_at=None, expires_at__gt=utcnow()).order_by("-id")


async def revoke_invite(invite_id: int) -> ConsoleInvite:
    invite = await ConsoleInvite.get_or_none(id=invite_id, accepted_at=None)
    if invite is None:
        raise NotFound("invite", "id")
    await invite.delete()
    return invite


async def invite_for(token: str) -> PendingInvite | None:
    """The live invite of a link's token (a cross-tenant lookup by hash, like a session's)."""
    if not token or len(token) > 200:
        return None
    row = await ConsoleInvite.unscoped().get_or_none(token_hash=_digest(token), accepted_at=None)
    if row is None or row.expires_at <= utcnow():
        return None
    return PendingInvite(row, await Tenant.get(id=row.tenant_id))


async def accept_invite(token: str, password: str) -> tuple[ConsoleUser, Tenant]:
    """The invited person's account with the password they chose; the link then stops working.
    Two submissions of one link make one account: the invite row is locked and re-checked."""
    pending = await invite_for(token)
    if pending is None:
        raise NotFound("invite", "token")
    hashed = _checked_password(password)
    with tenant_scope(pending.tenant.id):
        async with in_transaction():
            invite = (
                await ConsoleInvite.filter(id=pending.invite.id, accepted_at=None)
                .select_for_update()
                .first()
            )
            if invite is None or invite.expires_at <= utcnow():
                raise NotFound("invite", "token")
            user = await ConsoleUser.get_or_none(email=invite.email)
            if user is not None and user.disabled_at is None:
                # Added meanwhile (`cosource console-user add`): a link never resets a password.
                raise DomainError(
                    ErrorCode.ALREADY_EXISTS,
                    "this email already has a console account: sign in instead",
                    "email",
                )
            if user is None:
                user = await ConsoleUser.create(
                    email=invite.email, password_hash=hashed, role=invite.role
                )
            else:
                user.password_hash, user.role, user.disabled_at = hashed, invite.role, None
                await user.save()
            invite.accepted_at = utcnow()
            await invite.save(update_fields=["accepted_at"])
        await audit.record(
            audit.Entry(
                actor=audit.Actor(
                    "console_user", str(user.id), f"{user.email} ({user.role.value})"
                ),
                operation="acceptConsoleInvite",
                fields=["acceptConsoleInvite"],
            )
        )
    return user, pending.tenant


async def users() -> list[ConsoleUser]:
    """The tenant's active console users, oldest first."""
    return await ConsoleUser.filter(disabled_at=None).order_by("id")


async def _locked(user_id: int, leaving_owner: bool) -> ConsoleUser:
    """The user's row, locked, after every owner row (always in id order, so two owners acting
    on each other at once queue up instead of deadlocking, and the second one sees the first
    one's change). Refused when it would leave the brand without an owner."""
    owners = (
        await ConsoleUser.filter(role=ConsoleRole.OWNER, disabled_at=None)
        .order_by("id")
        .select_for_update()
    )
    user = await ConsoleUser.filter(id=user_id, disabled_at=None).select_for_update().first()
    if user is None:
        raise NotFound("console user", "id")
    if leaving_owner and user.role == ConsoleRole.OWNER and all(o.id == user.id for o in owners):
        raise DomainError(ErrorCode.INVALID, "a brand keeps at least one owner", "id")
    return user


async def set_role(user_id: int, role: ConsoleRole) -> ConsoleUser:
    """Takes effect on the user's next request (sessions read the role each time)."""
    async with in_transaction():
        user = await _locked(user_id, leaving_owner=role != ConsoleRole.OWNER)
        user.role = role
        await user.save(update_fields=["role"])
    return user


async def remove_user(user_id: int) -> ConsoleUser:
    """The account and its sessions go at once; the audit log keeps what they did."""
    async with in_transaction():
        user = await _locked(user_id, leaving_owner=True)
        await user.delete()
    return user
