# Sites move to the `trial` app (the ground floor every app stands on). Their rows stay where
# they are: the tables are renamed to the new app's names, after the old audit triggers (named
# after this app, writing into participants_siteevent) are removed; trial.0002 declares the
# models in their new app and installs the triggers again, and participants.0003 forgets them.

import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('participants', '0001_initial'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(model_name='site', name='insert_insert'),
        pgtrigger.migrations.RemoveTrigger(model_name='site', name='update_update'),
        pgtrigger.migrations.RemoveTrigger(model_name='site', name='delete_delete'),
        pgtrigger.migrations.RemoveTrigger(model_name='siteevent', name='append_only'),
        migrations.AlterModelTable(name='site', table='trial_site'),
        migrations.AlterModelTable(name='siteevent', table='trial_siteevent'),
    ]
