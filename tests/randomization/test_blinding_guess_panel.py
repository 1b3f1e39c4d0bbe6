"""The blinding guess on the assessments page: in the post-intervention and follow-up sections
an assessor records IMR / TAU / don't know (htmx swaps the panel in place; without JavaScript
the form posts and comes back to the page), corrects it with a reason, and nothing in any
answer depends on the arm."""

from __future__ import annotations

import re
from typing import Any

import pytest

from randomization.models import BlindingGuess
from tests.factories import allocate, make_participant, make_staff, page_client
from trial.roles import Role

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def assessor(sites: dict) -> Any:
    return make_staff("assessor", Role.ASSESSOR, sites=["BAL"])


def randomized(arm: str = "TAU") -> Any:
    participant = make_participant("BAL")
    allocate(participant, arm)
    return participant


def assessments_page(user: Any, participant: Any) -> str:
    response = page_client(user).get(f"/assessments/participants/{participant.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def guess_url(participant: Any, timepoint: str = "post") -> str:
    return f"/randomisation/participants/{participant.pk}/blinding-guess/{timepoint}/"


def section(html: str, timepoint: str) -> str:
    """The part of the assessments page about one timepoint."""
    start = html.index(f'id="tp-{timepoint}"')
    following = [html.find(f'id="tp-{t}"', start + 1) for t in ("baseline", "post", "followup")]
    end = min([i for i in following if i > start] or [len(html)])
    return html[start:end]


def test_an_assessor_finds_the_guess_form_in_the_post_and_follow_up_sections_only(
    assessor: Any,
) -> None:
    participant = randomized()
    html = assessments_page(assessor, participant)
    assert 'id="blinding-guess-post"' in section(html, "post")
    assert 'id="blinding-guess-followup"' in section(html, "followup")
    assert 'id="blinding-guess-' not in section(html, "baseline")
    for value in ("IMR", "TAU", "dont_know"):
        assert f'value="{value}"' in section(html, "post")
    # Before randomisation there is nothing to guess.
    assert 'id="blinding-guess-' not in assessments_page(assessor, make_participant("BAL"))


def test_the_guess_is_recorded_in_place_with_htmx_and_corrected_only_with_a_reason(
    assessor: Any,
) -> None:
    participant = randomized()
    client = page_client(assessor)
    recorded = client.post(guess_url(participant), {"guess": "dont_know"}, **HTMX)
    assert recorded.status_code == 200
    panel = recorded.content.decode()
    assert panel.lstrip().startswith(
        '<section class="panel blinding-guess" id="blinding-guess-post"'
    )
    assert (
        "The blinding guess is recorded." in panel and "Recorded: <strong>Don&#x27;t know" in panel
    )
    assert "Reason for changing the recorded guess" in panel
    assert BlindingGuess.objects.get(participant=participant, timepoint="post").guess == "dont_know"

    refused = client.post(guess_url(participant), {"guess": "TAU"}, **HTMX)
    assert refused.status_code == 200  # htmx swaps only successful answers
    assert "Give the reason for changing the recorded guess." in refused.content.decode()
    assert BlindingGuess.objects.get(participant=participant).guess == "dont_know"

    changed = client.post(
        guess_url(participant), {"guess": "TAU", "reason": "Clicked the wrong answer"}, **HTMX
    )
    assert "Recorded: <strong>Treatment as usual" in changed.content.decode()
    assert BlindingGuess.objects.get(participant=participant).guess == "TAU"

    nonsense = client.post(guess_url(participant, "followup"), {"guess": "maybe"}, **HTMX)
    assert "Select a valid choice" in nonsense.content.decode()
    assert not BlindingGuess.objects.filter(timepoint="followup").exists()


def test_without_javascript_the_form_posts_and_returns_to_the_assessments_page(
    assessor: Any,
) -> None:
    participant = randomized()
    back = f"/assessments/participants/{participant.pk}/#blinding-guess-followup"
    response = page_client(assessor).post(
        guess_url(participant, "followup"), {"guess": "IMR", "next": back}
    )
    assert response.status_code == 302 and response["Location"] == back
    assert BlindingGuess.objects.get(participant=participant, timepoint="followup").guess == "IMR"
    # Somewhere else is never a destination.
    elsewhere = page_client(assessor).post(
        guess_url(participant, "post"), {"guess": "IMR", "next": "https://evil.example/"}
    )
    assert elsewhere["Location"] == f"/participants/{participant.pk}/"


def test_readers_of_guesses_see_the_recorded_guess_and_other_roles_see_no_panel(
    assessor: Any,
) -> None:
    participant = randomized()
    page_client(assessor).post(guess_url(participant), {"guess": "dont_know"}, **HTMX)
    data_manager = make_staff("dm", Role.DATA_MANAGER)
    post = section(assessments_page(data_manager, participant), "post")
    assert (
        "Recorded: <strong>Don&#x27;t know" in post
        and "<form" not in post.split("blinding-guess")[1]
    )
    assert "Not recorded yet." in section(assessments_page(data_manager, participant), "followup")
    for role in (Role.COORDINATOR, Role.CLINICIAN):
        user = make_staff(f"user-{role}", role, sites=["BAL"])
        assert 'id="blinding-guess-' not in assessments_page(user, participant)
    # Recording stays the assessors' (403 for a data manager, even by a direct post).
    assert (
        page_client(data_manager).post(guess_url(participant), {"guess": "IMR"}).status_code == 403
    )


def test_nothing_the_panel_answers_depends_on_the_arm(assessor: Any) -> None:
    imr, tau = randomized("IMR"), randomized("TAU")
    client = page_client(assessor)

    def blank(participant: Any, text: str) -> str:
        text = text.replace(participant.study_id, "<STUDY-ID>")
        # The key in the pages' addresses (a bare "1" or "2" is in the markup as well).
        text = re.sub(rf"(?<=/){participant.pk}(?=/)", "<PK>", text)
        text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "<CSRF>", text)
        return re.sub(r'"X-CSRFToken": "[^"]+"', "<CSRF>", text)

    answers: dict[str, list[str]] = {"IMR": [], "TAU": []}
    for arm, participant in (("IMR", imr), ("TAU", tau)):
        steps = [
            client.get(f"/assessments/participants/{participant.pk}/"),
            client.post(guess_url(participant), {"guess": "IMR"}, **HTMX),
            client.post(guess_url(participant), {"guess": "TAU"}, **HTMX),
            client.post(guess_url(participant), {"guess": "bogus"}, **HTMX),
            client.post(guess_url(participant), {"guess": "TAU", "reason": "Re-thought"}, **HTMX),
            client.get(f"/assessments/participants/{participant.pk}/"),
        ]
        answers[arm] = [f"{r.status_code} {blank(participant, r.content.decode())}" for r in steps]
    assert answers["IMR"] == answers["TAU"]
