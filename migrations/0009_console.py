from tortoise import migrations
from tortoise.migrations import operations as ops
from engine.models.console import ConsoleRole
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_identity_rotation')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConsoleUser',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(max_length=320)),
                ('password_hash', fields.CharField(max_length=200)),
                ('role', fields.CharEnumField(description='OWNER: OWNER\nMODERATOR: MODERATOR\nANALYST: ANALYST', enum_type=ConsoleRole, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('disabled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'console_user', 'app': 'models', 'unique_together': (('tenant_id', 'email'),), 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='ConsoleSession',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.ConsoleUser', source_field='user_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('csrf_token', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'console_session', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A signed-in browser: the cookie holds a random token, the table its hash.'},
            bases=['TenantModel'],
        ),
        ops.CreateModel(
            name='LoginFailure',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('email', fields.CharField(max_length=320)),
                ('ip', fields.CharField(default='', max_length=64)),
                ('failed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'console_login_failure', 'app': 'models', 'indexes': [Index(fields=['tenant_id', 'email', 'failed_at'])], 'pk_attr': 'id', 'table_description': 'One wrong password for an email of a brand, from an address: what throttling counts.'},
            bases=['TenantModel'],
        ),
    ]
