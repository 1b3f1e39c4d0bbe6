from django.urls import path

from exports import api, views

app_name = "exports"

# Pages of this app (under /data/).
urlpatterns = [
    path("lock/", views.lock, name="lock"),
    path("exports/", views.export_list, name="list"),
    path("exports/data-dictionary/", views.data_dictionary, name="data_dictionary"),
    path("exports/<uuid:pk>/", views.export_detail, name="job"),
    path("exports/<uuid:pk>/progress/", views.export_progress, name="job_progress"),
    path("exports/<uuid:pk>/files/<str:name>", views.export_download, name="download"),
    path("masking-key/", views.masking_key, name="masking_key"),
]

# Endpoints of this app under /api/v1/.
api_urlpatterns = [
    path("locks/", api.LockView.as_view(), name="api-locks"),
    path("locks/unlock/", api.UnlockView.as_view(), name="api-locks-unlock"),
    path("locks/signatures/", api.LockSignaturesView.as_view(), name="api-lock-signatures"),
    path("exports/", api.ExportListView.as_view(), name="api-exports"),
    path("exports/masking-key/", api.MaskingKeyView.as_view(), name="api-masking-key"),
    path(
        "exports/data-dictionary/",
        api.DataDictionaryView.as_view(),
        name="api-data-dictionary",
    ),
    path("exports/<uuid:pk>/", api.ExportDetailView.as_view(), name="api-export"),
    path(
        "exports/<uuid:pk>/files/<str:name>", api.ExportFileView.as_view(), name="api-export-file"
    ),
]
