"""Writes of the randomisation app (DESIGN.md: typed, keyword-only, one transaction each)."""

from randomization.services.allocation import Outcome, participant_randomize, randomize
from randomization.services.blinding import (
    blinding_guess_record,
    unblinding_incident_report,
)
from randomization.services.list_reads import (
    allocation_list_csv,
    allocation_list_get,
    allocation_list_seed,
    allocation_list_verify,
    trial_master_file_package,
)
from randomization.services.lists import allocation_list_import, allocation_lists_generate

__all__ = [
    "Outcome",
    "allocation_list_csv",
    "allocation_list_get",
    "allocation_list_import",
    "allocation_list_seed",
    "allocation_list_verify",
    "allocation_lists_generate",
    "blinding_guess_record",
    "participant_randomize",
    "randomize",
    "trial_master_file_package",
    "unblinding_incident_report",
]
