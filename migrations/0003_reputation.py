from tortoise import migrations
from tortoise.migrations import operations as ops
from engine.reputation.models import AuditKind, BadgeKind, Reason
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_webhooks')]

    initial = False

    operations = [
        ops.CreateModel(
            name='MemberBadge',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='badges', on_delete=OnDelete.CASCADE)),
                ('code', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=100)),
                ('description', fields.CharField(default='', max_length=300)),
                ('kind', fields.CharEnumField(default=BadgeKind.RULE, description='RULE: RULE\nBRAND: BRAND', enum_type=BadgeKind, max_length=16)),
                ('source_key', fields.CharField(max_length=160)),
                ('idea_id', fields.BigIntField(null=True)),
                ('campaign_id', fields.BigIntField(null=True)),
                ('awarded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'member_badge', 'app': 'models', 'unique_together': (('tenant_id', 'source_key'),), 'indexes': [Index(fields=['tenant_id', 'member_id', 'awarded_at'])], 'pk_attr': 'id', 'table_description': 'A badge a member holds: awarded by a rule or by the brand, never taken back.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ReputationAudit',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='SERIAL_VOTING: SERIAL_VOTING', enum_type=AuditKind, max_length=32)),
                ('source_key', fields.CharField(max_length=160)),
                ('voter_id', fields.BigIntField(null=True)),
                ('author_id', fields.BigIntField(null=True)),
                ('vote_ids', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('points_reversed', fields.IntField(default=0)),
                ('window_start', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('window_end', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('event_id', fields.BigIntField(null=True)),
                ('detail', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'reputation_audit', 'app': 'models', 'unique_together': (('tenant_id', 'source_key'),), 'indexes': [Index(fields=['tenant_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'An anti-gaming decision: what was detected, which votes it covered, what was reversed.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ReputationEntry',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='reputation_entries', on_delete=OnDelete.CASCADE)),
                ('points', fields.IntField()),
                ('reason', fields.CharEnumField(description='IDEA_SUBMITTED: IDEA_SUBMITTED\nUPVOTE_RECEIVED: UPVOTE_RECEIVED\nDOWNVOTE_RECEIVED: DOWNVOTE_RECEIVED\nUPVOTE_WITHDRAWN: UPVOTE_WITHDRAWN\nDOWNVOTE_WITHDRAWN: DOWNVOTE_WITHDRAWN\nVOTE_CAST: VOTE_CAST\nVOTE_CAST_WITHDRAWN: VOTE_CAST_WITHDRAWN\nCOMMENT: COMMENT\nIDEA_ACCEPTED: IDEA_ACCEPTED\nIDEA_SHIPPED: IDEA_SHIPPED\nCAMPAIGN_WINNER: CAMPAIGN_WINNER\nSERIAL_VOTING_REVERSED: SERIAL_VOTING_REVERSED\nMERGE_DUPLICATE_REVERSED: MERGE_DUPLICATE_REVERSED\nMERGE_DUPLICATE_RESTORED: MERGE_DUPLICATE_RESTORED', enum_type=Reason, max_length=32)),
                ('withheld', fields.IntField(default=0)),
                ('vote_earned', fields.BooleanField(default=False)),
                ('source_key', fields.CharField(max_length=160)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('campaign_id', fields.BigIntField(null=True)),
                ('idea_id', fields.BigIntField(null=True)),
                ('subject', fields.CharField(default='', max_length=140)),
                ('actor_id', fields.BigIntField(null=True)),
                ('event_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'reputation_entry', 'app': 'models', 'unique_together': (('tenant_id', 'source_key'),), 'indexes': [Index(fields=['tenant_id', 'member_id', 'id']), Index(fields=['tenant_id', 'member_id', 'occurred_at']), Index(fields=['tenant_id', 'occurred_at', 'member_id', 'points']), Index(fields=['tenant_id', 'campaign_id', 'occurred_at'])], 'pk_attr': 'id', 'table_description': 'One line of the reputation ledger of a member, immutable once written.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='VoteCredit',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('vote_id', fields.BigIntField(unique=True)),
                ('voter_id', fields.BigIntField()),
                ('author_id', fields.BigIntField()),
                ('idea_id', fields.BigIntField()),
                ('campaign_id', fields.BigIntField(null=True)),
                ('version', fields.IntField(default=0)),
                ('value', fields.SmallIntField(default=0)),
                ('author_target', fields.IntField(default=0)),
                ('author_points', fields.IntField(default=0)),
                ('voter_target', fields.IntField(default=0)),
                ('voter_points', fields.IntField(default=0)),
                ('cast_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('serial', fields.BooleanField(default=False)),
                ('merge_duplicate', fields.BooleanField(default=False)),
                ('merge_id', fields.BigIntField(null=True)),
                ('author_held', fields.IntField(default=0)),
                ('voter_held', fields.IntField(default=0)),
            ],
            options={'table': 'reputation_vote_credit', 'app': 'models', 'indexes': [Index(fields=['tenant_id', 'voter_id', 'author_id', 'cast_at'])], 'pk_attr': 'id', 'table_description': 'What the ledger holds for one vote: the last applied version and the points booked per side.'},
            bases=['TenantModel'],
        ),
    ]
