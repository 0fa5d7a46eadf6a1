"""Django 5 with its postgresql backend, unmodified, against tessera: makemigrations and
migrate (contenttypes, auth and the `shop` app in django_project/), ORM CRUD with
bulk_create and a JSONField (django_project/crud.py), and inspectdb, whose models must match
the app's. Each step runs `manage.py` in a subprocess (Django configures itself once per
process) against a fresh database."""

import os
import pathlib
import shutil
import subprocess
import sys
import urllib.parse

import psycopg
import pytest

PROJECT = pathlib.Path(__file__).parent / "django_project"
DATABASE = "django_test"


@pytest.fixture
def project(url, tmp_path):
    """A copy of the project (makemigrations writes into it) and a fresh database."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    dest = tmp_path / "project"
    shutil.copytree(PROJECT, dest)
    parts = urllib.parse.urlparse(url)
    env = dict(os.environ, DJANGO_DATABASE_URL=parts._replace(path=f"/{DATABASE}").geturl())
    return dest, env


def run(project, *args):
    dest, env = project
    out = subprocess.run(
        [sys.executable, *args],
        cwd=dest,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, f"{args}: {out.stdout}\n{out.stderr}"
    return out.stdout


def test_migrate_crud_inspectdb(project):
    run(project, "manage.py", "makemigrations", "shop")
    migrated = run(project, "manage.py", "migrate")
    assert "Applying auth.0012_alter_user_first_name_max_length... OK" in migrated
    assert "Applying shop.0001_initial... OK" in migrated
    assert "crud ok" in run(project, "crud.py")
    models = run(project, "manage.py", "inspectdb", "shop_author", "shop_book")
    for line in [
        "class ShopAuthor(models.Model):",
        "id = models.BigAutoField(primary_key=True)",
        "name = models.CharField(unique=True, max_length=100)",
        "tags = models.JSONField()",
        "price = models.DecimalField(max_digits=8, decimal_places=2)",
        "published = models.DateTimeField(blank=True, null=True)",
        "author = models.ForeignKey(ShopAuthor, models.DO_NOTHING)",
    ]:
        assert line in models, models
