from django.urls import path

from counter import views

app_name = "counter"

urlpatterns = [
    path("", views.scan, name="scan"),
    path("redeem", views.redeem, name="redeem"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout, name="logout"),
]
