from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0013_governance')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Campaign',
            name='hot_half_life_hours',
            field=fields.FloatField(default=3.762874945799765, db_default=3.762874945799765),
        ),
        ops.AddIndex(
            model_name='DomainEvent',
            index=Index(fields=['tenant_id', 'campaign_id', 'occurred_at', 'type', 'member_id']),
        ),
        ops.AddIndex(
            model_name='Vote',
            index=Index(fields=['idea_id', 'value', 'member_id', 'tenant_id']),
        ),
    ]
