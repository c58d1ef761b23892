"""Row locks that work on both databases.

PostgreSQL locks rows (`FOR UPDATE` / `FOR SHARE`) until commit. SQLite has no row locks: a
transaction that only reads can be overtaken, and the second writer then fails. There the same
call takes the database's write lock up front with a no-op update of the row, so simultaneous
requests queue instead (busy_timeout) and everything read afterwards stays current.
"""

from sqlalchemy import select, update

from competition.extensions import db


def is_sqlite() -> bool:
    """Whether the session's database is SQLite."""
    return db.session.get_bind().dialect.name == "sqlite"


def lock_row(model: type, row_id: int, *, shared: bool = False) -> None:
    """Hold `model`'s row `row_id` until commit (shared: others may hold it too, but nobody
    may take it exclusively)."""
    if is_sqlite():
        db.session.execute(update(model).where(model.id == row_id).values(id=model.id)
                           .execution_options(synchronize_session=False))
    else:
        db.session.execute(select(model.id).where(model.id == row_id)
                           .with_for_update(read=shared))
