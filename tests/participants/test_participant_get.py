"""participants.selectors.participant_get reads the participant and its site with one
statement of its own (the ORM's compiling cost more than the query on the randomise path):
it must give what the ORM gives, and refuse what the ORM refused."""

from __future__ import annotations

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from participants.selectors import participant_get, participants_visible_to
from tests.factories import allocate, make_participant, make_staff
from trial.errors import NotFound
from trial.roles import Role


def test_it_gives_what_the_orm_gives_with_the_site_in_the_same_query(sites: dict) -> None:
    coordinator = make_staff("c1", Role.COORDINATOR, sites=["GLA"])
    participant = make_participant("GLA")
    allocate(participant, "IMR")  # status, randomisation time and consent all set
    expected = participants_visible_to(coordinator).get(pk=participant.pk)

    with CaptureQueriesContext(connection) as queries:
        found = participant_get(user=coordinator, pk=str(participant.pk))
        site = found.site
    assert len([q for q in queries if "participants_participant" in q["sql"]]) == 1
    assert model_to_dict(found) == model_to_dict(expected)
    assert [getattr(found, f.attname) for f in found._meta.concrete_fields] == [
        getattr(expected, f.attname) for f in expected._meta.concrete_fields
    ]
    assert model_to_dict(site) == model_to_dict(expected.site) and site.code == "GLA"
    assert not found._state.adding and found._state.db == "default"
    found.refresh_from_db()  # a saved instance, as the ORM's


@pytest.mark.parametrize("pk", ["", "abc", None, "1.5", str(2**40), "-1"])
def test_an_address_that_names_no_participant_is_404(sites: dict, pk: object) -> None:
    coordinator = make_staff("c1", Role.COORDINATOR, sites=["BAL"])
    make_participant("BAL")
    with pytest.raises(NotFound):
        participant_get(user=coordinator, pk=pk)


def test_a_participant_at_another_site_is_404_as_if_unknown(sites: dict) -> None:
    coordinator = make_staff("c1", Role.COORDINATOR, sites=["BAL"])
    elsewhere = make_participant("FRB")
    nobody = make_staff("nobody")
    for user in (coordinator, nobody):
        with pytest.raises(NotFound):
            participant_get(user=user, pk=elsewhere.pk)
    assert participant_get(user=make_staff("dm", Role.DATA_MANAGER), pk=elsewhere.pk).pk == (
        elsewhere.pk
    )
