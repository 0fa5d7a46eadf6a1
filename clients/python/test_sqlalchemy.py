"""SQLAlchemy 2 (Core + ORM, reflection through pg_catalog) against tessera, with both the
psycopg2 and the psycopg 3 dialects, each with its default settings (the psycopg dialect
looks hstore up with psycopg's TypeInfo.fetch inside a savepoint, and psycopg prepares
repeated statements and deallocates them on rollback).

MetaData.reflect() reads columns, keys, foreign keys, indexes and identity options through
pg_catalog (unnest/generate_subscripts over indkey, array_agg, json_build_object); the other
tests create their tables with create_all(checkfirst=False) after DROP TABLE IF EXISTS, and
test_create_all_checkfirst checks the default checkfirst=True.
"""

import datetime
import decimal

import pytest
import sqlalchemy as sa
from sqlalchemy import orm

DIALECTS = ["psycopg2", "psycopg"]


def make_engine(url, driver, **kwargs):
    driver_url = sa.engine.make_url(url).set(drivername=f"postgresql+{driver}")
    kwargs.setdefault("connect_args", {"connect_timeout": 10})
    return sa.create_engine(driver_url, **kwargs)


@pytest.fixture(params=DIALECTS)
def engine(request, url):
    eng = make_engine(url, request.param)
    yield eng
    eng.dispose()


def names(prefix):
    """Per-dialect table names, so the two parametrizations never share a table."""
    return f"{prefix}_authors", f"{prefix}_books"


def make_models(prefix):
    authors, books = names(prefix)

    class Base(orm.DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = authors
        id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
        name: orm.Mapped[str] = orm.mapped_column(sa.String(100), unique=True)
        born: orm.Mapped[datetime.date | None]
        books: orm.Mapped[list["Book"]] = orm.relationship(
            back_populates="author", cascade="all, delete-orphan", order_by="Book.id"
        )

    class Book(Base):
        __tablename__ = books
        id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
        title: orm.Mapped[str] = orm.mapped_column(sa.Text)
        price: orm.Mapped[decimal.Decimal] = orm.mapped_column(sa.Numeric(8, 2))
        author_id: orm.Mapped[int] = orm.mapped_column(sa.ForeignKey(f"{authors}.id"))
        author: orm.Mapped[Author] = orm.relationship(back_populates="books")

    return Base, Author, Book


def prefix_of(engine):
    return f"sa_{engine.dialect.driver}"


def fresh_schema(engine):
    Base, Author, Book = make_models(prefix_of(engine))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table.name}"))
    Base.metadata.create_all(engine, checkfirst=False)
    return Base, Author, Book


# A regression test: the psycopg dialect's connect fetches hstore's type with psycopg's
# TypeInfo.fetch, which wraps to_regtype() in a SAVEPOINT (both were missing).
def test_psycopg_dialect_default_connect(url):
    eng = make_engine(url, "psycopg")
    try:
        with eng.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        eng.dispose()


# A regression test: create_all's checkfirst query uses schema-qualified columns
# (pg_catalog.pg_class.relname) and relkind = ANY (ARRAY[...]), both once missing.
def test_create_all_checkfirst(engine):
    Base, Author, Book = make_models(prefix_of(engine) + "_cf")
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with orm.Session(engine) as session:
        session.add(Author(id=1, name="Ann", books=[Book(id=1, title="t", price=decimal.Decimal("1.00"))]))
        session.commit()


def test_connect_and_core(engine):
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT 1 + :x"), {"x": 2}).scalar_one() == 3
        assert engine.dialect.server_version_info is not None


def test_create_all_and_orm_crud(engine):
    Base, Author, Book = fresh_schema(engine)
    with orm.Session(engine) as session:
        ann = Author(id=1, name="Ann", born=datetime.date(1970, 1, 2))
        ann.books = [
            Book(id=1, title="First", price=decimal.Decimal("9.99")),
            Book(id=2, title="Second", price=decimal.Decimal("19.50")),
        ]
        bob = Author(id=2, name="Bob", books=[Book(id=3, title="Third", price=decimal.Decimal("5"))])
        session.add_all([ann, bob])
        session.commit()

    with orm.Session(engine) as session:
        ann = session.scalars(sa.select(Author).where(Author.name == "Ann")).one()
        assert [b.title for b in ann.books] == ["First", "Second"]
        ann.books[0].price = decimal.Decimal("7.25")
        ann.born = None
        session.commit()

    with orm.Session(engine) as session:
        book = session.get(Book, 1)
        assert book.price == decimal.Decimal("7.25")
        assert book.author.born is None
        bob = session.get(Author, 2)
        session.delete(bob)  # cascades to Bob's book
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(Book)) == 2
        assert session.get(Book, 3) is None


def test_begin_nested_is_a_savepoint(engine):
    Base, Author, Book = fresh_schema(engine)
    with orm.Session(engine) as session:
        session.add(Author(id=1, name="Ann"))
        session.flush()
        with pytest.raises(sa.exc.IntegrityError):
            with session.begin_nested():  # SAVEPOINT, rolled back on the error
                session.add(Author(id=2, name="Bob"))
                session.flush()
                session.add(Author(id=1, name="Dup"))
                session.flush()
        with session.begin_nested():  # SAVEPOINT, released
            session.add(Author(id=3, name="Cy"))
        session.commit()
    with orm.Session(engine) as session:
        assert session.scalars(sa.select(Author.name).order_by(Author.id)).all() == ["Ann", "Cy"]


def test_join_query(engine):
    Base, Author, Book = fresh_schema(engine)
    with orm.Session(engine) as session:
        session.add_all(
            [
                Author(id=1, name="Ann", books=[Book(id=1, title="A1", price=decimal.Decimal("1.00")), Book(id=2, title="A2", price=decimal.Decimal("2.00"))]),
                Author(id=2, name="Bob", books=[Book(id=3, title="B1", price=decimal.Decimal("10.00"))]),
                Author(id=3, name="Cy"),
            ]
        )
        session.commit()
        rows = session.execute(
            sa.select(Author.name, sa.func.count(Book.id), sa.func.sum(Book.price))
            .join(Book, Book.author_id == Author.id)
            .group_by(Author.name)
            .order_by(Author.name)
        ).all()
        assert [tuple(r) for r in rows] == [("Ann", 2, decimal.Decimal("3.00")), ("Bob", 1, decimal.Decimal("10.00"))]
        outer = session.execute(
            sa.select(Author.name, Book.title)
            .outerjoin(Author.books)
            .where(Author.id == 3)
        ).all()
        assert [tuple(r) for r in outer] == [("Cy", None)]
        joined = session.scalars(
            sa.select(Book).join(Book.author).where(Author.name == "Bob").options(orm.joinedload(Book.author))
        ).all()
        assert [(b.title, b.author.name) for b in joined] == [("B1", "Bob")]


def test_foreign_key_violation(engine):
    Base, Author, Book = fresh_schema(engine)
    with orm.Session(engine) as session:
        session.add(Book(id=1, title="orphan", price=decimal.Decimal("1.00"), author_id=999))
        with pytest.raises(sa.exc.IntegrityError) as exc:
            session.commit()
        assert getattr(exc.value.orig, "pgcode", None) or exc.value.orig.sqlstate == "23503"
        session.rollback()
        assert session.scalar(sa.select(sa.func.count()).select_from(Book)) == 0


def test_reflect(engine):
    fresh_schema(engine)
    authors, books = names(prefix_of(engine))
    meta = sa.MetaData()
    meta.reflect(bind=engine, only=[authors, books])
    a, b = meta.tables[authors], meta.tables[books]
    assert [c.name for c in a.columns] == ["id", "name", "born"]
    assert [c.name for c in b.columns] == ["id", "title", "price", "author_id"]
    assert isinstance(a.c.name.type, sa.String) and a.c.name.type.length == 100
    assert isinstance(b.c.price.type, sa.Numeric) and (b.c.price.type.precision, b.c.price.type.scale) == (8, 2)
    assert isinstance(a.c.born.type, sa.Date)
    assert a.c.born.nullable and not a.c.id.nullable
    assert [c.name for c in a.primary_key] == ["id"]
    assert [c.name for c in b.primary_key] == ["id"]
    (fk,) = b.foreign_keys
    assert fk.parent.name == "author_id" and fk.column.table.name == authors and fk.column.name == "id"
    # The unique constraint comes back too (indkey through unnest/generate_subscripts).
    uniques = [c for c in a.constraints if isinstance(c, sa.UniqueConstraint)]
    assert [[x.name for x in c.columns] for c in uniques] == [["name"]]


def test_reflect_arrays_and_jsonb(engine):
    """Array and jsonb columns reflect as ARRAY of their element type and JSONB, and their
    values round-trip through both drivers."""
    name = prefix_of(engine) + "arrays"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        conn.exec_driver_sql(
            f"CREATE TABLE {name} (id BIGSERIAL PRIMARY KEY, tags TEXT[], doc JSONB)"
        )
    meta = sa.MetaData()
    t = sa.Table(name, meta, autoload_with=engine)
    assert isinstance(t.c.id.type, sa.BigInteger) and t.c.id.autoincrement
    assert isinstance(t.c.tags.type, sa.ARRAY) and isinstance(t.c.tags.type.item_type, sa.Text)
    assert isinstance(t.c.doc.type, sa.dialects.postgresql.JSONB)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"tags": ["a", "b"], "doc": {"k": [1, 2]}}])
        row = conn.execute(sa.select(t.c.tags, t.c.doc)).one()
    assert row.tags == ["a", "b"] and row.doc == {"k": [1, 2]}
