"""API keys and the identity secret (secret key): list, rotate, revoke; rotateIdentitySecret."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from api.context import Info
from api.mutations.base import attempt
from api.types.common import UserError
from api.types.keys import ApiKey
from engine import keys, tenants
from engine.errors import NotFound


def _key_id(value: strawberry.ID) -> int:
    try:
        return int(str(value).removeprefix("key_"))
    except ValueError as exc:
        raise NotFound("key", "id") from exc


@strawberry.input
class RotateApiKeyInput:
    id: strawberry.ID
    grace_seconds: int = strawberry.field(
        default=0, description="How long the old key keeps working (0 s to 7 days)."
    )


@strawberry.type
class RotateApiKeyPayload:
    api_key: ApiKey | None
    key: str | None = strawberry.field(description="The new key, shown this once.")
    user_errors: list[UserError]


@strawberry.input
class RevokeApiKeyInput:
    id: strawberry.ID


@strawberry.type
class RevokeApiKeyPayload:
    api_key: ApiKey | None
    user_errors: list[UserError]


@strawberry.input
class RotateIdentitySecretInput:
    grace_seconds: int = strawberry.field(
        default=86_400,
        description="How long member tokens signed with the old secret still verify (0 s to 7 days).",
    )


@strawberry.type
class RotateIdentitySecretPayload:
    identity_secret: str | None = strawberry.field(description="The new secret, shown this once.")
    previous_valid_until: datetime | None
    user_errors: list[UserError]


@strawberry.type
class KeyMutations:
    @strawberry.mutation(
        description="Issue a replacement for a key (same kind, label and origins); the old key "
        "stops after graceSeconds. Secret key only."
    )
    async def rotate_api_key(self, info: Info, input: RotateApiKeyInput) -> RotateApiKeyPayload:
        info.context.require_secret()
        issued, errors = await attempt(
            lambda: keys.rotate_key(_key_id(input.id), timedelta(seconds=input.grace_seconds))
        )
        if issued is None:
            return RotateApiKeyPayload(api_key=None, key=None, user_errors=errors)
        return RotateApiKeyPayload(
            api_key=ApiKey.from_row(issued.key), key=issued.raw, user_errors=[]
        )

    @strawberry.mutation(
        description="Stop a key now (within 30 s on every API process). The last working secret "
        "key cannot be revoked: rotate it. Secret key only."
    )
    async def revoke_api_key(self, info: Info, input: RevokeApiKeyInput) -> RevokeApiKeyPayload:
        info.context.require_secret()
        row, errors = await attempt(lambda: keys.revoke_key(_key_id(input.id)))
        return RevokeApiKeyPayload(
            api_key=ApiKey.from_row(row) if row else None, user_errors=errors
        )

    @strawberry.mutation(
        description="A new identity secret for signing member tokens; the old one still verifies "
        "for graceSeconds. Secret key only."
    )
    async def rotate_identity_secret(
        self, info: Info, input: RotateIdentitySecretInput
    ) -> RotateIdentitySecretPayload:
        principal = info.context.require_secret()
        tenant, errors = await attempt(
            lambda: tenants.rotate_identity_secret(
                principal.tenant_id, timedelta(seconds=input.grace_seconds)
            )
        )
        if tenant is None:
            return RotateIdentitySecretPayload(
                identity_secret=None, previous_valid_until=None, user_errors=errors
            )
        return RotateIdentitySecretPayload(
            identity_secret=tenant.identity_secret,
            previous_valid_until=tenant.previous_identity_secret_expires_at,
            user_errors=[],
        )
