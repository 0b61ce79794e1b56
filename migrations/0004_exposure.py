from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_reputation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CampaignAlert',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign_id', fields.BigIntField()),
                ('kind', fields.CharField(max_length=48)),
                ('period', fields.CharField(max_length=16)),
                ('data', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'campaign_alert', 'app': 'models', 'unique_together': (('tenant_id', 'campaign_id', 'kind', 'period'),), 'pk_attr': 'id', 'table_description': 'An alert raised once per campaign, kind and period (the unique row is the "once").'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='IdeaExposure',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('idea_id', fields.BigIntField()),
                ('campaign_id', fields.BigIntField()),
                ('day', fields.DateField()),
                ('impressions', fields.IntField(default=0)),
            ],
            options={'table': 'idea_exposure', 'app': 'models', 'unique_together': (('tenant_id', 'idea_id', 'day'),), 'indexes': [Index(fields=['tenant_id', 'campaign_id', 'day'])], 'pk_attr': 'id', 'table_description': 'Impressions of one idea on one UTC day, added to in batches (engine.exposure).'},
            bases=['TenantModel'],
        ),
        ops.AddField(
            model_name='Idea',
            name='impressions',
            field=fields.BigIntField(default=0, db_default=0),
        ),
    ]
