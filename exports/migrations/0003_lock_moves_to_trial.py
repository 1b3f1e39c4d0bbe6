# The freeze/lock log moves to the `trial` app: it belongs to the whole trial, and every app's
# lock trigger reads it. Its rows stay where they are: the tables are renamed to the new app's
# names, after the old triggers (named after this app) are removed; trial.0002 declares the
# models in their new app and installs the triggers again, and exports.0004 forgets them.

import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('exports', '0002_export_jobs_and_masking_key'),
    ]

    operations = [
        pgtrigger.migrations.RemoveTrigger(model_name='datasetlock', name='append_only'),
        pgtrigger.migrations.RemoveTrigger(model_name='datasetlock', name='insert_insert'),
        pgtrigger.migrations.RemoveTrigger(model_name='datasetlockevent', name='append_only'),
        migrations.AlterModelTable(name='datasetlock', table='trial_datasetlock'),
        migrations.AlterModelTable(name='datasetlockevent', table='trial_datasetlockevent'),
    ]
