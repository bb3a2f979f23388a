from django.urls import path

from bingo import views

app_name = "bingo"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("signup/", views.signup, name="signup"),
    path("word-lists/new/", views.word_list_new, name="wordlist-new"),
    path("card/", views.customize, name="customize"),
    path("print/", views.print_cards, name="print"),
    path("embedded/", views.embedded, name="embedded"),
]
