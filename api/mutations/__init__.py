"""Root mutation fields, one module per concept, merged into one Mutation type."""

from strawberry.tools import merge_types

from api.mutations.campaigns import CampaignMutations
from api.mutations.console import ConsoleMutations
from api.mutations.exposure import ExposureMutations
from api.mutations.ideas import IdeaMutations, MergeMutations
from api.mutations.integrations import IntegrationMutations
from api.mutations.interactions import InteractionMutations
from api.mutations.keys import KeyMutations
from api.mutations.members import MemberMutations
from api.mutations.moderation import ModerationMutations
from api.mutations.privacy import PrivacyMutations
from api.mutations.reputation import ReputationMutations
from api.mutations.webhooks import WebhookMutations

Mutation = merge_types(
    "Mutation",
    (
        IdeaMutations,
        MergeMutations,
        InteractionMutations,
        IntegrationMutations,
        CampaignMutations,
        MemberMutations,
        ModerationMutations,
        ReputationMutations,
        WebhookMutations,
        ExposureMutations,
        KeyMutations,
        ConsoleMutations,
        PrivacyMutations,
    ),
)

__all__ = ["Mutation"]
