from tortoise import migrations
from tortoise.migrations import operations as ops
from engine.models.console import ConsoleRole
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0014_hot_half_life_insights')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConsoleInvite',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(max_length=320)),
                ('role', fields.CharEnumField(description='OWNER: OWNER\nMODERATOR: MODERATOR\nANALYST: ANALYST', enum_type=ConsoleRole, max_length=16)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('invited_by_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('accepted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'console_invite', 'app': 'models', 'indexes': [Index(fields=['tenant_id', 'email'])], 'pk_attr': 'id', 'table_description': "An owner's invitation: the link holds a random token, the table its hash, until it expires."},
            bases=['TenantModel'],
        ),
    ]
