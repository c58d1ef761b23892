"""Column types shared by the models."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

# The largest value of an `integer` id column (PostgreSQL; SQLite's are wider): ids in URLs and
# API parameters are checked against it before they reach a query.
ID_MAX = 2**31 - 1
# The platform's time zone: the dates and times people enter and read are Dutch.
LOCAL_TZ = ZoneInfo("Europe/Amsterdam")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL stores `timestamptz`; SQLite has no time zone type, so values are stored as naive
    UTC and given their zone back on load. Naive datetimes are refused so local time never sneaks
    in unnoticed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the one place that reads the wall clock)."""
    return datetime.now(UTC)
