"""Models as the JSON the API publishes. Only public fields: never e-mail addresses, authors,
drafts, who changed what, or a juror's name when the round keeps jurors anonymous.

Times are ISO 8601 in UTC, dates ISO 8601, money in whole euros. The shapes are described in
`competition.api.openapi`; tests check every answer against it.
"""

from datetime import date, datetime
from typing import Any

from flask import url_for

from competition.models import (
    Adoption,
    Cluster,
    Domain,
    FinalistDecision,
    Municipality,
    PreselectionResult,
    Proposal,
    Round,
    Standard,
    VoteResult,
)
from competition.services import adoption as adoption_service
from competition.services import preselection, rounds, voting


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _api(endpoint: str, **values) -> str:
    return url_for(f"api.{endpoint}", _external=True, **values)


def _html(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


# --- small references --------------------------------------------------------------------------


def municipality_ref(m: Municipality) -> dict[str, Any]:
    return {"code": m.code, "name": m.name, "province": m.province}


def domain(d: Domain | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"slug": d.slug, "name_nl": d.name_nl, "name_en": d.name_en}


def domain_detail(d: Domain) -> dict[str, Any]:
    return {**domain(d), "is_active": d.is_active,
            "links": {"proposals": _api("proposals", domain=d.slug)}}


def proposal_ref(p: Proposal) -> dict[str, Any]:
    return {"id": p.id, "title": p.title, "municipality": p.municipality.code,
            "url": _api("proposal", proposal_id=p.id)}


def cluster_ref(c: Cluster) -> dict[str, Any]:
    return {"id": c.id, "label": c.label, "url": _api("cluster", cluster_id=c.id)}


def standard_ref(s: Standard) -> dict[str, Any]:
    return {"id": s.id, "name": s.name, "place": s.place, "proposal_id": s.proposal_id,
            "url": _api("standard", standard_id=s.id)}


# --- rounds ------------------------------------------------------------------------------------


def round_summary(r: Round) -> dict[str, Any]:
    return {
        "slug": r.slug,
        "title": r.title,
        "theme": r.theme,
        "phase": r.phase,
        "phase_ends_at": iso(r.window(r.current_phase).ends_at),
        "created_at": iso(r.created_at),
        "links": {
            "self": _api("round", slug=r.slug),
            "html": _html("rounds.round_page", slug=r.slug),
            "clusters": _api("round_clusters", slug=r.slug),
            "proposals": _api("proposals", round=r.slug),
            "standards": _api("standards", round=r.slug),
        },
    }


def round_detail(r: Round, published_proposals: int) -> dict[str, Any]:
    current = r.current_phase
    return {
        **round_summary(r),
        "description": r.description,
        "rules": {
            "max_finalists": r.max_finalists,
            "max_winners": r.max_winners,
            "jury_weight": r.jury_weight,
            "vote_weighting": r.vote_weighting,
            "diversity_threshold": r.diversity_threshold,
            "is_own_finalist_vote_allowed": r.is_own_finalist_vote_allowed,
            "are_juror_names_public": r.are_juror_names_public,
            "are_ballots_anonymous": r.are_ballots_anonymous,
            "estimated_cost": r.estimated_cost,
            "draw_seed": r.draw_seed,
        },
        "phases": [{
            "phase": phase.value,
            "label": rounds.phase_label(phase),
            "starts_at": iso(starts),
            "ends_at": iso(ends),
            "entered_at": iso(window.entered_at),
            "left_at": iso(window.left_at),
            "is_current": phase is current,
        } for phase, starts, ends, window in r.timeline()],
        "published_proposals": published_proposals,
        "is_preselection_published": preselection.is_published(r),
        "is_final_vote_closed": voting.is_closed(r),
    }


# --- clusters ----------------------------------------------------------------------------------


def cluster_summary(c: Cluster, r: Round, size: int) -> dict[str, Any]:
    return {
        "id": c.id,
        "round": r.slug,
        "label": c.label,
        "description": c.description,
        "proposal_count": size,
        "confirmed_at": iso(c.confirmed_at),
        "links": {
            "self": _api("cluster", cluster_id=c.id),
            "html": _html("clusters.detail", cluster_id=c.id),
            "proposals": _api("proposals", round=r.slug, cluster=c.id),
            "finalists": _api("cluster_finalists", cluster_id=c.id),
            "preselection": _api("cluster_preselection", cluster_id=c.id),
            "result": _api("cluster_result", cluster_id=c.id),
            "ballots": _api("cluster_ballots", cluster_id=c.id),
        },
    }


def cluster_detail(c: Cluster, r: Round, members: list[tuple[Proposal, float]]
                   ) -> dict[str, Any]:
    return {
        **cluster_summary(c, r, len(members)),
        "proposals": [{**proposal_ref(p), "similarity": round(similarity, 4)}
                      for p, similarity in members],
    }


# --- proposals ---------------------------------------------------------------------------------


def proposal_summary(p: Proposal, *, round_slug: str, co: list[Municipality],
                     cluster_id: int | None, interest: int) -> dict[str, Any]:
    return {
        "id": p.id,
        "round": round_slug,
        "status": p.status,
        "title": p.title,
        "summary": p.summary,
        "domain": domain(p.domain),
        "municipality": municipality_ref(p.municipality),
        "co_submitters": [municipality_ref(m) for m in co],
        "cluster": cluster_id,
        "interest_count": interest,
        "submitted_at": iso(p.submitted_at),
        "updated_at": iso(p.updated_at),
        "withdrawn_at": iso(p.withdrawn_at),
        "links": {
            "self": _api("proposal", proposal_id=p.id),
            "html": _html("proposals.detail", proposal_id=p.id),
        },
    }


def proposal_detail(p: Proposal, *, round_slug: str, co: list[Municipality],
                    cluster_id: int | None, interested: list[Municipality],
                    decision: FinalistDecision | None, standard: Standard | None
                    ) -> dict[str, Any]:
    return {
        **proposal_summary(p, round_slug=round_slug, co=co, cluster_id=cluster_id,
                           interest=len(interested)),
        "problem": p.problem,
        "description": p.description,
        "interested": [municipality_ref(m) for m in interested],
        "planned_start": iso(p.planned_start),
        "estimated_cost": p.estimated_cost,
        # The contact person's name is public (also in the CSV export); the address is not.
        "contact_name": p.contact_name,
        "withdrawal": None if not p.is_withdrawn else {
            "kind": p.withdrawal_kind,
            "reason": p.withdrawal_reason,
            "duplicate_of": p.duplicate_of_id,
        },
        "preselection": None if decision is None else {
            "rank": decision.rank,
            "is_finalist": decision.is_finalist,
            "is_computed_finalist": decision.is_computed_finalist,
            "override_reason": decision.override_reason,
        },
        "standard": standard_ref(standard) if standard is not None else None,
    }


# --- preselection ------------------------------------------------------------------------------


def finalists(c: Cluster, r: Round, decisions: list[FinalistDecision]) -> dict[str, Any]:
    return {
        "cluster": cluster_ref(c),
        "round": r.slug,
        "finalists": [_decision(d) for d in decisions if d.is_finalist],
    }


def _decision(d: FinalistDecision) -> dict[str, Any]:
    return {
        "proposal": proposal_ref(d.proposal),
        "rank": d.rank,
        "is_finalist": d.is_finalist,
        "is_computed_finalist": d.is_computed_finalist,
        "override": None if d.override_reason is None else {
            "reason": d.override_reason, "at": iso(d.overridden_at)},
    }


def preselection_result(c: Cluster, r: Round, stored: PreselectionResult,
                        decisions: list[FinalistDecision]) -> dict[str, Any]:
    """The frozen preselection of a cluster with its full reasoning. Jurors appear as
    "juror N" (the numbers of the result page); their names only when the round's rules make
    them public. Account ids never leave the platform."""
    data = stored.data
    jurors: dict[str, dict] = data.get("jurors", {})

    def juror(user_id: Any) -> dict[str, Any]:
        j = jurors.get(str(user_id))
        return {"number": j["number"] if j else None,
                "name": j["name"] if j and r.are_juror_names_public else None}

    by_proposal = {d.proposal_id: d for d in decisions}
    rows = []
    for p in data.get("proposals", []):
        d = by_proposal.get(p["proposal_id"])
        if d is None:
            continue
        comments = p.get("comments", {})
        rows.append({
            **_decision(d),
            "jury_score": p.get("jury_score"),
            "peer_score": p.get("peer_score"),
            "approvals": p.get("approvals"),
            "eligible": p.get("eligible"),
            "combined": p.get("combined"),
            "decided_by": p.get("decided_by"),
            "draw_key": p.get("draw_key"),
            "flags": list(p.get("flags", [])),
            "criteria": [{"criterion_id": c["criterion_id"], "mean": c["mean"],
                          "normalised": c["normalised"]} for c in p.get("criteria", [])],
            "scorecards": [{
                "juror": juror(card["juror_id"]),
                "scores": [{"criterion_id": cid, "score": value}
                           for cid, value in card["scores"]],
            } for card in p.get("scorecards", [])],
            "comments": [{"juror": juror(uid), "criterion_id": int(cid), "comment": text}
                         for uid, notes in sorted(comments.items(),
                                                  key=lambda kv: juror(kv[0])["number"] or 0)
                         for cid, text in sorted(notes.items(), key=lambda kv: int(kv[0]))],
            "recusals": [{"juror": juror(rec["juror_id"]), "reason": rec["reason"],
                          "note": rec.get("note", "")} for rec in p.get("recusals", [])],
            "incomplete": [juror(uid) for uid in p.get("incomplete_juror_ids", [])],
            "missing": [juror(uid) for uid in p.get("missing", [])],
        })
    return {
        "cluster": cluster_ref(c),
        "round": r.slug,
        "computed_at": iso(stored.computed_at),
        "max_finalists": data.get("max_finalists"),
        "all_through": data.get("all_through"),
        "cutoff_decided_by": data.get("cutoff_decided_by"),
        "voting_municipalities": data.get("voters"),
        "rules": {k: data.get("rules", {}).get(k) for k in ("jury_weight", "max_finalists",
                                                           "seed")},
        "criteria": [{"id": c["id"], "name_nl": c["name_nl"], "name_en": c["name_en"],
                      "scale_min": c["scale"][0], "scale_max": c["scale"][1],
                      "weight": c["weight"]} for c in data.get("criteria", [])],
        "jurors": sorted((juror(uid) for uid in jurors), key=lambda j: j["number"] or 0),
        "proposals": rows,
    }


# --- the final vote ----------------------------------------------------------------------------


def final_result(c: Cluster, r: Round, result: VoteResult, stds: list[Standard],
                 by_id: dict[int, Proposal]) -> dict[str, Any]:
    return {
        "cluster": cluster_ref(c),
        "round": r.slug,
        "computed_at": iso(result.computed_at),
        "audit_head": result.audit_head,
        "winners": [proposal_ref(by_id[pid]) for pid in result.winner_ids if pid in by_id],
        "standards": [standard_ref(s) for s in stds],
        # The count as the engine reports it: candidates are proposal ids (as strings).
        "count": result.data,
        "links": {
            "html": _html("results.final_cluster", cluster_id=c.id),
            "ballots": _api("cluster_ballots", cluster_id=c.id),
        },
    }


# --- standards and adoption --------------------------------------------------------------------


def standard_summary(s: Standard, r: Round) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "round": r.slug,
        "cluster": s.cluster_id,
        "proposal_id": s.proposal_id,
        "owner": municipality_ref(s.owner),
        "place": s.place,
        "version": s.version,
        "licence": s.licence,
        "declared_at": iso(s.declared_at),
        "updated_at": iso(s.updated_at),
        "links": {
            "self": _api("standard", standard_id=s.id),
            "html": _html("standards.detail", standard_id=s.id),
            "adoption": _api("standard_adoption", standard_id=s.id),
        },
    }


def standard_detail(s: Standard, r: Round) -> dict[str, Any]:
    return {
        **standard_summary(s, r),
        "description": s.description,
        "demo_url": s.demo_url,
        "documentation_url": s.documentation_url,
        "source_url": s.source_url,
    }


def adoption(s: Standard, coverage: adoption_service.Coverage,
             provinces: list, progress: list, rows: list[Adoption],
             saving: int | None) -> dict[str, Any]:
    return {
        "standard": standard_ref(s),
        "municipalities": coverage.municipalities,
        "population": coverage.population,
        "counts": {status.value: n for status, n in coverage.counts.items()},
        "adopted": coverage.adopted,
        "adopted_population": coverage.adopted_population,
        "share": coverage.share,
        "population_share": coverage.population_share,
        # The round's estimated cost per municipality × (adopters − 1): an estimate only.
        "estimated_saving": saving,
        "by_province": [{
            "province": province,
            "municipalities": total,
            "counts": {status.value: n for status, n in counts.items()},
        } for province, total, counts in provinces],
        "progress": [{"month": iso(month), "adopted": n} for month, n in progress],
        "statuses": [adoption_status(a) for a in rows],
    }


def adoption_status(a: Adoption) -> dict[str, Any]:
    return {
        "municipality": municipality_ref(a.municipality),
        "status": a.status,
        "planned_on": iso(a.planned_on),
        "adopted_on": iso(a.adopted_on),
        "reason": a.reason,
        "updated_at": iso(a.updated_at),
    }


# --- municipalities ----------------------------------------------------------------------------


def municipality(m: Municipality) -> dict[str, Any]:
    return {
        **municipality_ref(m),
        "population": m.population,
        "is_active": m.is_active,
        "links": {"self": _api("municipality", code=m.code),
                  "proposals": _api("proposals", municipality=m.code)},
    }


def municipality_detail(m: Municipality, statuses: list[tuple[Standard, Adoption | None]]
                        ) -> dict[str, Any]:
    return {
        **municipality(m),
        "adoption": [{
            "standard": standard_ref(s),
            "status": a.status if a is not None else "undecided",
            "planned_on": iso(a.planned_on) if a is not None else None,
            "adopted_on": iso(a.adopted_on) if a is not None else None,
        } for s, a in statuses],
    }

