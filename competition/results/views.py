"""Results: the published preselection (finalists with their full reasoning) and the final
vote (winners, the full count, turnout and the ballot export)."""

import json

from flask import Blueprint, Response, abort, current_app, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from competition import clock
from competition.forms import flash_form_errors, perform
from competition.models import Phase, Proposal
from competition.results.forms import OverrideForm
from competition.rounds.views import can_see_drafts, load_round, load_round_by_id, require_organiser
from competition.services import clustering, preselection, proposals, standards, voting
from competition.services.errors import InvalidState, NotFound
from competition.web import percent

bp = Blueprint("results", __name__)


def _visible(rnd) -> None:
    if rnd.current_phase is Phase.DRAFT and not can_see_drafts():
        abort(404)


@bp.get("/rondes/<slug>/voorselectie", endpoint="preselection")
def preselection_overview(slug: str):
    """The preselection of a round: how it works, and after the phase the finalists per
    vraagstuk."""
    rnd = load_round(slug)
    _visible(rnd)
    published = preselection.is_published(rnd)
    clusters = clustering.confirmed_clusters(rnd)
    decisions = preselection.decisions(rnd) if published else []
    by_cluster: dict[int, list] = {}
    for d in decisions:
        by_cluster.setdefault(d.cluster_id, []).append(d)
    voted, voters = preselection.turnout(rnd)
    return render_template(
        "results/preselection.html", round=rnd, published=published, clusters=clusters,
        by_cluster=by_cluster, criteria=preselection.criteria(rnd),
        locale=str(get_locale() or "nl"), voted=voted, voters=voters,
        can_vote=preselection.vote_refusal(current_user) is None,
        juror=preselection.membership(current_user, rnd))


@bp.get("/vraagstukken/<int:cluster_id>/voorselectie")
def preselection_cluster(cluster_id: int):
    """A vraagstuk's preselection result: scores per criterion, approvals, combined score, rank,
    recusals, tie-breaks and overrides."""
    cluster = clustering.get_cluster(cluster_id)
    rnd = load_round_by_id(cluster.round_id)
    if not cluster.is_confirmed:
        abort(404)
    view = preselection.result_view(cluster)
    if not preselection.is_published(rnd) or view.stored is None:
        return redirect(url_for("results.preselection", slug=rnd.slug))
    may_override = preselection.may_override(current_user, rnd)
    return render_template(
        "results/preselection_cluster.html", round=rnd, cluster=cluster, view=view,
        data=view.data, locale=str(get_locale() or "nl"),
        may_override=may_override,
        # Only for organisers: a form starts a CSRF session (keeps the page out of the cache).
        override_form=OverrideForm() if may_override else None)


@bp.post("/beheer/voorstellen/<int:proposal_id>/finalist")
@login_required
def override(proposal_id: int):
    """Make a proposal a finalist, or not, against the computed result (with a reason)."""
    require_organiser()
    proposal = proposals.get_proposal(proposal_id)
    rnd = load_round_by_id(proposal.round_id)
    form = OverrideForm()
    cluster = clustering.cluster_of(proposal)
    if form.validate_on_submit():
        make = form.make_finalist.data == "1"
        perform(lambda: preselection.override(current_user, proposal, make, form.reason.data,
                                              now=clock.now()),
                _("The decision has been changed; the reason is published with the result."))
    else:
        flash_form_errors(form)
    target = (url_for("results.preselection_cluster", cluster_id=cluster.id) if cluster
              else url_for("results.preselection", slug=rnd.slug))
    return redirect(f"{target}#proposal-{proposal.id}")


# --- the final vote ----------------------------------------------------------------------------

# The first-preferences chart: an SVG drawn on the server (no script; the CSP allows no inline
# style, and SVG presentation attributes are not styles).
CHART_WIDTH, CHART_BAR_WIDTH, CHART_ROW, CHART_TOP, CHART_BAR_HEIGHT = 640, 540, 46, 4, 18
CHART_LABEL_MAX = 70


def _vote_status(rnd) -> dict:
    """When the final vote opens and closes, for pages shown before the result exists."""
    return {"opens_at": rnd.starts_at(Phase.FINAL_VOTE),
            "closes_at": rnd.window(Phase.FINAL_VOTE).ends_at,
            "is_running": rnd.current_phase is Phase.FINAL_VOTE,
            "is_closed": voting.is_closed(rnd)}


def _proposals(ids) -> dict[str, Proposal]:
    """Proposals by id as the count names them (strings), in one query."""
    found = proposals.get_proposals(int(pid) for pid in ids)
    return {str(pid): p for pid, p in found.items()}


@bp.get("/rondes/<slug>/uitslag", endpoint="final")
def final_overview(slug: str):
    """The result of a round's final vote: per vraagstuk the winner(s) and their standards."""
    rnd = load_round(slug)
    _visible(rnd)
    results = voting.round_results(rnd) if voting.is_closed(rnd) else []
    return render_template(
        "results/final.html", round=rnd, status=_vote_status(rnd), results=results,
        standards=standards.round_standards(rnd),
        proposals=_proposals(pid for _cluster, r in results for pid in r.winner_ids),
        threshold=percent(rnd.diversity_threshold))


def _short(text: str) -> str:
    return text if len(text) <= CHART_LABEL_MAX else text[:CHART_LABEL_MAX - 1].rstrip() + "…"


def _chart(rows: list[tuple[str, float, bool]]) -> dict:
    """Geometry of a horizontal bar chart, one (label, value, highlighted) per bar; the
    longest bar takes the full width."""
    top = max((value for _label, value, _h in rows), default=0) or 1
    bars = []
    for i, (label, value, highlighted) in enumerate(rows):
        y = CHART_TOP + i * CHART_ROW
        width = round(value / top * CHART_BAR_WIDTH, 1)
        bars.append({"label": label, "value": value, "highlighted": highlighted,
                     "label_y": y + 14, "bar_y": y + 20, "width": width,
                     "value_x": width + 8, "value_y": y + 34})
    return {"bars": bars, "width": CHART_WIDTH, "bar_height": CHART_BAR_HEIGHT,
            "height": CHART_TOP + len(rows) * CHART_ROW + 4}


@bp.get("/vraagstukken/<int:cluster_id>/uitslag", endpoint="final_cluster")
def final_cluster(cluster_id: int):
    """A vraagstuk's final vote: winners, the full count, turnout and the audit head."""
    cluster = voting.get_ballot_cluster(cluster_id)
    rnd = load_round_by_id(cluster.round_id)
    _visible(rnd)
    result = voting.vote_result(cluster) if voting.is_closed(rnd) else None
    if result is None:
        return render_template("results/final_cluster.html", round=rnd, cluster=cluster,
                               result=None, status=_vote_status(rnd))
    data = result.data
    by_id = _proposals(data["candidates"])
    order = data["ranking"]
    place = {cid: k for k, cid in enumerate(order, start=1)}
    winners = set(data["winners"])
    d = data["pairwise"]
    first = data["first_preferences"]
    turnout = data.get("turnout") or {}
    second = data.get("second_winner")
    total = data["total_weight"]
    return render_template(
        "results/final_cluster.html", round=rnd, cluster=cluster, result=result, data=data,
        status=_vote_status(rnd), by_id=by_id, order=order, place=place, winners=winners,
        standards={s.proposal_id: s for s in standards.cluster_standards(cluster)},
        has_receipt_check="voting.check_receipt" in current_app.view_functions,
        wins={x: sum(1 for y in order if y != x and d[x][y] > d[y][x]) for x in order},
        first_shares={x: percent(first[x] / total) if total else "–" for x in order},
        chart=_chart([(f"{place[x]}. {_short(by_id[x].title)}", first[x], x in winners)
                      for x in order]),
        turnout=turnout,
        percent={
            "municipalities": percent(turnout["voted"] / turnout["eligible"])
            if turnout.get("eligible") else None,
            "population": percent(turnout["population"] / turnout["total_population"])
            if turnout.get("total_population") else None,
            "share": percent(second["share"]) if second else None,
            "threshold": percent(second["threshold"]) if second else None,
        })


def _closed_vote(cluster_id: int):
    """The cluster and its round when its ballots are public; refuses before the close (409)
    and for a vraagstuk that had no vote (404)."""
    cluster = voting.get_ballot_cluster(cluster_id)
    rnd = load_round_by_id(cluster.round_id)
    _visible(rnd)
    if not voting.is_closed(rnd):
        raise InvalidState(_("The ballots are published when the final vote has closed."))
    if voting.vote_result(cluster) is None:
        raise NotFound(_("This vraagstuk had no final vote."))
    return cluster, rnd


@bp.get("/vraagstukken/<int:cluster_id>/stembiljetten.json", endpoint="ballots_json")
def ballots_json(cluster_id: int):
    """The vraagstuk's ballots as the JSON file `flask competition tally` recounts."""
    cluster, _rnd = _closed_vote(cluster_id)
    body = json.dumps(voting.export(cluster), ensure_ascii=False, indent=2) + "\n"
    return Response(body, mimetype="application/json")


@bp.get("/vraagstukken/<int:cluster_id>/stembiljetten.csv", endpoint="ballots_csv")
def ballots_csv(cluster_id: int):
    """The vraagstuk's ballots as CSV (one row per ballot)."""
    cluster, rnd = _closed_vote(cluster_id)
    filename = f"stembiljetten-{rnd.slug}-vraagstuk-{cluster.id}.csv"
    return Response(voting.export_csv(cluster), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
