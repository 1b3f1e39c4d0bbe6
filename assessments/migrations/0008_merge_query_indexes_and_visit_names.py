# Two branches each added a migration after 0005 (perf: the query list indexes; dailyuse: field
# verification and the visit names). Nothing to do but join them.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0006_query_list_indexes"),
        ("assessments", "0007_visit_names_with_timing"),
    ]

    operations = []
