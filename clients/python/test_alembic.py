"""Alembic (over SQLAlchemy 2 and psycopg 3) against tessera: `revision --autogenerate` on an
empty database, `upgrade head`, then a second autogenerate that must find nothing to do (so
reflection sees exactly the schema the migration made), and one more after adding a column
and an index."""

import pathlib

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

ENV_PY = '''
from alembic import context

config = context.config
context.configure(
    connection=config.attributes["connection"],
    target_metadata=config.attributes["target_metadata"],
    include_name=config.attributes["include_name"],
)
with context.begin_transaction():
    context.run_migrations()
'''


def only(prefix):
    """Alembic's include_name: the tables of this test (the database holds others)."""
    return lambda name, kind, parent: kind != "table" or name.startswith(prefix)


def metadata(prefix, extra=False):
    meta = sa.MetaData()
    owners = sa.Table(
        f"{prefix}_owners",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(200), nullable=False, unique=True),
        sa.Column("joined", sa.DateTime(timezone=True)),
    )
    pets = sa.Table(
        f"{prefix}_pets",
        meta,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey(owners.c.id), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("weight", sa.Numeric(6, 2)),
        sa.Index(f"{prefix}_pets_name", "name"),
    )
    if extra:
        pets.append_column(sa.Column("tags", sa.ARRAY(sa.Text)))
        sa.Index(f"{prefix}_pets_owner_weight", pets.c.owner_id, pets.c.weight)
    return meta


@pytest.fixture
def engine(url):
    eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1).replace(
        "postgres://", "postgresql+psycopg://", 1
    ))
    yield eng
    eng.dispose()


def drop(engine, prefix):
    with engine.begin() as conn:
        for t in [f"{prefix}_pets", f"{prefix}_owners", "alembic_version"]:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {t}")


def test_autogenerate_and_upgrade(engine, tmp_path):
    prefix = "alembic"
    drop(engine, prefix)
    scripts = tmp_path / "migrations"
    cfg = Config(str(tmp_path / "alembic.ini"))
    cfg.set_main_option("script_location", str(scripts))
    command.init(cfg, str(scripts))
    (scripts / "env.py").write_text(ENV_PY)

    def migrate(meta, message):
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            cfg.attributes["target_metadata"] = meta
            cfg.attributes["include_name"] = only(prefix)
            rev = command.revision(cfg, message=message, autogenerate=True)
            command.upgrade(cfg, "head")
            conn.commit()
        return pathlib.Path(rev.path).read_text()

    first = migrate(metadata(prefix), "create")
    assert "op.create_table('alembic_owners'" in first and "op.create_table('alembic_pets'" in first
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": only(prefix)})
        assert compare_metadata(ctx, metadata(prefix)) == []

    second = migrate(metadata(prefix, extra=True), "tags")
    assert "op.add_column('alembic_pets'" in second and "alembic_pets_owner_weight" in second
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_name": only(prefix)})
        assert compare_metadata(ctx, metadata(prefix, extra=True)) == []
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        assert version in second
        cols = {c["name"] for c in sa.inspect(conn).get_columns(f"{prefix}_pets")}
        assert "tags" in cols
    drop(engine, prefix)
