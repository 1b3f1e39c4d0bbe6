"""VisitProgress, the worklist's source: the trigger on the responses keeps each visit's done
forms as codes (`done`) and as bits (`done_mask`), and its verified forms as bits
(`verified_mask`, the SDV worklist's counts); all say the same as the responses after every
kind of change, made through the ORM and raw SQL alike, and after a rebuild."""

from __future__ import annotations

from typing import Any

from django.db import connection

from assessments.models import (
    PROGRESS_CODES,
    InstrumentResponse,
    VisitProgress,
    progress_bit,
    rebuild_visit_progress,
)
from instruments import registry
from tests.factories import make_participant


def progress() -> dict[tuple[int, str], tuple[set[str], int]]:
    return {
        (row.participant_id, row.timepoint): (set(row.done), row.done_mask)
        for row in VisitProgress.objects.all()
    }


def verified() -> dict[tuple[int, str], int]:
    return {
        (row.participant_id, row.timepoint): row.verified_mask
        for row in VisitProgress.objects.all()
    }


def expected() -> dict[tuple[int, str], tuple[set[str], int]]:
    """What the responses say: the done forms of each visit, as codes and as bits."""
    found: dict[tuple[int, str], tuple[set[str], int]] = {}
    for response in InstrumentResponse.objects.filter(status__in=("complete", "verified")):
        codes, mask = found.get((response.participant_id, response.timepoint), (set(), 0))
        found[(response.participant_id, response.timepoint)] = (
            codes | {response.instrument},
            mask | progress_bit(response.instrument),
        )
    return found


def expected_verified() -> dict[tuple[int, str], int]:
    found: dict[tuple[int, str], int] = {}
    for response in InstrumentResponse.objects.filter(status="verified"):
        visit = (response.participant_id, response.timepoint)
        found[visit] = found.get(visit, 0) | progress_bit(response.instrument)
    return found


def assert_in_step() -> None:
    """Every visit's codes and masks match its responses, and each other. A visit whose last
    done form stopped being done keeps its row, with nothing in it."""
    kept = progress()
    wanted = expected()
    kept_verified, wanted_verified = verified(), expected_verified()
    for visit, (codes, mask) in kept.items():
        assert mask == sum(progress_bit(code) for code in codes), visit
        assert (codes, mask) == wanted.get(visit, (set(), 0)), visit
        assert kept_verified[visit] == wanted_verified.get(visit, 0), visit
        assert kept_verified[visit] & ~mask == 0, visit  # only done forms are verified
    assert set(wanted) <= set(kept)


def respond(participant: Any, timepoint: str, code: str, status: str = "complete") -> Any:
    return InstrumentResponse.objects.create(
        participant=participant, timepoint=timepoint, instrument=code, status=status
    )


def test_every_instrument_has_a_bit_and_the_bits_are_distinct() -> None:
    assert set(registry.codes()) <= set(PROGRESS_CODES)
    assert len(set(PROGRESS_CODES)) == len(PROGRESS_CODES)
    bits = [progress_bit(code) for code in PROGRESS_CODES]
    assert len(set(bits)) == len(bits) and all(bit.bit_count() == 1 for bit in bits)
    # The order is stored in every row: the first codes keep their bits for good.
    assert PROGRESS_CODES[:4] == ("DEMOG", "GAF", "PSP", "PANSS")


def test_the_mask_follows_the_responses_through_every_change(sites: dict) -> None:
    first, second = make_participant("BAL"), make_participant("GLA")
    gaf = respond(first, "baseline", "GAF")
    panss = respond(first, "baseline", "PANSS")
    draft = respond(first, "baseline", "PSP", status="draft")
    respond(second, "post", "IMRS_C")
    assert_in_step()
    assert progress()[(first.pk, "baseline")][1] == progress_bit("GAF") | progress_bit("PANSS")

    # A draft completed, a completed form verified (done as before, now verified too), one
    # back to draft.
    draft.status = "complete"
    draft.save()
    gaf.status = "verified"
    gaf.save()
    panss.status = "draft"
    panss.save()
    assert_in_step()
    assert progress()[(first.pk, "baseline")][1] == progress_bit("GAF") | progress_bit("PSP")
    assert verified()[(first.pk, "baseline")] == progress_bit("GAF")

    # A verified form changed again goes back to complete: waiting for verification.
    gaf.status = "complete"
    gaf.save()
    assert_in_step()
    assert verified()[(first.pk, "baseline")] == 0
    gaf.status = "verified"
    gaf.save()

    # A done form moved to another visit and another instrument, in one update.
    InstrumentResponse.objects.filter(pk=gaf.pk).update(timepoint="post", instrument="HAMD6")
    assert_in_step()
    # Bulk changes and raw SQL are caught too.
    InstrumentResponse.objects.filter(participant=first).update(status="complete")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE assessments_instrumentresponse SET status = 'draft' WHERE instrument = %s",
            ["IMRS_C"],
        )
    assert_in_step()
    assert progress()[(second.pk, "post")] == (set(), 0)

    # Deleted forms leave their visit.
    InstrumentResponse.objects.filter(pk=panss.pk).delete()
    respond(second, "followup", "CSQ8").delete()
    assert_in_step()
    assert progress()[(first.pk, "baseline")] == ({"PSP"}, progress_bit("PSP"))


def test_a_rebuild_gives_the_same_codes_and_masks(sites: dict) -> None:
    participant = make_participant("BAL")
    for code in ("DEMOG", "GAF", "SHS", "IMRS_C"):
        respond(participant, "baseline", code)
    respond(participant, "post", "CSQ8", status="verified")
    respond(participant, "post", "GAF", status="draft")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE assessments_visitprogress SET done = '{}', done_mask = 0, verified_mask = 0"
        )
    rebuild_visit_progress()
    assert_in_step()
    assert progress() == {
        (participant.pk, "baseline"): (
            {"DEMOG", "GAF", "SHS", "IMRS_C"},
            sum(progress_bit(c) for c in ("DEMOG", "GAF", "SHS", "IMRS_C")),
        ),
        (participant.pk, "post"): ({"CSQ8"}, progress_bit("CSQ8")),
    }
    assert verified() == {(participant.pk, "baseline"): 0, (participant.pk, "post"): 1 << 9}
