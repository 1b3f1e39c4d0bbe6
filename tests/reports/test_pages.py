"""The role home pages, the overview, the CONSORT page and the picture downloads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from tests.factories import make_staff, page_client
from tests.reports import trial
from tests.reports.trial import DANISH, ReportTrial
from trial.roles import Role

pytestmark = pytest.mark.django_db

ARM_WORDS = re.compile(r"IMR \+ treatment as usual|Treatment as usual|\bTAU\b|Allocated to")


def get(client: Client, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    return response


def test_each_role_gets_its_own_section(report_trial: ReportTrial) -> None:
    expectations = {
        Role.COORDINATOR: [
            "home-coordinator",
            "Ready to randomise",
            DANISH,
            "Projected completion",
        ],
        Role.ASSESSOR: ["home-assessor", "visits with forms to enter"],
        Role.CLINICIAN: ["home-clinician", "visits with forms to enter"],
        Role.DATA_MANAGER: ["home-data_manager", "Open queries by age", "Retention"],
        Role.MONITOR: ["home-monitor", "source-data verification"],
        Role.STATISTICIAN: ["home-statistician", "Allocation list capacity", "Recent exports"],
        Role.INSTRUCTOR: ["home-instructor", "This week's IMR sessions"],
        Role.INVESTIGATOR: ["home-investigator", "Assessed for eligibility", "Retention"],
    }
    for role, texts in expectations.items():
        user = make_staff(None, role, sites=["BAL"])
        body = get(page_client(user), "/").content.decode()
        for text in texts:
            assert text in body, (role, text)
        others = [f'id="home-{r}"' for r in expectations if r != role]
        assert not any(other in body for other in others), role


def test_a_user_with_two_roles_sees_both_sections(report_trial: ReportTrial) -> None:
    user = make_staff(None, Role.COORDINATOR, Role.ASSESSOR, sites=["BAL"])
    body = get(page_client(user), "/").content.decode()
    assert 'id="home-coordinator"' in body and 'id="home-assessor"' in body
    # Blinded wins: the coordinator who is also an assessor sees no IMR sessions.
    assert "IMR sessions" not in body


def test_the_coordinator_sees_their_sites_only(report_trial: ReportTrial) -> None:
    user = make_staff(None, Role.COORDINATOR, sites=["GLA"])
    body = get(page_client(user), "/").content.decode()
    assert report_trial.people["c"].study_id not in body  # BAL's consented participant
    assert "Younger than 18." in body
    assert "<strong>1</strong> of 66 randomised" in body


def test_the_investigator_sees_the_pooled_flow_of_their_sites(report_trial: ReportTrial) -> None:
    """The principal investigator at Gladsaxe: that site's recruitment, flow and retention,
    with no per-arm figure on the home page, before or after lock."""
    client = page_client(make_staff(None, Role.INVESTIGATOR, sites=["GLA"]))
    for locked in (False, True):
        if locked:
            trial.lock()
        body = get(client, "/").content.decode()
        section = body[body.index('id="home-investigator"') :]
        assert "GLA Gladsaxe" in section and "BAL" not in section
        assert "<strong>1</strong> of 66 randomised" in section
        flow = dict(re.findall(r'<th scope="row">([^<]+)</th><td>(\d+)</td>', section))
        assert flow == {
            "Assessed for eligibility": "2",
            "Excluded": "1",
            "Screened, not yet randomised": "0",
            "Randomised": "1",
        }
        assert 'id="picture-recruitment"' in section and 'id="picture-retention"' in section
        assert not ARM_WORDS.search(section), ARM_WORDS.search(section)
    # Held together with the coordinator role: the recruitment picture is shown once.
    both = page_client(make_staff(None, Role.INVESTIGATOR, Role.COORDINATOR, sites=["GLA"]))
    assert get(both, "/").content.decode().count('id="picture-recruitment"') == 1


def test_blinded_users_see_no_arm_on_any_report_page_even_after_lock(
    report_trial: ReportTrial,
) -> None:
    trial.lock()
    for roles in (
        (Role.DATA_MANAGER,),
        (Role.MONITOR,),
        (Role.ASSESSOR,),
        (Role.STATISTICIAN, Role.MONITOR),
    ):
        client = page_client(make_staff(None, *roles))
        for url in ("/", "/reports/", "/reports/consort/"):
            body = get(client, url).content.decode()
            assert not ARM_WORDS.search(body), (roles, url, ARM_WORDS.search(body))
        for fmt in ("svg", "pdf", "png"):
            response = get(client, f"/reports/pictures/consort.{fmt}")
            assert response["Content-Disposition"] == f'attachment; filename="imr-consort.{fmt}"'
            if fmt == "svg":
                assert not ARM_WORDS.search(response.content.decode())


def test_the_statistician_sees_the_flow_per_arm_after_lock(report_trial: ReportTrial) -> None:
    client = page_client(make_staff(None, Role.STATISTICIAN))
    assert "Allocated to" not in get(client, "/reports/consort/").content.decode()
    trial.lock()
    body = get(client, "/reports/consort/").content.decode()
    assert "Allocated to IMR + treatment as usual" in body
    assert "Allocated to Treatment as usual" in body
    svg = get(client, "/reports/pictures/consort.svg").content.decode()
    assert "Allocated to Treatment as usual" in svg


def test_pictures_are_the_same_bytes_for_the_same_data(report_trial: ReportTrial) -> None:
    client = page_client(make_staff(None, Role.DATA_MANAGER))
    for name, fmt in (
        ("consort", "svg"),
        ("consort", "pdf"),
        ("consort", "png"),
        ("recruitment", "svg"),
        ("retention", "png"),
    ):
        first = get(client, f"/reports/pictures/{name}.{fmt}").content
        cache.clear()
        assert get(client, f"/reports/pictures/{name}.{fmt}").content == first, (name, fmt)


def test_pictures_keep_the_content_security_policy(report_trial: ReportTrial) -> None:
    client = page_client(make_staff(None, Role.COORDINATOR, sites=["BAL"]))
    for url in ("/", "/reports/", "/reports/consort/"):
        body = get(client, url).content.decode()
        assert "style=" not in body and "<style" not in body and "<script>" not in body
    svg = get(client, "/reports/pictures/recruitment.svg").content.decode()
    assert "style=" not in svg and "<style" not in svg
    assert "Participants randomised" in svg  # the axis label, kept as text


def test_unknown_pictures_and_formats_are_not_found(report_trial: ReportTrial) -> None:
    client = page_client(make_staff(None, Role.DATA_MANAGER))
    assert client.get("/reports/pictures/nothing.svg").status_code == 404
    assert client.get("/reports/pictures/funnel.pdf").status_code == 404
    assert client.get("/reports/pictures/consort.gif").status_code == 404


def test_administrators_get_no_reports(report_trial: ReportTrial) -> None:
    client = page_client(make_staff(None, Role.ADMIN))
    assert client.get("/reports/consort/").status_code == 403
    assert client.get("/reports/pictures/consort.svg").status_code == 403
    assert get(client, "/").status_code == 200
