from django.urls import path

from reports import api, views

app_name = "reports"

# Pages of this app, under /reports/ (the home page `/` is views.home_page, routed by imrtrial).
urlpatterns = [
    path("", views.overview, name="overview"),
    path("consort/", views.consort_page, name="consort"),
    path("matrix/", views.status_matrix, name="matrix"),
    path("tables/", views.table_list, name="tables"),
    path("tables/<str:name>/", views.table_page, name="table"),
    path("tables/<str:name>.<str:fmt>", views.table_download, name="table_download"),
    path("pictures/<str:name>.<str:fmt>", views.picture_download, name="picture"),
]

# Endpoints of this app under /api/v1/.
api_urlpatterns = [
    path("reports/consort/", api.ConsortView.as_view(), name="api-reports-consort"),
    path("reports/recruitment/", api.RecruitmentView.as_view(), name="api-reports-recruitment"),
    path("reports/completeness/", api.CompletenessView.as_view(), name="api-reports-completeness"),
]
