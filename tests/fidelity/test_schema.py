from __future__ import annotations

import re

from drf_spectacular.generators import SchemaGenerator

from fidelity.urls import api_urlpatterns


def test_every_endpoint_of_the_app_is_in_the_openapi_schema_with_its_shapes(db) -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    for pattern in api_urlpatterns:
        path = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        path = path.replace("{pk}", "{id}")
        assert path in paths, path
    attendance = paths["/api/v1/sessions/{id}/attendance/"]["put"]
    body = attendance["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith("/AttendanceWriteRequest")
    rating = schema["components"]["schemas"]["RatingCreateRequest"]["properties"]
    assert set(rating["items"]["properties"]) == {f"FID_{n}" for n in range(1, 14)}
    assert rating["timepoint"]["$ref"].endswith("TimepointEnum")
