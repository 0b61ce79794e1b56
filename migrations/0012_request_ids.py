from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_integrations')]

    initial = False

    operations = [
        ops.AddField(
            model_name='DomainEvent',
            name='request_id',
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
