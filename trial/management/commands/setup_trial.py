from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from trial.audit import task_context
from trial.models import Site

# The three community mental health centres of the trial (seed paper, Table 2).
SITES = (
    ("BAL", "Ballerup", 1),
    ("GLA", "Gladsaxe", 2),
    ("FRB", "Frederiksberg", 3),
)


class Command(BaseCommand):
    help = "Prepare the trial's reference data (the three sites). Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic(), task_context("setup_trial", None):
            for code, name, number in SITES:
                site, created = Site.objects.get_or_create(
                    code=code, defaults={"name": name, "number": number}
                )
                if not created and (site.name, site.number) != (name, number):
                    site.name, site.number = name, number
                    site.save(update_fields=["name", "number"])
                self.stdout.write(f"{'Created' if created else 'Checked'} site {code} {name}")
        self.stdout.write(self.style.SUCCESS("The trial is set up."))
