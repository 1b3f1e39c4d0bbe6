from django.urls import path

from randomization import api, views

app_name = "randomization"

# Pages of this app (under /randomisation/).
urlpatterns = [
    path("participants/<int:pk>/", views.randomize, name="randomize"),
    path("participants/<int:pk>/result/", views.result, name="result"),
    path(
        "participants/<int:pk>/blinding-guess/<str:timepoint>/",
        views.blinding_guess,
        name="blinding_guess",
    ),
    path("lists/", views.lists, name="lists"),
    path("lists/generate/", views.generate, name="generate"),
    path("lists/import/", views.import_list, name="import"),
    path("lists/verify/", views.verify, name="verify"),
    path("lists/package/", views.download_package, name="package"),
    path("lists/<int:pk>/csv/", views.download_csv, name="list_csv"),
    path("lists/<int:pk>/seed/", views.download_seed, name="list_seed"),
    path("log/", views.log, name="log"),
    path("blinding-index/", views.blinding_index, name="blinding_index"),
    path("methods/", views.methods, name="methods"),
    path("incidents/", views.incidents, name="incidents"),
]

# Endpoints of this app under /api/v1/.
api_urlpatterns = [
    path(
        "participants/<int:pk>/randomize/",
        api.RandomizeView.as_view(),
        name="api-randomize",
    ),
    path(
        "participants/<int:pk>/blinding-guess/<str:timepoint>/",
        api.BlindingGuessView.as_view(),
        name="api-blinding-guess",
    ),
    path(
        "unblinding-incidents/",
        api.IncidentListView.as_view(),
        name="api-unblinding-incidents",
    ),
    path("allocation-lists/", api.AllocationListListView.as_view(), name="api-allocation-lists"),
    path(
        "allocation-lists/package/",
        api.TrialMasterFileView.as_view(),
        name="api-allocation-lists-package",
    ),
    path(
        "allocation-lists/import/",
        api.AllocationListImportView.as_view(),
        name="api-allocation-lists-import",
    ),
    path(
        "allocation-lists/verify/",
        api.AllocationListVerifyView.as_view(),
        name="api-allocation-lists-verify",
    ),
    path(
        "allocation-lists/<int:pk>/csv/",
        api.AllocationListCsvView.as_view(),
        name="api-allocation-list-csv",
    ),
    path(
        "allocation-lists/<int:pk>/seed/",
        api.AllocationListSeedView.as_view(),
        name="api-allocation-list-seed",
    ),
    path("randomization-log/", api.RandomizationLogView.as_view(), name="api-randomization-log"),
    path("blinding-index/", api.BlindingIndexView.as_view(), name="api-blinding-index"),
]
