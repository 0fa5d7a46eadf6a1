"""ORM CRUD against the migrated schema: create, bulk_create (INSERT … SELECT * FROM
UNNEST(%s::…[], …)), related lookups, update, JSONField containment, aggregates, delete
with cascade inside atomic()."""

import decimal
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
django.setup()

from django.db import transaction  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402
from shop.models import Author, Book  # noqa: E402

Book.objects.all().delete()
Author.objects.all().delete()
a = Author.objects.create(name="Ann", tags=["x", {"k": 1}])
Author.objects.bulk_create([Author(name=f"n{i}") for i in range(5)])
Book.objects.bulk_create(
    [Book(author=a, title=f"t{i}", price=decimal.Decimal("1.50") * i) for i in range(3)]
)
assert Author.objects.count() == 6, Author.objects.count()
assert Author.objects.get(name="Ann").tags == ["x", {"k": 1}]
assert list(a.books.order_by("title").values_list("title", flat=True)) == ["t0", "t1", "t2"]
Book.objects.filter(title="t1").update(title="T1")
assert Book.objects.filter(title__startswith="T").count() == 1
assert Author.objects.filter(tags__contains=["x"]).count() == 1
totals = Book.objects.aggregate(total=Sum("price"), n=Count("id"))
assert totals == {"total": decimal.Decimal("4.50"), "n": 3}, totals
with transaction.atomic():
    Author.objects.filter(name="n0").delete()
a.delete()
assert Book.objects.count() == 0 and Author.objects.count() == 4
print("crud ok")
