"""configureIntegration (secret key): set or rotate the secret an inbound source signs with."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.mutations.base import attempt
from api.types.common import UserError
from api.types.integration import Integration, IntegrationKindEnum
from engine import integrations


@strawberry.input
class ConfigureIntegrationInput:
    kind: IntegrationKindEnum
    secret: str | None = strawberry.field(
        default=None,
        description="SHOPIFY: the secret Shopify signs webhooks with (the app's client secret). "
        "INBOUND: leave empty, a whsec_ secret is generated.",
    )
    revoke_previous: bool = strawberry.field(
        default=False,
        description="Stop accepting the replaced secret now instead of after 24 hours.",
    )


@strawberry.type
class ConfigureIntegrationPayload:
    integration: Integration | None
    secret: str | None = strawberry.field(
        description="The secret now in force. Shown only now: store it."
    )
    user_errors: list[UserError]


@strawberry.type
class IntegrationMutations:
    @strawberry.mutation(
        description="Set an inbound source's secret; calling it again rotates (the old secret "
        "verifies for 24 hours unless revokePrevious)."
    )
    async def configure_integration(
        self, info: Info, input: ConfigureIntegrationInput
    ) -> ConfigureIntegrationPayload:
        principal = info.context.require_secret()
        done, errors = await attempt(
            lambda: integrations.configure_integration(
                input.kind, input.secret, revoke_previous=input.revoke_previous
            )
        )
        if done is None:
            return ConfigureIntegrationPayload(integration=None, secret=None, user_errors=errors)
        return ConfigureIntegrationPayload(
            integration=Integration.from_row(done.integration, principal.tenant.slug),
            secret=done.secret,
            user_errors=[],
        )
