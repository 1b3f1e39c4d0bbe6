"""The participant's audit page: one row per change with its record named once, filters by
record, field, user, kind of change and date range, and 50 changes a page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.utils import timezone

from assessments import services as assessment_services
from tests.assessments.helpers import typical_items
from tests.factories import make_participant, make_staff, page_client
from trial.roles import Role


def rows(html: str) -> list[str]:
    """The page's change rows (each ends its line; a row's field table is on one line)."""
    return [piece.split("</td></tr>\n")[0] for piece in html.split('<tr class="audit-entry">')[1:]]


def test_the_audit_page_filters_and_names_each_record_once(sites: Any) -> None:
    assessor = make_staff("anders", Role.ASSESSOR, sites=["BAL"])
    data_manager = make_staff("dm", Role.DATA_MANAGER)
    participant = make_participant("BAL")
    saved = assessment_services.response_save(
        user=assessor,
        participant=participant,
        timepoint="baseline",
        code="HAMD6",
        items=typical_items("HAMD6"),
        status="complete",
    ).response
    assessment_services.response_save(
        user=assessor,
        participant=participant,
        timepoint="baseline",
        code="HAMD6",
        items=typical_items("HAMD6") | {"HAMD6_1": 4},
        status="complete",
        version=saved.version,
        reason="Misread the source",
    )
    client = page_client(data_manager)
    url = f"/participants/{participant.pk}/audit/"
    everything = client.get(url).content.decode()
    record = "HAM-D6 · Baseline (before randomisation)"
    # The change of HAMD6_1 is one row: the form is named once, with its fields inside.
    changed = [r for r in rows(everything) if "Misread the source" in r]
    assert len(changed) == 1 and changed[0].count(record) == 1

    only_hamd6 = client.get(url, {"record": record, "action": "changed"}).content.decode()
    assert len(rows(only_hamd6)) == 1 and "Misread the source" in only_hamd6
    by_user = client.get(url, {"who": "anders"}).content.decode()
    assert len(rows(by_user)) == 2
    assert all("anders" in r for r in rows(by_user))
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert rows(client.get(url, {"since": tomorrow.isoformat()}).content.decode()) == []
    today = timezone.localdate().isoformat()
    assert len(rows(client.get(url, {"until": today}).content.decode())) == len(rows(everything))
    offered = everything.split('id="f-field"')[1].split("</select>")[0]
    label = next(v for v in re.findall(r'<option value="([^"]+)"', offered) if "HAMD6_1" in v)
    field = client.get(url, {"field": label}).content.decode()
    assert 0 < len(rows(field)) <= 2
    bad = client.get(url, {"since": "31-02-2026"})
    assert bad.status_code == 200 and "is not a date" in bad.content.decode()


def test_the_audit_page_shows_fifty_changes_a_page(sites: Any) -> None:
    assessor = make_staff("anders", Role.ASSESSOR, sites=["BAL"])
    data_manager = make_staff("dm", Role.DATA_MANAGER)
    participant = make_participant("BAL")
    version = 0
    for value in range(60):
        version = assessment_services.response_save(
            user=assessor,
            participant=participant,
            timepoint="baseline",
            code="GAF",
            items={"GAF_S": 40 + value % 2, "GAF_F": 50},
            status="draft",
            version=version,
        ).response.version
    client = page_client(data_manager)
    url = f"/participants/{participant.pk}/audit/"
    first = client.get(url).content.decode()
    assert len(rows(first)) == 50 and "Page 1 of 2" in first
    second = client.get(url, {"page": 2}).content.decode()
    assert 10 <= len(rows(second)) < 50
