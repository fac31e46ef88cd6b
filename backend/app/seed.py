"""Demo affiliates: fictitious people of both funds in the situations the assistant must handle.

    python -m backend.app.seed [--today YYYY-MM-DD]

Migrates the database to the latest revision, then creates the demo affiliates, or puts them back
in their demo state when they exist (idempotent). Deadlines, payments and periods are computed
from `today`, so the demo stays current. Every number, birth date and phone here is invented."""
from __future__ import annotations

import argparse
import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend.app.core.config import Settings
from backend.app.db.migrate import upgrade
from backend.app.db.models import Affiliate, ContributionDue, InstalmentPlan, Payment
from backend.app.db.session import make_engine, make_sessionmaker
from backend.app.funds import Fund


@dataclass
class Demo:
    fund: Fund
    number: str
    birth_date: date
    phone: str
    category: str
    situation: str
    registered_on: date
    rights_open: bool
    rights_since: date | None = None
    rights_reason: str | None = None
    due: list[tuple[str, int]] = field(default_factory=list)   # (period, cents)
    penalties: int = 0
    payments: list[tuple[date, int]] = field(default_factory=list)
    next_deadline: tuple[date, int] | None = None
    plan: tuple[int, date, int] | None = None  # (instalments left, next date, cents)


def month(today: date, shift: int) -> date:
    """First day of the month `shift` months from today's."""
    index = today.year * 12 + today.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def next_on_or_after(today: date, month_: int, day: int) -> date:
    candidate = date(today.year, month_, day)
    return candidate if candidate >= today else date(today.year + 1, month_, day)


def next_day_of_month(today: date, day: int) -> date:
    return today.replace(day=day) if today.day <= day else month(today, 1).replace(day=day)


def demo_affiliates(today: date) -> list[Demo]:
    m = lambda shift, day=1: month(today, shift).replace(day=day)  # noqa: E731
    this_month_end = month_end(today)
    june_30 = next_on_or_after(today, 6, 30)       # CASNOS annual deadline (assumed for the demo)
    september_30 = next_on_or_after(today, 9, 30)  # CASNOS deadline for farmers
    instalment_cnss = next_day_of_month(today, 15)
    instalment_casnos = next_day_of_month(today, 10)
    return [
        # ---- CNSS Morocco: 9-digit numbers, monthly contributions in MAD --------------------
        Demo(Fund.cnss_ma, "100204821", date(1980, 3, 12), "+212600000101", "trader",
             "up to date, health rights open", registered_on=date(2022, 1, 10),
             rights_open=True, rights_since=date(2022, 2, 1),
             payments=[(m(-3, 21), 19110), (m(-2, 18), 19110), (m(-1, 20), 19110)],
             next_deadline=(this_month_end, 19110)),
        Demo(Fund.cnss_ma, "100317356", date(1974, 11, 2), "+212600000102", "artisan",
             "4 months in arrears with penalties, health rights suspended", registered_on=date(2022, 1, 20),
             rights_open=False, rights_reason="contributions_unpaid",
             due=[(period(m(shift)), 13500) for shift in range(-5, -1)], penalties=3780,
             payments=[(m(-7, 14), 13500), (m(-6, 15), 13500)],
             next_deadline=(this_month_end, 13500)),
        Demo(Fund.cnss_ma, "100428913", date(1969, 6, 25), "+212600000103", "farmer",
             "old debt under an instalment plan (2 instalments left), health rights open",
             registered_on=date(2022, 3, 2), rights_open=True, rights_since=date(2022, 4, 1),
             due=[(period(m(shift)), 12740) for shift in range(-10, -6)],
             payments=[(month(instalment_cnss, -2).replace(day=15), 25480),
                       (month(instalment_cnss, -1).replace(day=15), 25480)],
             next_deadline=(this_month_end, 12740), plan=(2, instalment_cnss, 25480)),
        Demo(Fund.cnss_ma, "100539062", date(1991, 1, 30), "+212600000104", "taxi_driver",
             "registered last month, first payment made, health rights not yet open (waiting period)",
             registered_on=m(-1, 5), rights_open=False, rights_reason="waiting_period",
             payments=[(m(-1, 12), 11500)], next_deadline=(this_month_end, 11500)),
        Demo(Fund.cnss_ma, "100640278", date(1977, 9, 8), "+212600000105", "doctor",
             "up to date, health rights open", registered_on=date(2021, 7, 1),
             rights_open=True, rights_since=date(2021, 8, 1),
             payments=[(m(-3, 5), 95550), (m(-2, 6), 95550), (m(-1, 4), 95550)],
             next_deadline=(this_month_end, 95550)),
        # ---- CASNOS Algeria: 12-digit numbers (assumed), annual contributions in DZD -----------
        Demo(Fund.casnos_dz, "161203004217", date(1983, 5, 17), "+213550000201", "trader",
             "up to date, health rights open", registered_on=date(2018, 3, 14),
             rights_open=True, rights_since=date(2019, 6, 1),
             payments=[(date(june_30.year - 2, 6, 10), 4500000), (date(june_30.year - 1, 6, 12), 4500000)],
             next_deadline=(june_30, 4500000)),
        Demo(Fund.casnos_dz, "090407118353", date(1965, 8, 21), "+213550000202", "farmer",
             "2 years in arrears with penalties, health rights suspended", registered_on=date(2015, 2, 9),
             rights_open=False, rights_reason="contributions_unpaid",
             due=[(str(september_30.year - 2), 3240000), (str(september_30.year - 1), 3240000)],
             penalties=972000, payments=[(date(september_30.year - 3, 9, 25), 3240000)],
             next_deadline=(september_30, 3240000)),
        Demo(Fund.casnos_dz, "250915067342", date(1979, 12, 3), "+213550000203", "artisan",
             "last year's contribution under an instalment plan (3 instalments left), health rights open",
             registered_on=date(2016, 10, 3), rights_open=True, rights_since=date(2017, 6, 1),
             due=[(str(june_30.year - 1), 3600000)],
             payments=[(month(instalment_casnos, -1).replace(day=10), 1200000)],
             next_deadline=(june_30, 3600000), plan=(3, instalment_casnos, 1200000)),
        Demo(Fund.casnos_dz, "161126009985", date(1990, 4, 14), "+213550000204", "doctor",
             "registered 40 days ago, first annual contribution not yet paid, health rights not yet open",
             registered_on=today - timedelta(days=40), rights_open=False,
             rights_reason="first_contribution_pending", next_deadline=(june_30, 9600000)),
    ]


def seed(session: Session, today: date | None = None) -> int:
    """Create or reset the demo affiliates; returns how many. The caller commits."""
    demos = demo_affiliates(today or date.today())
    for demo in demos:
        affiliate = session.scalar(select(Affiliate).where(Affiliate.fund == demo.fund,
                                                           Affiliate.number == demo.number))
        if affiliate is None:
            affiliate = Affiliate(fund=demo.fund, number=demo.number)
            session.add(affiliate)
        else:  # old rows go first: the new ones reuse their (affiliate, period) keys
            affiliate.contributions_due, affiliate.payments, affiliate.instalment_plan = [], [], None
            session.flush()
        affiliate.birth_date, affiliate.phone, affiliate.category = demo.birth_date, demo.phone, demo.category
        affiliate.registered_on = demo.registered_on
        affiliate.health_rights_open = demo.rights_open
        affiliate.health_rights_since, affiliate.health_rights_reason = demo.rights_since, demo.rights_reason
        affiliate.penalties_due_cents = demo.penalties
        affiliate.next_deadline_date, affiliate.next_deadline_cents = demo.next_deadline or (None, None)
        affiliate.contributions_due = [ContributionDue(period=p, amount_cents=c) for p, c in demo.due]
        affiliate.payments = [Payment(paid_on=d, amount_cents=c) for d, c in demo.payments]
        affiliate.instalment_plan = demo.plan and InstalmentPlan(
            instalments_left=demo.plan[0], next_instalment_date=demo.plan[1], instalment_cents=demo.plan[2])
    session.flush()
    return len(demos)


def seed_database(settings: Settings, today: date | None = None) -> int:
    upgrade(settings.DATABASE_URL)
    engine = make_engine(settings.DATABASE_URL)
    try:
        with make_sessionmaker(engine)() as session:
            count = seed(session, today)
            session.commit()
    finally:
        engine.dispose()
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m backend.app.seed", description=__doc__.split("\n")[0])
    parser.add_argument("--today", type=date.fromisoformat, help="date the demo balances are computed for")
    args = parser.parse_args(argv)
    settings = Settings()
    count = seed_database(settings, args.today)
    where = make_url(settings.DATABASE_URL).render_as_string(hide_password=True)
    print(f"{count} demo affiliates ready in {where}")


if __name__ == "__main__":
    main()
