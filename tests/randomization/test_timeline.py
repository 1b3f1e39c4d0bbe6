"""The randomisation app's contribution to the participant timeline."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from randomization.models import BlindingGuess, UnblindingIncident
from randomization.selectors import participant_timeline
from tests.factories import allocate, make_participant, make_staff
from trial.roles import Role


def test_unblinded_staff_see_the_arm_and_blinded_staff_only_the_date(sites: dict) -> None:
    imr, tau = make_participant("BAL"), make_participant("BAL")
    allocate(imr, "IMR")
    allocate(tau, "TAU")
    coordinator = make_staff("coord", Role.COORDINATOR, sites=["BAL"])
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    (entry,) = [e for e in participant_timeline(imr, coordinator) if e.title == "Randomised"]
    assert "IMR" in entry.detail and imr.allocation.randomization_code in entry.detail
    assert entry.url == f"/randomisation/participants/{imr.pk}/result/"
    seen = []
    for participant in (imr, tau):
        (entry,) = [
            e for e in participant_timeline(participant, assessor) if e.title == "Randomised"
        ]
        assert entry.when == participant.allocation.randomized_at
        seen.append((entry.title, entry.detail, entry.url))
    assert seen[0] == seen[1] == ("Randomised", "", "")


def test_guesses_and_unblinding_reports_appear_for_the_roles_that_read_them(sites: dict) -> None:
    participant = make_participant("BAL")
    allocate(participant, "TAU")
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    manager = make_staff("dm", Role.DATA_MANAGER)
    coordinator = make_staff("coord", Role.COORDINATOR, sites=["BAL"])
    BlindingGuess.objects.create(
        participant=participant,
        timepoint="post",
        assessor=assessor,
        guess="dont_know",
        recorded_at=timezone.now(),
    )
    UnblindingIncident.objects.create(
        person=assessor,
        participant=participant,
        learned_on=timezone.localdate() - timedelta(days=1),
        how="participant_told",
        reported_by=assessor,
    )
    titles = {
        user.username: [e.title for e in participant_timeline(participant, user)]
        for user in (assessor, manager, coordinator)
    }
    guess = "Blinding guess (Post-intervention (9 months after randomisation, window 8–11))"
    assert guess in titles["assessor"]
    assert "Unblinding reported" not in titles["assessor"]
    assert "Unblinding reported" in titles["dm"]
    assert guess not in titles["coord"]


def test_a_blinded_reader_sees_that_a_guess_was_made_but_no_arm_word(sites: dict) -> None:
    participant = make_participant("BAL")
    allocate(participant, "IMR")
    assessor = make_staff("assessor", Role.ASSESSOR, sites=["BAL"])
    BlindingGuess.objects.create(
        participant=participant,
        timepoint="post",
        assessor=assessor,
        guess="TAU",
        recorded_at=timezone.now(),
    )
    statistician = make_staff("stat", Role.STATISTICIAN)
    details = {
        user.username: [
            e.detail for e in participant_timeline(participant, user) if "guess" in e.title
        ]
        for user in (assessor, statistician)
    }
    assert details[assessor.username] == ["Recorded"]
    assert details["stat"] == ["Treatment as usual"]
