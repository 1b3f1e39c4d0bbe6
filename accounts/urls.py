from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import set_language

from accounts import api, views

# Names without a namespace: Django's auth machinery and LOGIN_URL refer to "login".
urlpatterns = [
    path("", views.account, name="account"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("verify/", views.otp_verify, name="otp_verify"),
    path("enrol/", views.otp_enrol, name="otp_enrol"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    # The login page's language switch (Django's view: POST, sets the language cookie).
    path("language/", set_language, name="set_language"),
]

api_urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("auth/me/", api.MeView.as_view(), name="api-me"),
]
