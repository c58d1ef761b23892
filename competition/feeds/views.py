"""Atom feeds: new proposals (all rounds, or one round), phase changes, and results
(published finalists and final results with their standards).

Public, read-only. Each feed's id is its own address and each entry's id the address of the
page it announces, so ids stay the same for as long as the pages do. Phase changes come from
the audit log's `round.phase_closed` events, showing only which phase ended and which opened.
"""

import re
from datetime import datetime

from feedgen.feed import FeedGenerator
from flask import Blueprint, Response, abort, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from competition import clock
from competition.models import Phase
from competition.rounds.views import advance_due_rounds, load_round
from competition.services import opendata
from competition.services.rounds import phase_label

bp = Blueprint("feeds", __name__)

ATOM = "application/atom+xml"
# Characters XML 1.0 does not allow (C0 controls except tab, newline and carriage return;
# surrogates; U+FFFE and U+FFFF): user text holding one would make the feed unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str | None) -> str:
    """User text as XML may carry it."""
    return _NOT_XML.sub("", value or "")


@bp.before_request
def _advance_clock():
    # Like the pages: a phase whose end has passed is closed before the feed is read.
    advance_due_rounds()


def _feed(title: str, subtitle: str, self_url: str, html_url: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(self_url)
    fg.title(xml_text(title))
    fg.subtitle(xml_text(subtitle))
    fg.link(href=self_url, rel="self", type=ATOM)
    fg.link(href=html_url, rel="alternate", type="text/html")
    fg.author({"name": "Open Competitie"})
    fg.language(str(get_locale() or "nl"))
    return fg


def _entry(fg: FeedGenerator, *, entry_id: str, title: str, link: str, updated: datetime,
           summary: str, published: datetime | None = None, author: str | None = None):
    fe = fg.add_entry(order="append")
    fe.id(entry_id)
    fe.title(xml_text(title))
    fe.link(href=link, rel="alternate", type="text/html")
    fe.updated(updated)
    if published is not None:
        fe.published(published)
    fe.summary(xml_text(summary), type="text")
    if author:
        fe.author({"name": xml_text(author)})
    return fe


def _atom(fg: FeedGenerator, updated: list[datetime]) -> Response:
    # The feed changed when its newest entry did; an empty feed says "now".
    fg.updated(max(updated) if updated else clock.now())
    return Response(fg.atom_str(pretty=True), mimetype=ATOM)


def _proposals_feed(rnd=None) -> Response:
    if rnd is None:
        fg = _feed(_("Open Competitie: new proposals"),
                   _("Proposals submitted in every round."),
                   url_for("feeds.proposals", _external=True),
                   url_for("rounds.home", _external=True))
    else:
        fg = _feed(_("%(round)s: new proposals", round=rnd.title),
                   _("Proposals submitted in the round “%(round)s”.", round=rnd.title),
                   url_for("feeds.round_proposals", slug=rnd.slug, _external=True),
                   url_for("proposals.index", slug=rnd.slug, _external=True))
    items = opendata.recent_proposals(rnd)
    for p in items:
        link = url_for("proposals.detail", proposal_id=p.id, _external=True)
        fe = _entry(fg, entry_id=link, title=p.title, link=link, updated=p.updated_at,
                    published=p.submitted_at, author=p.municipality.name,
                    summary=p.summary or p.title)
        if p.domain is not None:
            fe.category(term=p.domain.slug, label=xml_text(p.domain.name(str(get_locale()))))
    return _atom(fg, [p.updated_at for p in items])


@bp.get("/feeds/voorstellen.atom", endpoint="proposals")
def proposals_feed():
    """New proposals in every public round (Atom)."""
    return _proposals_feed()


@bp.get("/rondes/<slug>/voorstellen.atom", endpoint="round_proposals")
def round_proposals_feed(slug: str):
    """New proposals in one round (Atom)."""
    rnd = load_round(slug)
    if rnd.current_phase is Phase.DRAFT:
        abort(404)
    return _proposals_feed(rnd)


@bp.get("/feeds/fasen.atom", endpoint="phases")
def phases_feed():
    """Phase changes of every public round (Atom)."""
    fg = _feed(_("Open Competitie: phase changes"),
               _("When a phase of a round ends and the next one opens."),
               url_for("feeds.phases", _external=True), url_for("rounds.home", _external=True))
    changes = opendata.phase_changes()
    for change in changes:
        rnd = change.round
        link = url_for("rounds.round_page", slug=rnd.slug, _external=True)
        _entry(fg, entry_id=f"{link}#phase-{change.to_phase.value}",
               title=_("%(round)s: %(phase)s has started", round=rnd.title,
                       phase=phase_label(change.to_phase)),
               link=link, updated=change.at, published=change.at,
               summary=_("The phase “%(before)s” of the round “%(round)s” has ended; the phase "
                         "“%(after)s” has started.", before=phase_label(change.from_phase),
                         round=rnd.title, after=phase_label(change.to_phase)))
    return _atom(fg, [c.at for c in changes])


@bp.get("/feeds/uitslagen.atom", endpoint="results")
def results_feed():
    """Published preselection results and final results with their standards (Atom)."""
    fg = _feed(_("Open Competitie: results"),
               _("Finalists after the preselection, and the winners of the final vote that "
                 "become standards."),
               url_for("feeds.results", _external=True),
               url_for("standards.index", _external=True))
    entries: list[tuple[datetime, dict]] = []
    for pre in opendata.published_preselections():
        lines = [f"{cluster.label}: " + ("; ".join(p.title for p in finalists) or "–")
                 for cluster, finalists in pre.clusters]
        link = url_for("results.preselection", slug=pre.round.slug, _external=True)
        entries.append((pre.at, {
            "entry_id": link, "link": link,
            "title": _("%(round)s: the finalists are known", round=pre.round.title),
            "summary": "\n".join(lines)}))
    for res in opendata.published_results():
        link = url_for("results.final_cluster", cluster_id=res.cluster.id, _external=True)
        names = "; ".join(s.name for s in res.standards) or "–"
        entries.append((res.result.computed_at, {
            "entry_id": link, "link": link,
            "title": _("%(cluster)s: the result of the final vote", cluster=res.cluster.label),
            "summary": _("Round “%(round)s”. New standard: %(standards)s.",
                         round=res.round.title, standards=names)}))
    # Newest first, across both kinds.
    entries.sort(key=lambda e: e[0], reverse=True)
    entries = entries[:opendata.FEED_SIZE]
    for at, entry in entries:
        _entry(fg, updated=at, published=at, **entry)
    return _atom(fg, [at for at, _entry_data in entries])
