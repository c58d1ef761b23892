"""Adoption of standards: recording it on a standard's page, the CSV export, the "built once,
used by N" dashboard, the jatprijs board and a municipality's public page."""

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required

from competition import clock
from competition.adoption.forms import AdoptionForm
from competition.csv_export import csv_response
from competition.forms import perform
from competition.models import Adoption, AdoptionStatus, Round, Standard
from competition.services import adoption, municipalities, standards
from competition.services.errors import PermissionDenied
from competition.standards.views import detail_context
from competition.web import percent

bp = Blueprint("adoption", __name__)

# The progress chart: an SVG drawn on the server (no script; the CSP allows no inline style,
# and SVG presentation attributes are not styles).
CHART_WIDTH, CHART_HEIGHT = 640, 260
CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 48, 16, 16, 44
CHART_MAX_X_LABELS, CHART_MAX_MARKERS = 8, 36
JATPRIJS_LIMIT = 10


def _nice_step(top: int) -> int:
    """A round step for the y axis: at most five gridlines above zero."""
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top / step <= 5:
            return step
    return -(-top // 5)


def progress_chart(points: list[tuple[date, int]]) -> dict:
    """Geometry of the cumulative-adoption line chart: one point per month."""
    plot_w = CHART_WIDTH - CHART_LEFT - CHART_RIGHT
    plot_h = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    top = max((n for _m, n in points), default=0)
    step = _nice_step(max(top, 1))
    y_max = max(step * -(-max(top, 1) // step), 1)
    gap = plot_w / (len(points) - 1) if len(points) > 1 else 0

    def x_of(i: int) -> float:
        return round(CHART_LEFT + i * gap, 1)

    def y_of(n: int) -> float:
        return round(CHART_TOP + plot_h - n / y_max * plot_h, 1)

    every = max(1, -(-len(points) // CHART_MAX_X_LABELS))
    x_labels = [{"x": x_of(i), "text": format_date(m, "MMM y")}
                for i, (m, _n) in enumerate(points)
                if i % every == 0 or i == len(points) - 1]
    if len(x_labels) > 1 and x_labels[-1]["x"] - x_labels[-2]["x"] < plot_w / CHART_MAX_X_LABELS:
        del x_labels[-2]  # the last month always shows; drop its crowded neighbour
    return {
        "width": CHART_WIDTH, "height": CHART_HEIGHT,
        "left": CHART_LEFT, "right": CHART_WIDTH - CHART_RIGHT,
        "top": CHART_TOP, "bottom": CHART_TOP + plot_h,
        "points": " ".join(f"{x_of(i)},{y_of(n)}" for i, (_m, n) in enumerate(points)),
        "markers": [{"x": x_of(i), "y": y_of(n)} for i, (_m, n) in enumerate(points)]
        if len(points) <= CHART_MAX_MARKERS else [],
        "y_ticks": [{"y": y_of(v), "text": v} for v in range(0, y_max + 1, step)],
        "x_labels": x_labels,
        "label_y": CHART_TOP + plot_h + 20,
    }


@dataclass
class OwnStatus:
    """The logged-in member's municipality: its status, its history and the form."""

    municipality: object
    adoption: Adoption | None
    status: AdoptionStatus
    history: list
    form: AdoptionForm


def _form_for(current: Adoption | None) -> AdoptionForm:
    """The record form, filled in with the municipality's current status."""
    return AdoptionForm(formdata=None, obj=current)


@bp.app_template_global("adoption_section")
def adoption_section(standard: Standard, form: AdoptionForm | None = None) -> dict:
    """The figures for the adoption section of a standard's page (used by
    templates/standards/detail.html, whose view belongs to the standards blueprint)."""
    coverage = adoption.coverage(standard)
    points = adoption.progress(standard, until=adoption.local_date(clock.now()))
    municipalities_total = coverage.municipalities
    own = None
    refusal = adoption.record_refusal(current_user)
    if refusal is None:
        mine = current_user.municipality
        current = adoption.status_of(standard, mine.id)
        own = OwnStatus(mine, current, adoption.current_status(current),
                        adoption.history(standard, mine.id), form or _form_for(current))
    return {
        "coverage": coverage,
        "statuses": adoption.STATUS_ORDER,
        "adopted": AdoptionStatus.ADOPTED,
        "label": adoption.status_label,
        "chart": progress_chart(points),
        "progress": [(m, n, percent(n / municipalities_total) if municipalities_total else "–")
                     for m, n in points],
        "provinces": adoption.by_province(standard),
        "history": adoption.history(standard, limit=adoption.HISTORY_LIMIT),
        "history_total": adoption.history_count(standard),
        "own": own,
        "refusal": refusal if current_user.is_authenticated else None,
    }


@bp.post("/standaarden/<int:standard_id>/adoptie", endpoint="record")
@login_required
def record(standard_id: int):
    """A member or delegate records their municipality's adoption status for a standard."""
    standard = standards.get_standard(standard_id)
    refusal = adoption.record_refusal(current_user)
    if refusal:
        raise PermissionDenied(refusal)
    form = AdoptionForm()
    name = current_user.municipality.name
    if form.validate_on_submit() and perform(
            lambda: adoption.record(current_user, standard, form.status.data,
                                    planned_on=form.planned_on.data,
                                    adopted_on=form.adopted_on.data,
                                    reason=form.reason.data or "", now=clock.now()),
            lambda row: _("Recorded: %(municipality)s — %(status)s.", municipality=name,
                          status=adoption.status_label(row.status)),
            form=form):
        return redirect(url_for("standards.detail", standard_id=standard.id)
                        + "#adoption-own-title")
    # Errors go next to the fields, on the standard's own page with what was typed kept.
    return render_template("standards/detail.html", adoption_form=form,
                           **detail_context(standard))


@bp.get("/standaarden/<int:standard_id>/adoptie.csv", endpoint="export_csv")
def export_csv(standard_id: int):
    """Every active municipality's adoption status for a standard as CSV (open data)."""
    standard = standards.get_standard(standard_id)
    return csv_response(adoption.export_rows(standard), adoption.EXPORT_COLUMNS,
                        f"standaard-{standard.id}-adoptie.csv")


@bp.get("/standaarden/overzicht", endpoint="dashboard")
def dashboard():
    """Built once, used by N: every standard's adopters and the estimated saving."""
    rows = adoption.dashboard()
    return render_template("adoption/dashboard.html", rows=rows,
                           totals=adoption.dashboard_totals(rows),
                           municipalities=adoption.active_municipality_count())


def _places(values: list[int | float]) -> list[int]:
    """Places in a ranking where equal values share a place (1, 1, 3)."""
    places: list[int] = []
    for i, value in enumerate(values):
        places.append(places[-1] if i and value == values[i - 1] else i + 1)
    return places


@bp.get("/jatprijs", endpoint="jatprijs")
def jatprijs():
    """The jatprijs: the municipalities that adopted the most standards, and the standards
    adopted fastest."""
    top = adoption.top_adopters(JATPRIJS_LIMIT)
    fast = adoption.fastest(JATPRIJS_LIMIT)
    return render_template(
        "adoption/jatprijs.html",
        top=list(zip(_places([n for _m, n in top]), top, strict=True)),
        fast=list(zip(_places([d for _s, d, _n in fast]), fast, strict=True)),
        limit=JATPRIJS_LIMIT)


def _by_round(ballots: list) -> list[tuple[Round, list]]:
    """Ballots grouped per round, keeping their order (newest round first)."""
    groups: list[tuple[Round, list]] = []
    for ballot in ballots:
        if not groups or groups[-1][0].id != ballot.round.id:
            groups.append((ballot.round, []))
        groups[-1][1].append(ballot)
    return groups


@bp.get("/gemeenten/<code>", endpoint="municipality")
def municipality(code: str):
    """A municipality's public page: proposals, co-submissions, public final-vote ballots and
    its adoption of every standard."""
    m = municipalities.get_by_code(code)
    if m.code != code:
        return redirect(url_for("adoption.municipality", code=m.code), 301)
    return render_template(
        "adoption/municipality.html", municipality=m,
        proposals=adoption.municipality_proposals(m),
        cosubmissions=adoption.municipality_cosubmissions(m),
        ballots=_by_round(adoption.public_ballots(m)),
        statuses=[(s, a, adoption.current_status(a))
                  for s, a in adoption.municipality_statuses(m)],
        label=adoption.status_label)
