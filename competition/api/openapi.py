"""The OpenAPI 3.1 document of the JSON API, written by hand as Python data.

Kept next to the views on purpose: a route added to `api/views.py` without a path here fails
`tests/test_api.py`, and every answer the tests (and the fuzz test) get is validated against
the schemas below, which forbid unknown properties: a field added to a serializer without
being documented fails too.
"""

from copy import deepcopy
from typing import Any

from competition.models import AdoptionStatus, Phase, ProposalStatus
from competition.models.types import ID_MAX
from competition.services.municipalities import PROVINCES

Schema = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

# --- schema helpers ----------------------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def string(**extra: Any) -> Schema:
    return {"type": "string", **extra}


def integer(**extra: Any) -> Schema:
    return {"type": "integer", **extra}


def number(**extra: Any) -> Schema:
    return {"type": "number", **extra}


def boolean(**extra: Any) -> Schema:
    return {"type": "boolean", **extra}


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def nullable(schema: Schema) -> Schema:
    """The schema, or null."""
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = (),
        additional: bool | Schema = False, **extra: Any) -> Schema:
    """An object whose properties are all required unless named in `optional`; no others
    unless `additional` says so."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": additional,
        **extra,
    }


def page_of(item: str) -> Schema:
    """A page of a paginated list of `item`s."""
    return obj({
        "items": array(ref(item)),
        "page": integer(minimum=1),
        "per_page": integer(minimum=1, maximum=100),
        "total": integer(minimum=0),
        "pages": integer(minimum=0),
        "links": ref("PageLinks"),
    }, description=f"One page of {item} items, in a stable order.")


DATE_TIME = string(format="date-time")
DATE = string(format="date")
URI = string(format="uri")
PUBLIC_PHASES = [p.value for p in Phase if p is not Phase.DRAFT]
STATUS_COUNTS = obj({s.value: integer(minimum=0) for s in AdoptionStatus},
                    description="Municipalities per adoption status.")

# --- schemas -----------------------------------------------------------------------------------

SCHEMAS: dict[str, Schema] = {
    "Error": obj({
        "error": obj({
            "status": integer(description="The HTTP status code."),
            "reason": string(description="Why, for a person (in the request's language)."),
        }),
    }),
    "PageLinks": obj({
        "next": nullable(URI),
        "prev": nullable(URI),
    }),
    "Index": obj(dict.fromkeys(("openapi", "rounds", "proposals", "standards",
                                "municipalities", "domains"), URI)),
    "MunicipalityRef": obj({
        "code": string(pattern="^GM[0-9]{4}$", description="CBS code."),
        "name": string(),
        "province": string(),
    }),
    "Municipality": obj({
        "code": string(pattern="^GM[0-9]{4}$"),
        "name": string(),
        "province": string(),
        "population": integer(minimum=0),
        "is_active": boolean(description="Takes part in the platform."),
        "links": obj({"self": URI, "proposals": URI}),
    }),
    "MunicipalityDetail": obj({
        "code": string(pattern="^GM[0-9]{4}$"),
        "name": string(),
        "province": string(),
        "population": integer(minimum=0),
        "is_active": boolean(),
        "links": obj({"self": URI, "proposals": URI}),
        "adoption": array(obj({
            "standard": ref("StandardRef"),
            "status": string(enum=[s.value for s in AdoptionStatus]),
            "planned_on": nullable(DATE),
            "adopted_on": nullable(DATE),
        })),
    }),
    "Domain": obj({"slug": string(), "name_nl": string(), "name_en": string()}),
    "DomainItem": obj({
        "slug": string(), "name_nl": string(), "name_en": string(), "is_active": boolean(),
        "links": obj({"proposals": URI}),
    }),
    "DomainList": obj({"items": array(ref("DomainItem"))}),
    "RoundLinks": obj({"self": URI, "html": URI, "clusters": URI, "proposals": URI,
                       "standards": URI}),
    "Round": obj({
        "slug": string(),
        "title": string(),
        "theme": string(),
        "phase": string(enum=PUBLIC_PHASES),
        "phase_ends_at": nullable(DATE_TIME),
        "created_at": DATE_TIME,
        "links": ref("RoundLinks"),
    }),
    "PhaseWindow": obj({
        "phase": string(enum=[p.value for p in Phase]),
        "label": string(),
        "starts_at": nullable(DATE_TIME),
        "ends_at": nullable(DATE_TIME),
        "entered_at": nullable(DATE_TIME),
        "left_at": nullable(DATE_TIME),
        "is_current": boolean(),
    }, description="A phase: planned start and end, and when the round really entered and "
                   "left it."),
    "Rules": obj({
        "max_finalists": integer(minimum=1),
        "max_winners": integer(minimum=1),
        "jury_weight": number(minimum=0, maximum=1),
        "vote_weighting": string(enum=["equal", "population"]),
        "diversity_threshold": number(),
        "is_own_finalist_vote_allowed": boolean(),
        "are_juror_names_public": boolean(),
        "are_ballots_anonymous": boolean(),
        "estimated_cost": nullable(integer(minimum=0, description="Euros per municipality.")),
        "draw_seed": string(description="Seed of every tie-break draw, so anyone can redo it."),
    }),
    "RoundDetail": obj({
        "slug": string(),
        "title": string(),
        "theme": string(),
        "phase": string(enum=PUBLIC_PHASES),
        "phase_ends_at": nullable(DATE_TIME),
        "created_at": DATE_TIME,
        "links": ref("RoundLinks"),
        "description": string(),
        "rules": ref("Rules"),
        "phases": array(ref("PhaseWindow")),
        "published_proposals": integer(minimum=0),
        "is_preselection_published": boolean(),
        "is_final_vote_closed": boolean(),
    }),
    "ClusterRef": obj({"id": integer(), "label": string(), "url": URI}),
    "ClusterLinks": obj(dict.fromkeys(("self", "html", "proposals", "finalists",
                                       "preselection", "result", "ballots"), URI)),
    "Cluster": obj({
        "id": integer(),
        "round": string(),
        "label": string(),
        "description": string(),
        "proposal_count": integer(minimum=0),
        "confirmed_at": nullable(DATE_TIME),
        "links": ref("ClusterLinks"),
    }),
    "ClusterDetail": obj({
        "id": integer(),
        "round": string(),
        "label": string(),
        "description": string(),
        "proposal_count": integer(minimum=0),
        "confirmed_at": nullable(DATE_TIME),
        "links": ref("ClusterLinks"),
        "proposals": array(obj({
            "id": integer(), "title": string(), "municipality": string(), "url": URI,
            "similarity": number(description="Similarity to the cluster's centre (0–1)."),
        })),
    }),
    "ProposalRef": obj({
        "id": integer(), "title": string(),
        "municipality": string(description="CBS code of the submitting municipality."),
        "url": URI,
    }),
    "Proposal": obj({
        "id": integer(),
        "round": string(),
        "status": string(enum=[ProposalStatus.SUBMITTED.value,
                               ProposalStatus.WITHDRAWN.value]),
        "title": string(),
        "summary": string(),
        "domain": nullable(ref("Domain")),
        "municipality": ref("MunicipalityRef"),
        "co_submitters": array(ref("MunicipalityRef")),
        "cluster": nullable(integer(description="Id of its confirmed cluster.")),
        "interest_count": integer(minimum=0),
        "submitted_at": nullable(DATE_TIME),
        "updated_at": DATE_TIME,
        "withdrawn_at": nullable(DATE_TIME),
        "links": obj({"self": URI, "html": URI}),
    }),
    "ProposalDetail": obj({
        "id": integer(),
        "round": string(),
        "status": string(enum=[ProposalStatus.SUBMITTED.value,
                               ProposalStatus.WITHDRAWN.value]),
        "title": string(),
        "summary": string(),
        "domain": nullable(ref("Domain")),
        "municipality": ref("MunicipalityRef"),
        "co_submitters": array(ref("MunicipalityRef")),
        "cluster": nullable(integer()),
        "interest_count": integer(minimum=0),
        "submitted_at": nullable(DATE_TIME),
        "updated_at": DATE_TIME,
        "withdrawn_at": nullable(DATE_TIME),
        "links": obj({"self": URI, "html": URI}),
        "problem": string(),
        "description": string(description="Markdown."),
        "interested": array(ref("MunicipalityRef")),
        "planned_start": nullable(DATE),
        "estimated_cost": nullable(integer(minimum=0, description="Euros.")),
        "contact_name": string(),
        "withdrawal": nullable(obj({
            "kind": nullable(string(enum=["duplicate", "cancelled", "other"])),
            "reason": nullable(string()),
            "duplicate_of": nullable(integer()),
        })),
        "preselection": nullable(obj({
            "rank": integer(minimum=1),
            "is_finalist": boolean(),
            "is_computed_finalist": boolean(),
            "override_reason": nullable(string()),
        }, description="Its preselection outcome, once published.")),
        "standard": nullable(ref("StandardRef")),
    }),
    "Juror": obj({
        "number": nullable(integer(minimum=1, description="The juror's number in this round.")),
        "name": nullable(string(description="Only when the round makes juror names public.")),
    }),
    "Decision": obj({
        "proposal": ref("ProposalRef"),
        "rank": integer(minimum=1),
        "is_finalist": boolean(description="After any override."),
        "is_computed_finalist": boolean(),
        "override": nullable(obj({"reason": string(), "at": nullable(DATE_TIME)})),
    }),
    "Finalists": obj({
        "cluster": ref("ClusterRef"),
        "round": string(),
        "finalists": array(ref("Decision")),
    }),
    "PreselectionProposal": obj({
        "proposal": ref("ProposalRef"),
        "rank": integer(minimum=1),
        "is_finalist": boolean(),
        "is_computed_finalist": boolean(),
        "override": nullable(obj({"reason": string(), "at": nullable(DATE_TIME)})),
        "jury_score": nullable(number()),
        "peer_score": nullable(number()),
        "approvals": nullable(integer(minimum=0)),
        "eligible": nullable(integer(minimum=0)),
        "combined": nullable(number()),
        "decided_by": nullable(string()),
        "draw_key": nullable(string()),
        "flags": array(string()),
        "criteria": array(obj({
            "criterion_id": integer(), "mean": nullable(number()),
            "normalised": nullable(number()),
        })),
        "scorecards": array(obj({
            "juror": ref("Juror"),
            "scores": array(obj({"criterion_id": integer(), "score": number()})),
        })),
        "comments": array(obj({"juror": ref("Juror"), "criterion_id": integer(),
                               "comment": string()})),
        "recusals": array(obj({"juror": ref("Juror"), "reason": string(), "note": string()})),
        "incomplete": array(ref("Juror")),
        "missing": array(ref("Juror")),
    }),
    "Preselection": obj({
        "cluster": ref("ClusterRef"),
        "round": string(),
        "computed_at": DATE_TIME,
        "max_finalists": nullable(integer()),
        "all_through": nullable(boolean()),
        "cutoff_decided_by": nullable(string()),
        "voting_municipalities": nullable(integer(minimum=0)),
        "rules": obj({"jury_weight": nullable(number()), "max_finalists": nullable(integer()),
                      "seed": nullable(string())}),
        "criteria": array(obj({
            "id": integer(), "name_nl": string(), "name_en": string(),
            "scale_min": number(), "scale_max": number(), "weight": number(),
        })),
        "jurors": array(ref("Juror")),
        "proposals": array(ref("PreselectionProposal")),
    }),
    "VoteCount": obj({
        "cluster": nullable(string()),
        "candidates": array(string()),
        "winners": array(string()),
        "ranking": array(string()),
        "ballots": integer(minimum=0),
        "total_weight": number(),
        "first_preferences": obj({}, additional=number()),
        "pairwise": obj({}, additional=obj({}, additional=number())),
        "strongest_paths": obj({}, additional=obj({}, additional=number())),
        "max_winners": integer(),
        "second_winner": nullable(obj({
            "winner": string(), "runner_up": string(), "share": number(),
            "threshold": number(), "elected": boolean(),
        })),
        "seed": string(),
        "draws": array(obj({"position": integer(), "tied": array(string()),
                            "chosen": string()})),
        "turnout": obj({"voted": integer(), "eligible": integer(), "population": integer(),
                        "total_population": integer()}),
    }, optional=("turnout",), additional=True,
        description="The Schulze count as the engine reports it; candidates are proposal ids "
                    "as strings. More fields may be added."),
    "FinalResult": obj({
        "cluster": ref("ClusterRef"),
        "round": string(),
        "computed_at": DATE_TIME,
        "audit_head": string(description="Audit chain head right after the count."),
        "winners": array(ref("ProposalRef")),
        "standards": array(ref("StandardRef")),
        "count": ref("VoteCount"),
        "links": obj({"html": URI, "ballots": URI}),
    }),
    "BallotFile": obj({
        "cluster": string(),
        "label": string(),
        "round": string(),
        "candidates": array(string()),
        "max_winners": integer(),
        "diversity_threshold": number(),
        "seed": string(),
        "weighting": string(enum=["equal", "population"]),
        "ballots": array(obj({
            "municipality": nullable(string(description="CBS code; null when the round's "
                                                        "ballots are anonymous.")),
            "receipt": string(),
            "weight": number(),
            "ranking": array(string()),
        })),
    }, description="Exactly the file `flask competition tally` recounts."),
    "StandardRef": obj({"id": integer(), "name": string(), "place": integer(minimum=1),
                        "proposal_id": integer(), "url": URI}),
    "StandardLinks": obj({"self": URI, "html": URI, "adoption": URI}),
    "Standard": obj({
        "id": integer(),
        "name": string(),
        "round": string(),
        "cluster": integer(),
        "proposal_id": integer(),
        "owner": ref("MunicipalityRef"),
        "place": integer(minimum=1),
        "version": string(),
        "licence": string(),
        "declared_at": DATE_TIME,
        "updated_at": DATE_TIME,
        "links": ref("StandardLinks"),
    }),
    "StandardDetail": obj({
        "id": integer(),
        "name": string(),
        "round": string(),
        "cluster": integer(),
        "proposal_id": integer(),
        "owner": ref("MunicipalityRef"),
        "place": integer(minimum=1),
        "version": string(),
        "licence": string(),
        "declared_at": DATE_TIME,
        "updated_at": DATE_TIME,
        "links": ref("StandardLinks"),
        "description": string(),
        "demo_url": string(),
        "documentation_url": string(),
        "source_url": string(),
    }),
    "Adoption": obj({
        "standard": ref("StandardRef"),
        "municipalities": integer(minimum=0, description="Active municipalities."),
        "population": integer(minimum=0, description="Their inhabitants."),
        "counts": STATUS_COUNTS,
        "adopted": integer(minimum=0),
        "adopted_population": integer(minimum=0),
        "share": number(minimum=0, maximum=1),
        "population_share": number(minimum=0, maximum=1),
        "estimated_saving": nullable(integer(description=(
            "An estimate, in euros: the round's estimated cost per municipality × "
            "(adopters − 1); null when the round has no cost estimate."))),
        "by_province": array(obj({
            "province": string(), "municipalities": integer(minimum=0),
            "counts": STATUS_COUNTS,
        })),
        "progress": array(obj({"month": DATE, "adopted": integer(minimum=0)}),
                          description="Cumulative adopters per month since the declaration."),
        "statuses": array(obj({
            "municipality": ref("MunicipalityRef"),
            "status": string(enum=[s.value for s in AdoptionStatus]),
            "planned_on": nullable(DATE),
            "adopted_on": nullable(DATE),
            "reason": string(),
            "updated_at": DATE_TIME,
        }), description="Every municipality that recorded a status (the rest: undecided)."),
    }),
    "OpenAPI": {"type": "object", "description": "This document."},
}
for _name in ("Round", "Cluster", "Proposal", "Standard", "Municipality"):
    SCHEMAS[f"{_name}Page"] = page_of(_name)

# --- parameters and responses ------------------------------------------------------------------


def _query(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _path(name: str, schema: Schema, description: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}


PARAMETERS: dict[str, Schema] = {
    "lang": _query("lang", string(enum=["nl", "en"]),
                   "Language of texts such as error reasons and phase labels."),
    "page": _query("page", integer(minimum=1, maximum=100_000, default=1), "Page number."),
    "per_page": _query("per_page", integer(minimum=1, maximum=100, default=20),
                       "Items per page (at most 100)."),
    "slug": _path("slug", string(), "The round's slug."),
    "cluster_id": _path("cluster_id", integer(minimum=1, maximum=ID_MAX), "The cluster's id."),
    "proposal_id": _path("proposal_id", integer(minimum=1, maximum=ID_MAX), "The proposal's id."),
    "standard_id": _path("standard_id", integer(minimum=1, maximum=ID_MAX), "The standard's id."),
    "code": _path("code", string(), "The municipality's CBS code, such as GM0344."),
    "round": _query("round", string(maxLength=200), "Only this round (its slug)."),
}


def _error(description: str) -> Schema:
    return {"description": description,
            "content": {"application/json": {"schema": ref("Error")}}}


RESPONSES: dict[str, Schema] = {
    "BadRequest": _error("A query parameter is unknown, given twice, or has a bad value."),
    "NotFound": _error("No such resource (or it is not public)."),
    "NotYetPublished": _error("Not published yet: the phase that publishes it has not ended."),
    "TooManyRequests": _error("Too many requests from this address; wait a minute."),
    "ServerError": _error("Something went wrong on the platform's side."),
}


def _param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def _operation(operation_id: str, summary: str, schema: Schema, *, params: tuple = (),
               paginated: bool = False, not_found: bool = True, conflict: bool = False,
               description: str = "") -> Schema:
    parameters = [p if isinstance(p, dict) else _param(p) for p in params]
    if paginated:
        parameters += [_param("page"), _param("per_page")]
    parameters.append(_param("lang"))
    responses: dict[str, Schema] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
        "400": {"$ref": "#/components/responses/BadRequest"},
    }
    if not_found:
        responses["404"] = {"$ref": "#/components/responses/NotFound"}
    if conflict:
        responses["409"] = {"$ref": "#/components/responses/NotYetPublished"}
    responses["429"] = {"$ref": "#/components/responses/TooManyRequests"}
    responses["500"] = {"$ref": "#/components/responses/ServerError"}
    op = {"operationId": operation_id, "summary": summary, "parameters": parameters,
          "responses": responses}
    if description:
        op["description"] = description
    return {"get": op}


PROPOSAL_FILTERS = (
    _param("round"),
    _query("domain", string(maxLength=200), "Only this domain (its slug, see /domains)."),
    _query("municipality", string(maxLength=6),
           "Only proposals this municipality submits or co-submits (CBS code)."),
    _query("province", string(enum=list(PROVINCES)),
           "Only proposals of municipalities in this province."),
    _query("status", string(enum=[ProposalStatus.SUBMITTED.value,
                                  ProposalStatus.WITHDRAWN.value]),
           "Only submitted, or only withdrawn, proposals."),
    _query("cluster", integer(minimum=1), "Only proposals in this confirmed cluster."),
    _query("q", string(maxLength=200), "Words to search for in title, summary and "
                                       "description (stemmed, all words must match)."),
    _query("sort", string(enum=["newest", "title", "interest"], default="newest"),
           "Order: newest submitted first, by title, or most interest first."),
)

PATHS: dict[str, Schema] = {
    "/": _operation("index", "Where the collections are", ref("Index"), not_found=False),
    "/openapi.json": _operation("openapi", "This OpenAPI document", ref("OpenAPI"),
                                not_found=False),
    "/rounds": _operation(
        "listRounds", "Rounds past their draft, newest first", ref("RoundPage"),
        params=(_query("phase", string(enum=PUBLIC_PHASES), "Only rounds in this phase."),),
        paginated=True, not_found=False),
    "/rounds/{slug}": _operation(
        "getRound", "A round with its rules and phases", ref("RoundDetail"), params=("slug",)),
    "/rounds/{slug}/clusters": _operation(
        "listRoundClusters", "The round's confirmed clusters, by label", ref("ClusterPage"),
        params=("slug",), paginated=True),
    "/clusters/{cluster_id}": _operation(
        "getCluster", "A confirmed cluster with its proposals", ref("ClusterDetail"),
        params=("cluster_id",)),
    "/clusters/{cluster_id}/finalists": _operation(
        "getClusterFinalists", "The cluster's finalists", ref("Finalists"),
        params=("cluster_id",), conflict=True,
        description="Published when the preselection phase ends (409 before)."),
    "/clusters/{cluster_id}/preselection": _operation(
        "getClusterPreselection", "The cluster's full preselection result",
        ref("Preselection"), params=("cluster_id",), conflict=True,
        description="Scores per criterion and juror, approvals, combined scores, ranks, "
                    "recusals, tie-breaks and overrides. Jurors are numbered; their names "
                    "appear only when the round's rules make them public. Published when the "
                    "preselection phase ends (409 before)."),
    "/clusters/{cluster_id}/result": _operation(
        "getClusterResult", "The cluster's final vote count and standards", ref("FinalResult"),
        params=("cluster_id",), conflict=True,
        description="Published when the final vote closes (409 before)."),
    "/clusters/{cluster_id}/ballots": _operation(
        "getClusterBallots", "The cluster's ballots", ref("BallotFile"),
        params=("cluster_id",), conflict=True,
        description="The ballot file `flask competition tally` recounts. Published when the "
                    "final vote closes (409 before); municipalities are null when the round's "
                    "ballots are anonymous."),
    "/proposals": _operation(
        "listProposals", "Published proposals, filtered and searched", ref("ProposalPage"),
        params=PROPOSAL_FILTERS, paginated=True, not_found=False,
        description="Drafts are never listed. An unknown filter value is a 400."),
    "/proposals/{proposal_id}": _operation(
        "getProposal", "A published proposal", ref("ProposalDetail"), params=("proposal_id",)),
    "/domains": _operation("listDomains", "The policy domains", ref("DomainList"),
                           not_found=False),
    "/standards": _operation(
        "listStandards", "The standards, newest first", ref("StandardPage"),
        params=(_param("round"),), paginated=True, not_found=False),
    "/standards/{standard_id}": _operation(
        "getStandard", "A standard", ref("StandardDetail"), params=("standard_id",)),
    "/standards/{standard_id}/adoption": _operation(
        "getStandardAdoption", "How far a standard has spread", ref("Adoption"),
        params=("standard_id",)),
    "/municipalities": _operation(
        "listMunicipalities", "Municipalities by name", ref("MunicipalityPage"),
        params=(_query("province", string(enum=list(PROVINCES)), "Only this province."),
                _query("active", boolean(), "Only municipalities that take part (true) or "
                                            "do not (false).")),
        paginated=True, not_found=False),
    "/municipalities/{code}": _operation(
        "getMunicipality", "A municipality and its adoption of every standard",
        ref("MunicipalityDetail"), params=("code",)),
}

DESCRIPTION = """\
Open data of Open Competitie: rounds and their phases, clusters ("vraagstukken"), published
proposals, finalists and preselection results, final vote results and ballots, standards and
their adoption by municipalities. Read-only and public; no authentication.

**Pagination**: lists take `page` (from 1) and `per_page` (1–100, default 20) and answer
`{"items": [...], "page", "per_page", "total", "pages", "links": {"next", "prev"}}` in a stable
order.

**Errors** are JSON: `{"error": {"status": 404, "reason": "..."}}`, also for unknown URLs
(404) and methods other than GET (405). Unknown query parameters and bad values are a 400.

**What is never published**: drafts, e-mail addresses, who did what, juror names when the
round keeps them anonymous, ballots before the final vote has closed, municipalities on
anonymous ballots, and preselection approvals per municipality.

Atom feeds (not part of this API): `/feeds/voorstellen.atom`, `/rondes/{slug}/voorstellen.atom`,
`/feeds/fasen.atom`, `/feeds/uitslagen.atom`.
"""


def document() -> Schema:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return deepcopy({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Open Competitie open data API",
            "version": API_VERSION,
            "description": DESCRIPTION,
            "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
        },
        # Relative to this document's own address: the API lives next to it.
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "parameters": PARAMETERS, "responses": RESPONSES},
    })
