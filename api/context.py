"""The per-request GraphQL context: who is calling, and the request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as _Info

from api.auth import Principal
from api.dataloaders import Loaders
from api.errors import PublicError, forbidden, unauthenticated
from api.live import Broadcaster
from engine.models.members import Member
from engine.moderation import Actor
from engine.visibility import PUBLIC, Audience, Role


@dataclass
class Context:
    request: Any
    response: Any
    principal: Principal | None
    auth_error: PublicError | None = None
    live: Broadcaster | None = None
    # Set by strawberry from a websocket's connection_init payload (keys for browsers).
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = field(init=False, default=None)
    _viewer: Member | None = field(init=False, default=None)
    # False when an HTTP request sent no operationName (api.extensions refuses ambiguous documents).
    operation_named: bool = True

    @property
    def loaders(self) -> Loaders:
        # Built on first use: a websocket learns its principal after the context exists.
        audience = self.audience
        if self._loaders is None or self._loaders.audience != audience:
            self._loaders = Loaders(audience)
        return self._loaders

    def forget_loaded(self) -> None:
        """Drop what the loaders cached (a subscription's next update starts afresh)."""
        self._loaders = None

    @property
    def audience(self) -> Audience:
        """Who is looking, for the engine's visibility rules (engine.visibility)."""
        return self.principal.audience if self.principal else PUBLIC

    # Root resolvers call one of these; each raises the right top-level error.
    def require_principal(self) -> Principal:
        if self.principal is None:
            raise unauthenticated()
        return self.principal

    def require_secret(self) -> Principal:
        principal = self.require_principal()
        if principal.role != Role.SECRET:
            raise forbidden("this needs a secret key (Authorization: Bearer sk_...)")
        return principal

    def require_member_id(self) -> int:
        """The token's member id, without reading its row: member actions on ideas read it in
        their own first statement (engine.interactions) and refuse a member gone since."""
        principal = self.require_principal()
        if principal.member_id is None:
            if principal.role == Role.SECRET:
                raise forbidden("member actions need a publishable key and a member token")
            raise unauthenticated("this needs a member token (Authorization: Bearer <jwt>)")
        return principal.member_id

    async def require_member(self) -> Member:
        self.require_member_id()
        member = await self.viewer()
        if member is None:  # deleted since its token was cached
            raise unauthenticated("the member of this token no longer exists")
        return member

    def require_live(self) -> Broadcaster:
        if self.live is None:  # the app's lifespan configures it before serving
            raise RuntimeError("live updates are not configured in this process")
        return self.live

    def require_brand_actor(self) -> Actor:
        """The brand's actor the moderation log records: the console user signed in, or the
        secret key (docs/architecture.md, "Governance")."""
        principal = self.require_secret()
        if principal.console is not None:
            user = principal.console.user
            return Actor.console_user(user.id, user.email)
        key = principal.key
        if key is None:  # a secret principal is a console session or carries its key
            raise forbidden("this needs a secret key (Authorization: Bearer sk_...)")
        return Actor.secret_key(key.id, f"{key.prefix}… {key.label}".strip())

    @property
    def is_secret(self) -> bool:
        return self.principal is not None and self.principal.role == Role.SECRET

    async def viewer(self) -> Member | None:
        """The token's member row, read at most once per request."""
        principal = self.principal
        if principal is None or principal.member_id is None:
            return None
        if principal.member is not None:
            return principal.member
        if self._viewer is None:
            self._viewer = await Member.get_or_none(id=principal.member_id)
        return self._viewer


Info = _Info[Context, None]
