from tortoise import migrations
from tortoise.migrations import operations as ops
from engine.models.campaigns import ThresholdMetric
from engine.models.integrations import IntegrationKind
from engine.sealed import SealedField
from webhooks.models import PayloadPreset
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0010_idea_vectors')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InboundReceipt',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='SHOPIFY: SHOPIFY\nINBOUND: INBOUND', enum_type=IntegrationKind, max_length=16)),
                ('webhook_id', fields.CharField(max_length=200)),
                ('topic', fields.CharField(max_length=100)),
                ('member_id', fields.BigIntField(null=True)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'inbound_receipt', 'app': 'models', 'unique_together': (('tenant_id', 'kind', 'webhook_id'),), 'pk_attr': 'id', 'table_description': 'A webhook applied once: the unique (tenant, kind, webhook id) makes replays no-ops.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='Integration',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharEnumField(description='SHOPIFY: SHOPIFY\nINBOUND: INBOUND', enum_type=IntegrationKind, max_length=16)),
                ('secret', SealedField(unique=False)),
                ('previous_secret', SealedField(null=True, unique=False)),
                ('previous_secret_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('rotated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'integration', 'app': 'models', 'unique_together': (('tenant_id', 'kind'),), 'pk_attr': 'id', 'table_description': 'One per tenant and kind, with the secret that verifies its signatures.'},
            bases=['TenantModel'],
        ),
        ops.AddField(
            model_name='Campaign',
            name='rank_by_supporter_value',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Idea',
            name='supporter_count',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Idea',
            name='supporter_value_cents',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Idea',
            name='supporter_verified_count',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddIndex(
            model_name='Idea',
            index=Index(fields=['tenant_id', 'campaign_id', 'supporter_value_cents', 'id']),
        ),
        ops.AlterField(
            model_name='Threshold',
            name='metric',
            field=fields.CharEnumField(description='NET_VOTES: NET_VOTES\nUPVOTES: UPVOTES\nPLEDGERS: PLEDGERS\nPLEDGED_QUANTITY: PLEDGED_QUANTITY\nAVERAGE_SCORE: AVERAGE_SCORE\nSUPPORTER_VALUE: SUPPORTER_VALUE', enum_type=ThresholdMetric, max_length=32),
        ),
        ops.AddField(
            model_name='WebhookEndpoint',
            name='preset',
            field=fields.CharEnumField(default=PayloadPreset.STANDARD, description='STANDARD: STANDARD\nCOMMERCE_PREORDER: COMMERCE_PREORDER\nCRM_CONTACTS: CRM_CONTACTS', db_default='STANDARD', enum_type=PayloadPreset, max_length=24),
        ),
    ]
