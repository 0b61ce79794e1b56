from tortoise import migrations
from tortoise.migrations import operations as ops
from engine.sealed import SealedField
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_sealed_secrets')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Tenant',
            name='previous_identity_secret',
            field=SealedField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Tenant',
            name='previous_identity_secret_expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
