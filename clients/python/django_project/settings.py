"""A minimal Django project for test_django.py: the postgresql backend, unmodified, pointed at
DJANGO_DATABASE_URL."""

import os
import urllib.parse

_url = urllib.parse.urlparse(os.environ["DJANGO_DATABASE_URL"])
SECRET_KEY = "tessera-test"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "shop"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _url.path.lstrip("/"),
        "USER": _url.username,
        "PASSWORD": _url.password or "",
        "HOST": _url.hostname,
        "PORT": _url.port,
    }
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
