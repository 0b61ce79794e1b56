from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_console')]

    initial = False

    operations = [
        ops.CreateModel(
            name='IdeaVector',
            fields=[
                ('tenant_id', fields.BigIntField()),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('idea', fields.OneToOneField('models.Idea', source_field='idea_id', db_constraint=True, to_field='id', related_name='vector', on_delete=OnDelete.CASCADE)),
                ('model', fields.CharField(max_length=64)),
                ('text_hash', fields.CharField(max_length=32)),
                ('vector', fields.BinaryField()),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'idea_vector', 'app': 'models', 'pk_attr': 'id'},
            bases=['TenantModel'],
        ),
    ]
