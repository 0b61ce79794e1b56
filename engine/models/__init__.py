"""Every Tortoise model of the domain, in one app named ``models``."""

from engine.models.audit import AuditEntry
from engine.models.campaigns import (
    Campaign,
    CampaignMode,
    CampaignStatus,
    Participation,
    Threshold,
    ThresholdMetric,
)
from engine.models.console import (
    ConsoleInvite,
    ConsoleRole,
    ConsoleSession,
    ConsoleUser,
    LoginFailure,
)
from engine.models.events import DomainEvent
from engine.models.exposure import CampaignAlert, IdeaExposure
from engine.models.ideas import Idea, IdeaStatus, IdeaStatusChange, ThresholdCrossing
from engine.models.integrations import InboundReceipt, Integration, IntegrationKind
from engine.models.interactions import Comment, Pledge, Score, Vote
from engine.models.members import Member
from engine.models.merges import IdeaMerge, MergeTransfer, TransferKind
from engine.models.moderation import (
    ActorKind,
    Flag,
    FlagReason,
    FlagStatus,
    ModerationAction,
    ModerationEntry,
)
from engine.models.tenants import ApiKey, KeyKind, Tenant
from engine.models.vectors import IdeaVector

__all__ = [
    "ActorKind",
    "ApiKey",
    "AuditEntry",
    "Campaign",
    "CampaignAlert",
    "CampaignMode",
    "CampaignStatus",
    "Comment",
    "ConsoleInvite",
    "ConsoleRole",
    "ConsoleSession",
    "ConsoleUser",
    "DomainEvent",
    "Flag",
    "FlagReason",
    "FlagStatus",
    "Idea",
    "IdeaExposure",
    "IdeaMerge",
    "IdeaStatus",
    "IdeaStatusChange",
    "IdeaVector",
    "InboundReceipt",
    "Integration",
    "IntegrationKind",
    "KeyKind",
    "LoginFailure",
    "Member",
    "MergeTransfer",
    "ModerationAction",
    "ModerationEntry",
    "Participation",
    "Pledge",
    "Score",
    "Tenant",
    "Threshold",
    "ThresholdCrossing",
    "ThresholdMetric",
    "TransferKind",
    "Vote",
]
