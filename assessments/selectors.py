"""Reads for assessments."""

from __future__ import annotations

from assessments.models import InstrumentResponse, ResponseStatus, Timepoint

# What randomisation needs at baseline when RANDOMIZATION_REQUIRES_BASELINE is on (API.md):
# the demographics and the clinician-rated interview.
BASELINE_REQUIRED_FOR_RANDOMISATION = ("DEMOG", "GAF", "PSP", "PANSS", "HAMD6", "YMRS")


def baseline_missing(participant: object) -> list[str]:
    """Instrument codes of the required baseline forms that are not complete yet."""
    done = set(
        InstrumentResponse.objects.filter(
            participant=participant,
            timepoint=Timepoint.BASELINE,
            instrument__in=BASELINE_REQUIRED_FOR_RANDOMISATION,
            status__in=[ResponseStatus.COMPLETE, ResponseStatus.VERIFIED],
        ).values_list("instrument", flat=True)
    )
    return [code for code in BASELINE_REQUIRED_FOR_RANDOMISATION if code not in done]
