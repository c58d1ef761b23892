"""Read-only JSON API (open data) under /api/v1: rounds and their phases, clusters, proposals,
finalists, results, ballots (after the close), standards, adoption and municipalities.

Public: no login, no CSRF (nothing is changed), rate-limited per client address. The answers
show what the public pages show, never more. Lists are paginated (`page`, `per_page` ≤ 100) in
a stable order. Errors are `{"error": {"status": …, "reason": …}}` (see `api/errors.py`).
The OpenAPI document (`openapi.py`) describes every route; a test keeps the two in sync.
"""

from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select

from competition.api import serializers as out
from competition.api.openapi import document
from competition.api.params import Params, bad_request
from competition.extensions import db, limiter
from competition.models import Phase, ProposalStatus, Round
from competition.rounds.views import advance_due_rounds
from competition.services import (
    adoption,
    municipalities,
    opendata,
    proposals,
    standards,
)
from competition.services.errors import NotFound
from competition.services.proposals import ProposalFilters

bp = Blueprint("api", __name__, url_prefix="/api/v1")

DEFAULT_RATE_LIMIT = "300 per minute"

# Every API answer counts against one limit per client address (config: API_RATE_LIMIT).
limiter.limit(lambda: current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT))(bp)

PROPOSAL_SORTS = ("newest", "title", "interest")
PROPOSAL_STATUSES = (ProposalStatus.SUBMITTED.value, ProposalStatus.WITHDRAWN.value)
PUBLIC_PHASES = tuple(p.value for p in Phase if p is not Phase.DRAFT)


@bp.before_request
def _advance_clock():
    # Like the pages: move rounds past phases that have ended, so the API never reports a
    # phase (or withholds a result) that the clock has already closed.
    advance_due_rounds()


def _page(stmt: Select, params: Params, render) -> dict[str, Any]:
    """One page of `stmt` as {items, page, per_page, total, pages, links}; `render` turns the
    page's rows into items (a list, so it can load related data for the whole page at once)."""
    page, per_page = params.page()
    result = db.paginate(stmt, page=page, per_page=per_page, error_out=False, count=True)
    pages = result.pages

    def link(number: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(number)
        args["per_page"] = str(per_page)
        return url_for(request.endpoint, _external=True, **(request.view_args or {}), **args)

    return {
        "items": render(list(result.items)),
        "page": page,
        "per_page": per_page,
        "total": result.total,
        "pages": pages,
        "links": {
            "next": link(page + 1) if page < pages else None,
            "prev": link(min(page - 1, pages)) if page > 1 and pages else None,
        },
    }


@bp.get("/", endpoint="index")
def index():
    """Where the API's collections and its OpenAPI document are."""
    Params()
    return jsonify({
        "openapi": url_for("api.openapi", _external=True),
        "rounds": url_for("api.rounds", _external=True),
        "proposals": url_for("api.proposals", _external=True),
        "standards": url_for("api.standards", _external=True),
        "municipalities": url_for("api.municipalities", _external=True),
        "domains": url_for("api.domains", _external=True),
    })


@bp.get("/openapi.json", endpoint="openapi")
def openapi():
    """The OpenAPI 3.1 document describing this API."""
    Params()
    return jsonify(document())


# --- rounds and clusters -----------------------------------------------------------------------


@bp.get("/rounds", endpoint="rounds")
def rounds_list():
    """Rounds past their draft, newest first (optionally in one phase)."""
    params = Params("phase", paginated=True)
    phase = params.choice("phase", PUBLIC_PHASES)
    stmt = opendata.rounds_query(Phase(phase) if phase else None)
    return jsonify(_page(stmt, params, lambda rows: [out.round_summary(r) for r in rows]))


@bp.get("/rounds/<slug>", endpoint="round")
def round_detail(slug: str):
    """A round: rules, and every phase with its planned and actual start and end."""
    Params()
    rnd = opendata.public_round(slug)
    return jsonify(out.round_detail(rnd, proposals.published_count(rnd)))


@bp.get("/rounds/<slug>/clusters", endpoint="round_clusters")
def round_clusters(slug: str):
    """The round's confirmed clusters ("vraagstukken"), by label."""
    params = Params(paginated=True)
    rnd = opendata.public_round(slug)

    def render(rows):
        sizes = opendata.cluster_sizes([c.id for c in rows])
        return [out.cluster_summary(c, rnd, sizes.get(c.id, 0)) for c in rows]

    return jsonify(_page(opendata.clusters_query(rnd), params, render))


@bp.get("/clusters/<int:cluster_id>", endpoint="cluster")
def cluster_detail(cluster_id: int):
    """A confirmed cluster with its published proposals."""
    Params()
    cluster, rnd = opendata.public_cluster(cluster_id)
    return jsonify(out.cluster_detail(cluster, rnd, opendata.cluster_proposals(cluster)))


@bp.get("/clusters/<int:cluster_id>/finalists", endpoint="cluster_finalists")
def cluster_finalists(cluster_id: int):
    """The cluster's finalists (after overrides), once the preselection is published."""
    Params()
    cluster, rnd = opendata.public_cluster(cluster_id)
    _stored, decisions = opendata.preselection_result(cluster, rnd)
    return jsonify(out.finalists(cluster, rnd, decisions))


@bp.get("/clusters/<int:cluster_id>/preselection", endpoint="cluster_preselection")
def cluster_preselection(cluster_id: int):
    """The cluster's full preselection result, once published."""
    Params()
    cluster, rnd = opendata.public_cluster(cluster_id)
    stored, decisions = opendata.preselection_result(cluster, rnd)
    return jsonify(out.preselection_result(cluster, rnd, stored, decisions))


@bp.get("/clusters/<int:cluster_id>/result", endpoint="cluster_result")
def cluster_result(cluster_id: int):
    """The cluster's final vote count and its standards, once the vote has closed."""
    Params()
    cluster, rnd = opendata.public_cluster(cluster_id)
    result = opendata.final_result(cluster, rnd)
    by_id = opendata.proposals_by_id(list(result.winner_ids))
    return jsonify(out.final_result(cluster, rnd, result, standards.cluster_standards(cluster),
                                    by_id))


@bp.get("/clusters/<int:cluster_id>/ballots", endpoint="cluster_ballots")
def cluster_ballots(cluster_id: int):
    """The cluster's ballots as the file `flask competition tally` recounts; after the close
    only (without municipalities when the round's ballots are anonymous)."""
    Params()
    cluster, rnd = opendata.public_cluster(cluster_id)
    return jsonify(opendata.ballots(cluster, rnd))


# --- proposals ---------------------------------------------------------------------------------


@bp.get("/proposals", endpoint="proposals")
def proposals_list():
    """Published proposals of every public round, filtered and searched."""
    params = Params("round", "domain", "municipality", "province", "status", "cluster", "q",
                    "sort", paginated=True)
    rnd, filters = _proposal_filters(params)
    slugs: dict[int, str] = {}

    def render(rows):
        ids = [p.id for p in rows]
        co = opendata.co_submitters(ids)
        clusters = opendata.public_clusters_of(ids)
        interest = proposals.interest_counts(ids)
        items = []
        for p in rows:
            if p.round_id not in slugs:
                slugs[p.round_id] = opendata.round_by_id(p.round_id).slug
            items.append(out.proposal_summary(
                p, round_slug=slugs[p.round_id], co=co.get(p.id, []),
                cluster_id=clusters.get(p.id), interest=interest.get(p.id, 0)))
        return items

    return jsonify(_page(opendata.proposals_query(filters, rnd), params, render))


def _proposal_filters(params: Params) -> tuple[Round | None, ProposalFilters]:
    """The round (if chosen) and the search filters; every value must be a known one."""
    rnd = None
    slug = params.text("round")
    if slug is not None:
        rnd = _filter_value("round", lambda: opendata.public_round(slug))
    domain_id = None
    domain_slug = params.text("domain")
    if domain_slug is not None:
        found = opendata.domain_by_slug(domain_slug)
        if found is None:
            _unknown("domain", domain_slug)
        domain_id = found.id
    code = params.text("municipality", max_length=6)
    if code is not None:
        code = code.upper()
        if opendata.municipality_by_code(code) is None:
            _unknown("municipality", code)
    cluster_id = params.integer("cluster")
    if cluster_id is not None:
        _filter_value("cluster", lambda: opendata.public_cluster(cluster_id))
    return rnd, ProposalFilters(
        q=proposals.clean_text(params.text("q") or ""),
        domain_id=domain_id,
        municipality_code=code or "",
        province=params.choice("province", municipalities.PROVINCES) or "",
        status=params.choice("status", PROPOSAL_STATUSES) or "",
        cluster_id=cluster_id,
        sort=params.choice("sort", PROPOSAL_SORTS, default="newest"),
    )


def _unknown(name: str, value: str):
    bad_request(_("The query parameter “%(name)s” has a value that is not known: “%(value)s”. "
                  "See the API documentation for the values it takes.", name=name, value=value))


def _filter_value(name: str, load):
    """What `load` finds for a filter's value; a value it does not know is a 400, not a 404
    (the list exists, the filter is wrong)."""
    try:
        return load()
    except NotFound:
        _unknown(name, request.args.get(name, ""))


@bp.get("/proposals/<int:proposal_id>", endpoint="proposal")
def proposal_detail(proposal_id: int):
    """A published proposal with its full text, co-submitters, interest and outcome."""
    Params()
    p = opendata.public_proposal(proposal_id)
    rnd = opendata.round_by_id(p.round_id)
    return jsonify(out.proposal_detail(
        p, round_slug=rnd.slug, co=opendata.co_submitters([p.id]).get(p.id, []),
        cluster_id=opendata.public_clusters_of([p.id]).get(p.id),
        interested=opendata.interested(p), decision=opendata.finalist_decision(p),
        standard=opendata.standard_of(p)))


@bp.get("/domains", endpoint="domains")
def domains_list():
    """The policy domains a proposal can belong to (the `domain` filter's values)."""
    Params()
    return jsonify({"items": [out.domain_detail(d) for d in opendata.all_domains()]})


# --- standards and adoption --------------------------------------------------------------------


@bp.get("/standards", endpoint="standards")
def standards_list():
    """The standards, newest first (optionally of one round)."""
    params = Params("round", paginated=True)
    slug = params.text("round")
    rnd = _filter_value("round", lambda: opendata.public_round(slug)) if slug is not None \
        else None

    def render(rows):
        return [out.standard_summary(s, opendata.round_by_id(s.round_id)) for s in rows]

    return jsonify(_page(opendata.standards_query(rnd), params, render))


@bp.get("/standards/<int:standard_id>", endpoint="standard")
def standard_detail(standard_id: int):
    """A standard: what it is, who owns it, where to find it."""
    Params()
    s = standards.get_standard(standard_id)
    return jsonify(out.standard_detail(s, opendata.round_by_id(s.round_id)))


@bp.get("/standards/<int:standard_id>/adoption", endpoint="standard_adoption")
def standard_adoption(standard_id: int):
    """How far a standard has spread: counts and shares, by province, over time, and every
    municipality's recorded status."""
    Params()
    s = standards.get_standard(standard_id)
    coverage = adoption.coverage(s)
    return jsonify(out.adoption(s, coverage, adoption.by_province(s), adoption.progress(s),
                                adoption.adopters(s), adoption.saving(s, coverage.adopted)))


# --- municipalities ----------------------------------------------------------------------------


@bp.get("/municipalities", endpoint="municipalities")
def municipalities_list():
    """Municipalities with code, name, province and population, by name."""
    params = Params("province", "active", paginated=True)
    stmt = opendata.municipalities_query(
        params.choice("province", municipalities.PROVINCES), params.boolean("active"))
    return jsonify(_page(stmt, params, lambda rows: [out.municipality(m) for m in rows]))


@bp.get("/municipalities/<code>", endpoint="municipality")
def municipality_detail(code: str):
    """A municipality and its adoption status for every standard."""
    Params()
    m = municipalities.get_by_code(code)
    return jsonify(out.municipality_detail(m, adoption.municipality_statuses(m)))

