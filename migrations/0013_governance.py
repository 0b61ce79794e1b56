from tortoise import migrations
from tortoise.migrations import operations as ops
from engine.models.moderation import ActorKind
from engine.reputation.models import Reason
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_request_ids')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Campaign',
            name='response_due_days',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Campaign',
            name='winner_min_count',
            field=fields.IntField(default=1, db_default=1),
        ),
        ops.AddField(
            model_name='ModerationEntry',
            name='actor_id',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='ModerationEntry',
            name='actor_kind',
            field=fields.CharEnumField(null=True, description='MEMBER: MEMBER\nSECRET_KEY: SECRET_KEY\nCONSOLE_USER: CONSOLE_USER\nSYSTEM: SYSTEM', enum_type=ActorKind, max_length=16),
        ),
        ops.AddField(
            model_name='ModerationEntry',
            name='actor_label',
            field=fields.CharField(default='', db_default='', max_length=120),
        ),
        ops.AddField(
            model_name='ReputationAudit',
            name='restored_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='ReputationEntry',
            name='reason',
            field=fields.CharEnumField(description='IDEA_SUBMITTED: IDEA_SUBMITTED\nUPVOTE_RECEIVED: UPVOTE_RECEIVED\nDOWNVOTE_RECEIVED: DOWNVOTE_RECEIVED\nUPVOTE_WITHDRAWN: UPVOTE_WITHDRAWN\nDOWNVOTE_WITHDRAWN: DOWNVOTE_WITHDRAWN\nVOTE_CAST: VOTE_CAST\nVOTE_CAST_WITHDRAWN: VOTE_CAST_WITHDRAWN\nCOMMENT: COMMENT\nIDEA_ACCEPTED: IDEA_ACCEPTED\nIDEA_SHIPPED: IDEA_SHIPPED\nCAMPAIGN_WINNER: CAMPAIGN_WINNER\nCAMPAIGN_WINNER_REVERSED: CAMPAIGN_WINNER_REVERSED\nSERIAL_VOTING_REVERSED: SERIAL_VOTING_REVERSED\nMERGE_DUPLICATE_REVERSED: MERGE_DUPLICATE_REVERSED\nMERGE_DUPLICATE_RESTORED: MERGE_DUPLICATE_RESTORED', enum_type=Reason, max_length=32),
        ),
        ops.AddField(
            model_name='Vote',
            name='discounted_by',
            field=fields.BigIntField(null=True),
        ),
    ]
