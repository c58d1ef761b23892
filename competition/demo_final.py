"""Demo content: the development phase and the final vote of the demo round.

Everything goes through the real services (`competition.services.development`, `comments` and
`voting`), at moments inside the phase windows, so finalist pages, the turnout overview, the
results and the audit log look exactly as after a real round.

- When the development phase opens (content step at `Phase.DEVELOPMENT`): in the first 45% of
  the phase most finalist teams post a progress update or two and publish their cost and licence
  statement (one with a licence that is not open, explained), one team uploads a deliverable
  PDF, and members of other municipalities ask questions that the teams answer. A third of the
  finalists start late: the demo that stands *in* development (in the middle of the phase) shows
  them with nothing published yet.
- When the demo moves past development (`finish_development`, called by the seeder just before
  the phase closes): the late teams catch up and every team posts a last update before the vote.
- When the final vote opens (content step at `Phase.FINAL_VOTE`): in the first 45% of the phase
  some delegates vote, and Groningen's delegate changes one ballot (two versions, one current).
  Utrecht's delegate has not voted yet, so a visitor can try it.
- When the demo moves past the final vote (`finish_final_vote`): the organiser reminds the
  municipalities that have not voted, and every demo delegate votes in every cluster. Closing
  the phase then counts the vote and declares the standards (`voting.count`).

Rankings are pseudo-random but deterministic (hashes of names and titles, around the hidden
"quality" the preselection also used), planned once for the whole vote so early and late ballots
agree. Delegates rank their own finalist first (the demo round allows it) and otherwise roughly
agree, so winners are clear; one cluster is made close on purpose, and no cluster is a tie.
"""

import io
from datetime import datetime, timedelta

from flask import current_app

from competition import demo
from competition.demo_preselection import (
    _Actions,
    _clock,
    _delegates,
    _quality,
    _spread,
    _unit,
)
from competition.extensions import db
from competition.models import (
    Cluster,
    CommentKind,
    Municipality,
    Phase,
    Proposal,
    Round,
    User,
)
from competition.models.adoption import AdoptionStatus
from competition.services import (
    accounts,
    adoption,
    attachments,
    comments,
    development,
    standards,
    voting,
)
from competition.services.rounds import slugify

EARLY = (0.05, 0.45)  # in the past when the demo stands in the middle of the phase
LATE = (0.55, 0.8)
LAST_UPDATES = (0.85, 0.95)
REMINDER = 0.6

LATE_STARTERS = 1 / 3  # share of the finalists that publish nothing in the first half
SECOND_UPDATE = 0.5  # share of the early teams that post a second update early on

# Municipalities whose delegate votes in the first half of the final vote, in every cluster (1),
# every other (2) or every third (3). Utrecht and Zwolle vote only in the second half.
EARLY_VOTERS = {"GM0363": 1, "GM0014": 1, "GM0772": 2, "GM1900": 3}
# The delegate who changes a ballot after a regional meeting.
CHANGES_BALLOT = "GM0014"
OWN_BONUS = 1.0  # a municipality ranks its own finalist first
PARTIAL = 0.15  # share of the ballots that rank only the favourite
TASTE = 0.6  # how far municipalities differ from the common view of a finalist

# --- texts -------------------------------------------------------------------------------------

_FIRST_UPDATES = (
    ("Gestart: gebruikersonderzoek en eerste schetsen", """\
We zijn begonnen! De eerste weken stonden in het teken van onderzoek met de mensen die de
oplossing straks gebruiken.

**Wat we hebben gedaan**

- Twaalf interviews met inwoners en medewerkers van het klantcontactcentrum
- Een klikbaar prototype getest in de bibliotheek
- De bestaande werkwijze in kaart gebracht, met de knelpunten per stap

De verslagen en schetsen staan in [onze repository]({source}). Volgende stap: de eerste
werkende versie."""),
    ("Architectuur vastgesteld", """\
De technische opzet staat. We bouwen op open standaarden, zodat andere gemeenten de oplossing
zonder maatwerk kunnen aansluiten:

1. Koppeling met zaaksystemen via de ZGW API's
2. Inloggen met DigiD en eHerkenning via de landelijke voorzieningen
3. Toegankelijk volgens WCAG 2.1 AA, vanaf de eerste sprint

Het architectuurdocument staat in [de documentatie]({docs})."""),
    ("Eerste sprint afgerond", """\
Na de eerste sprint van drie weken staat er een werkende basis. Wat er nu al kan:

- het formulier doorlopen, met tussentijds opslaan
- een bevestiging per e-mail ontvangen
- de status volgen op een eigen pagina

Nog niet klaar: de koppeling met de achterliggende systemen. Daar werken we de komende sprint
aan. Meekijken kan in [de demo-omgeving]({demo})."""),
)

_SECOND_UPDATES = (
    ("Toegankelijkheid getest", """\
Een extern bureau heeft de eerste versie getoetst aan WCAG 2.1 AA. Uitkomst: **geen
blokkerende bevindingen**, wel een paar verbeterpunten, die inmiddels zijn doorgevoerd:

- foutmeldingen worden nu ook door schermlezers voorgelezen
- het contrast van de knoppen is verhoogd
- alle stappen zijn met alleen het toetsenbord te doorlopen

Het volledige rapport staat bij [de documentatie]({docs})."""),
    ("Proefdraaien bij twee andere gemeenten", """\
Twee andere gemeenten hebben de oplossing een maand op hun eigen testomgeving gedraaid. Hun
belangrijkste lessen:

1. De installatiehandleiding miste een stap voor de koppeling met het zaaksysteem (inmiddels
   aangevuld).
2. Teksten moeten per gemeente aan te passen zijn; dat kan nu in één configuratiebestand.

Probeer het zelf in [de demo-omgeving]({demo})."""),
)

_LATE_START = ("Later van start, maar nu op stoom", """\
Door de aanbesteding van de hosting zijn we later begonnen dan gepland. De planning tot de
eindstemming:

- week 1–3: basisversie en de koppelingen met onze systemen
- week 4–6: testen met inwoners en medewerkers
- week 7: oplevering en documentatie

De code komt op [GitLab]({source}); we houden jullie hier op de hoogte.""")

_LAST_UPDATE = ("Klaar voor de eindstemming", """\
De oplossing is opgeleverd en draait bij {municipality}. Voor de gemeenten die gaan stemmen
alles op een rij:

- [Demo-omgeving]({demo}), met testaccounts op de startpagina
- [Documentatie en installatiehandleiding]({docs})
- [Broncode]({source})

Vragen? Stel ze hieronder: we beantwoorden ze voordat de stemming sluit.""")

_COST_NOTES = (
    "De bouwkosten zijn inclusief gebruikersonderzoek en de toegankelijkheidstoets. De jaarlijkse "
    "kosten zijn hosting en beheer per aangesloten gemeente; bij meer deelnemers dalen ze.",
    "Bouw door ons eigen team met een externe ontwikkelaar. Jaarlijks: licenties voor de "
    "hostingomgeving, updates en een dagdeel functioneel beheer per maand.",
    "Kosten zoals begroot in het voorstel, met 8% meerwerk voor de koppeling met het zaaksysteem. "
    "De jaarlijkse kosten delen de aangesloten gemeenten naar inwonertal.",
)
_OTHER_LICENCE_NOTES = (
    "Gebouwd op het zaakgerichte pakket van onze leverancier, dat niet open is. Onze koppelingen "
    "en formulieren publiceren we wel onder EUPL-1.2; andere gemeenten sluiten voor het pakket "
    "een eigen licentie af (ongeveer € 6.000 per jaar)."
)
_OTHER_LICENCES = ("MIT", "Apache-2.0", "AGPL-3.0-or-later")

_QUESTIONS = (
    ("Kunnen wij dit ook koppelen aan ons eigen zaaksysteem? Wij gebruiken een ander pakket dan "
     "jullie.",
     "Ja: de koppeling loopt via de ZGW API's, dus elk zaaksysteem dat die ondersteunt werkt. In "
     "de installatiehandleiding staat een stappenplan; we helpen graag bij de eerste aansluiting."),
    ("Wat betekenen de jaarlijkse kosten voor een kleinere gemeente zoals de onze?",
     "We delen de beheerkosten naar inwonertal. Voor een gemeente onder de 50.000 inwoners komt "
     "dat nu uit op ongeveer € 3.000 per jaar, en minder naarmate er meer gemeenten aansluiten."),
)


# --- content steps ----------------------------------------------------------------------------


def add_demo_final(rnd: Round, phase: Phase, moment: datetime) -> None:
    """Content step: the first half of the development phase and of the final vote when those
    phases open."""
    if phase is Phase.DEVELOPMENT:
        _develop(rnd, moment)
    elif phase is Phase.FINAL_VOTE:
        _open_vote(rnd, moment)
    elif phase is Phase.DECIDED:
        _first_adoptions(rnd, moment)


def finish_development(rnd: Round, organiser: User, end: datetime) -> None:
    """Before the development phase closes: the late teams catch up, everyone reports."""
    at = _clock(rnd.window(Phase.DEVELOPMENT).entered_at, end)
    early, late = _teams(rnd)
    actions = _Actions()
    for proposal, member in late:
        when = _spread(at(LATE[0]), at(LATE[1]), 3, proposal.title)
        actions.add(when[0], _post, member, proposal, _LATE_START)
        actions.add(when[1], _save_statement, member, proposal, False)
        actions.add(when[2], _post, member, proposal,
                    _SECOND_UPDATES[_pick(len(_SECOND_UPDATES), "second", proposal.title)])
    for proposal, member in early + late:
        (when,) = _spread(at(LAST_UPDATES[0]), at(LAST_UPDATES[1]), 1, proposal.title)
        actions.add(when, _post, member, proposal, _LAST_UPDATE)
    actions.run()


def finish_final_vote(rnd: Round, organiser: User, end: datetime) -> None:
    """Before the final vote closes: a reminder, then every demo delegate votes everywhere."""
    at = _clock(rnd.window(Phase.FINAL_VOTE).entered_at, end)
    plan = _plan(rnd)
    actions = _Actions()
    actions.add(at(REMINDER), _remind, organiser, rnd)
    for code, delegate in _delegates():
        pending = [c for c in voting.vote_clusters(rnd)
                   if code in plan[c.id]
                   and voting.current_ballot(delegate.municipality_id, c) is None]
        start = at(REMINDER) + timedelta(hours=2)
        for cluster, when in zip(pending, _spread(start, at(0.95), len(pending), code),
                                 strict=True):
            actions.add(when, _cast, delegate, cluster, plan[cluster.id][code])
    actions.run()


# --- development -------------------------------------------------------------------------------


def _develop(rnd: Round, moment: datetime) -> None:
    at = _clock(moment, rnd.window(Phase.DEVELOPMENT).ends_at)
    early, _late = _teams(rnd)
    actions = _Actions()
    for n, (proposal, member) in enumerate(early):
        second = _unit("second-update", proposal.title) < SECOND_UPDATE
        steps = 2 + second + (n == 0)
        when = _spread(at(EARLY[0]), at(EARLY[1]), steps, proposal.title)
        actions.add(when[0], _post, member, proposal,
                    _FIRST_UPDATES[_pick(len(_FIRST_UPDATES), "first", proposal.title)])
        # The second team builds on a supplier's package: its licence is "other", explained.
        actions.add(when[1], _save_statement, member, proposal, n == 1)
        if second:
            actions.add(when[2], _post, member, proposal,
                        _SECOND_UPDATES[_pick(len(_SECOND_UPDATES), "second", proposal.title)])
        if n == 0:
            actions.add(when[-1], _upload_report, member, proposal)
    # Questions from other municipalities on two early finalists, answered by the team.
    for k, (proposal, member) in enumerate(early[:len(_QUESTIONS)]):
        asker = _asker(proposal)
        if asker is None:
            continue
        asked = at(0.25 + 0.08 * k) + timedelta(hours=3)
        actions.add(asked, _ask, asker, member, proposal, _QUESTIONS[k])
    actions.run()


def _teams(rnd: Round) -> tuple[list[tuple[Proposal, User]], list[tuple[Proposal, User]]]:
    """(early, late) finalists with the member who publishes for them: the demo member account
    of the owner municipality. Finalists whose owner has no demo account publish nothing."""
    found = []
    for cluster in voting.vote_clusters(rnd):
        for proposal in development.cluster_finalists(cluster):
            member = _member_of(proposal)
            if member is not None:
                found.append((proposal, member))
    found.sort(key=lambda pm: (_unit("start", pm[0].title), pm[0].id))
    late = round(len(found) * LATE_STARTERS) if len(found) > 1 else 0
    return found[: len(found) - late], found[len(found) - late:]


def _member_of(proposal: Proposal) -> User | None:
    municipality = db.session.get(Municipality, proposal.municipality_id)
    user = accounts.find_user_by_email(f"medewerker@{_short(municipality)}.example")
    return user if user is not None and development.is_team(user, proposal) else None


def _short(municipality: Municipality) -> str:
    """The name in the municipality's demo addresses (as the demo proposals create them)."""
    return dict(demo.DEMO_MUNICIPALITIES).get(municipality.code) or slugify(municipality.name)


def _links(proposal: Proposal) -> dict[str, str]:
    municipality = db.session.get(Municipality, proposal.municipality_id)
    owner, project = _short(municipality), slugify(proposal.title)[:50].strip("-")
    return {
        "demo": f"https://demo.{owner}.example/{project}/",
        "docs": f"https://gitlab.example/{owner}/{project}/-/wikis/home",
        "source": f"https://gitlab.example/{owner}/{project}",
        "municipality": municipality.name,
    }


def _post(member: User, proposal: Proposal, text: tuple[str, str], *, now: datetime) -> None:
    title, body = text
    development.post_update(member, proposal, title, body.format(**_links(proposal)), now=now)


def _save_statement(member: User, proposal: Proposal, other_licence: bool, *,
                    now: datetime) -> None:
    links = _links(proposal)
    if other_licence:
        licence = development.LICENCE_OTHER
    elif _unit("licence", proposal.title) < 0.75:
        licence = "EUPL-1.2"
    else:
        licence = _OTHER_LICENCES[_pick(len(_OTHER_LICENCES), "licence-kind", proposal.title)]
    development.save_work(
        member, proposal,
        demo_url=links["demo"], documentation_url=links["docs"], source_url=links["source"],
        licence=licence, licence_notes=_OTHER_LICENCE_NOTES if other_licence else "",
        cost_estimate=45_000 + 5_000 * int(50 * _unit("cost", proposal.title)),
        yearly_cost=2_500 + 500 * int(30 * _unit("yearly", proposal.title)),
        cost_notes=_COST_NOTES[_pick(len(_COST_NOTES), "cost-notes", proposal.title)],
        now=now)


def _upload_report(member: User, proposal: Proposal, *, now: datetime) -> None:
    name = f"opleverrapport-{slugify(proposal.title)[:40].strip('-')}.pdf"
    content = _pdf("Opleverrapport ontwikkelfase", [
        proposal.title,
        "Tussenrapportage, opgesteld door het projectteam.",
        "Opgeleverd: basisversie, koppelingen, toegankelijkheidstoets (WCAG 2.1 AA).",
        "Volgende stap: proefdraaien bij andere gemeenten.",
    ])
    development.add_deliverable_file(
        member, proposal, attachments.Upload(name, io.BytesIO(content)),
        upload_folder=current_app.config["UPLOAD_FOLDER"], now=now)


def _asker(proposal: Proposal) -> User | None:
    """A member of another demo municipality, not involved in the proposal."""
    candidates = []
    for code, short in demo.DEMO_MUNICIPALITIES:
        user = accounts.find_user_by_email(f"medewerker@{short}.example")
        if user is not None and user.is_active and not comments.can_answer(user, proposal):
            candidates.append((_unit("asker", proposal.title, code), user))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def _ask(asker: User, member: User, proposal: Proposal, qa: tuple[str, str], *,
         now: datetime) -> None:
    question = comments.add_comment(asker, proposal, qa[0], CommentKind.QUESTION, now=now)
    comments.answer(member, question, qa[1], now=now + timedelta(days=1, hours=4))


# --- the final vote ----------------------------------------------------------------------------


def _open_vote(rnd: Round, moment: datetime) -> None:
    at = _clock(moment, rnd.window(Phase.FINAL_VOTE).ends_at)
    plan = _plan(rnd)
    clusters = voting.vote_clusters(rnd)
    actions = _Actions()
    for code, delegate in _delegates():
        step = EARLY_VOTERS.get(code)
        if step is None:
            continue
        chosen = [c for c in clusters[::step] if code in plan[c.id]]
        times = _spread(at(EARLY[0]), at(EARLY[1] - 0.1), len(chosen), code)
        changed = None
        for cluster, when in zip(chosen, times, strict=True):
            ranking = plan[cluster.id][code]
            if code == CHANGES_BALLOT and changed is None and _changeable(cluster, delegate,
                                                                          ranking):
                # First the other way round; after a regional meeting, the planned ballot.
                changed = cluster
                actions.add(when, _cast, delegate, cluster, _first_thoughts(cluster, ranking))
                actions.add(at(EARLY[1]), _cast, delegate, cluster, ranking)
            else:
                actions.add(when, _cast, delegate, cluster, ranking)
    actions.run()


def _changeable(cluster: Cluster, delegate: User, ranking: list[int]) -> bool:
    """A ballot worth reconsidering: two or more finalists, none the municipality's own."""
    options = voting.options(cluster, delegate.municipality_id)
    return len(options) > 1 and not any(o.is_own for o in options) and bool(ranking)


def _first_thoughts(cluster: Cluster, ranking: list[int]) -> list[int]:
    """The ballot before the regional meeting: the favourite second."""
    ids = [p.id for p in development.cluster_finalists(cluster)]
    rest = [pid for pid in ids if pid not in ranking]
    full = list(ranking) + rest
    return [full[1], full[0], *full[2:]]


def _cast(delegate: User, cluster: Cluster, ranking: list[int], *, now: datetime) -> None:
    voting.cast_ballot(delegate, cluster, ranking, now=now)


def _remind(organiser: User, rnd: Round, *, now: datetime) -> None:
    voting.remind_non_voters(organiser, rnd, now=now)


def _plan(rnd: Round) -> dict[int, dict[str, list[int]]]:
    """Every demo delegate's ballot per vote cluster: cluster id → municipality code →
    ranking (proposal ids, best first)."""
    clusters = voting.vote_clusters(rnd)
    contested = [c for c in clusters if len(development.cluster_finalists(c)) > 1]
    close = min(contested, key=_quality_gap) if contested else None
    plan: dict[int, dict[str, list[int]]] = {}
    for cluster in clusters:
        rankings: dict[str, list[int]] = {}
        taste: dict[str, dict[int, float]] = {}
        owns: dict[str, set[int]] = {}
        for code, delegate in _delegates():
            options = [o for o in voting.options(cluster, delegate.municipality_id)
                       if rnd.is_own_finalist_vote_allowed or not o.is_own]
            if not options:
                continue
            taste[code] = {o.proposal.id: _preference(delegate, o.proposal) for o in options}
            owns[code] = {o.proposal.id for o in options if o.is_own}
            score = {pid: t + (OWN_BONUS if pid in owns[code] else 0.0)
                     for pid, t in taste[code].items()}
            ranking = sorted(score, key=lambda pid: (-score[pid], pid))
            if len(ranking) > 1 and _unit("partial", delegate.email, cluster.id) < PARTIAL:
                ranking = ranking[:1]
            rankings[code] = ranking
        _settle(rankings, taste, owns, close=cluster is close)
        plan[cluster.id] = rankings
    return plan


def _preference(delegate: User, proposal: Proposal) -> float:
    return _quality(proposal) + TASTE * (_unit("final", delegate.email, proposal.title) - 0.5)


def _quality_gap(cluster: Cluster) -> tuple[float, int]:
    top = sorted((_quality(p) for p in development.cluster_finalists(cluster)), reverse=True)
    return top[0] - top[1], cluster.id


def _settle(rankings: dict[str, list[int]], taste: dict[str, dict[int, float]],
            owns: dict[str, set[int]], *, close: bool) -> None:
    """Make the duel between the two favourites clear (no tie, which a draw would decide) or,
    in the close cluster, narrow (won by one or two votes): the least convinced voters who do
    not own either finalist change their mind."""
    means: dict[int, list[float]] = {}
    for scores in taste.values():
        for pid, t in scores.items():
            means.setdefault(pid, []).append(t)
    if len(means) < 2:
        return
    a, b = sorted(means, key=lambda pid: (-sum(means[pid]) / len(means[pid]), pid))[:2]

    def prefers(ranking: list[int], x: int, y: int) -> bool:
        return x in ranking and (y not in ranking or ranking.index(x) < ranking.index(y))

    def margin() -> int:
        return sum(prefers(r, a, b) - prefers(r, b, a) for r in rankings.values())

    if margin() < 0:
        a, b = b, a

    def flip(x: int, y: int) -> bool:
        """Let the voter least sure of preferring x over y prefer y."""
        doubters = sorted(
            (abs(taste[code][x] - taste[code][y]), code) for code, r in rankings.items()
            if prefers(r, x, y) and not owns[code] & {x, y})
        if not doubters:
            return False
        r = rankings[doubters[0][1]]
        if y in r:
            i, j = r.index(x), r.index(y)
            r[i], r[j] = y, x
        else:
            r[r.index(x)] = y
        return True

    if margin() == 0 and not flip(b, a):
        flip(a, b)
    if margin() < 0:
        a, b = b, a
    while close and margin() > 2 and flip(a, b):
        pass


# --- helpers -----------------------------------------------------------------------------------


# --- adoption ----------------------------------------------------------------------------------

# The first days after the result (the demo stands 3½ days into the decided phase): per demo
# municipality its steps for every standard, as (hours after the result, status). Utrecht is
# left undecided, so a visitor logged in as Utrecht can record an adoption.
_ADOPTION_STEPS = {
    "GM0363": [(6, AdoptionStatus.INTENDS), (30, AdoptionStatus.ADOPTING),
               (70, AdoptionStatus.ADOPTED)],
    "GM0014": [(20, AdoptionStatus.ADOPTED)],
    "GM1900": [(26, AdoptionStatus.INTENDS)],
    "GM0772": [(40, AdoptionStatus.ADOPTING)],
    "GM0193": [(50, AdoptionStatus.DECLINED)],
}
_DECLINE_REASON = ("Wij hebben vorig jaar een eigen oplossing aanbesteed; we kijken opnieuw als "
                   "dat contract afloopt.")


def _first_adoptions(rnd: Round, moment: datetime) -> None:
    actions = _Actions()
    delegates = dict(_delegates())
    for winners in standards.round_standards(rnd).values():
        for standard in winners:
            for code, steps in _ADOPTION_STEPS.items():
                if code in delegates:
                    for hours, status in steps:
                        actions.add(moment + timedelta(hours=hours), _adopt, delegates[code],
                                    standard, status)
    actions.run()


def _adopt(delegate: User, standard, status: AdoptionStatus, *, now: datetime) -> None:
    today = adoption.local_date(now)
    adoption.record(delegate, standard, status,
                    planned_on=today + timedelta(days=90) if status is AdoptionStatus.INTENDS
                    else None,
                    adopted_on=today if status is AdoptionStatus.ADOPTED else None,
                    reason=_DECLINE_REASON if status is AdoptionStatus.DECLINED else "",
                    now=now)


def _pick(count: int, *parts: object) -> int:
    return int(_unit(*parts) * count)


def _pdf(title: str, lines: list[str]) -> bytes:
    """A small, valid one-page PDF with a title and a few lines of text."""

    def text(value: str) -> bytes:
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + escaped.encode("cp1252", "replace") + b")"

    ops = [b"BT", b"/F1 16 Tf", b"72 770 Td", text(title) + b" Tj", b"/F1 11 Tf"]
    for line in lines:
        ops += [b"0 -24 Td", text(line) + b" Tj"]
    ops.append(b"ET")
    stream = b"\n".join(ops)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)

