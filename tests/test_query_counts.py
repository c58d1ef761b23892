"""The main pages issue a fixed, small number of SQL queries, whatever the size of the data.

A round with 10 proposals and one with 1,000 are built (in separate databases; the second also
has a vraagstuk of 100 proposals, a proposal with 20 comments, 30 interested municipalities and
5 co-submitters, some 225 vraagstukken with their finalists, and 20 counted votes with their
standards). Every page is requested in both, anonymously and as a member, a delegate and an
organiser, and the statements sent to the database are counted (SQLAlchemy's
`before_cursor_execute`). The counts must be equal, and at most a ceiling per page.

Left out on purpose: the CSV and JSON exports of proposals and ballots stream the whole data
set, so their cost grows with it by design (they are few queries, but not a fixed page). The
finalist pages do a few queries per finalist: bounded by the round's rules (at most 10
finalists per vraagstuk), not by the data; both rounds here have 3.

`build_round` is also what the load benchmarks (bench/http_load.py, bench/vote_load.py) seed
their databases with: a round carried through the real services up to its final vote or
decided phase, with the bulk (proposals, clusters) inserted directly so that thousands of
proposals take seconds.
"""

import itertools
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from competition import create_app
from competition.engine.text import search_document
from competition.extensions import db
from competition.models import (
    Cluster,
    ClusterMember,
    Comment,
    CommentKind,
    CoSubmission,
    CoSubmissionStatus,
    Domain,
    Interest,
    Municipality,
    Phase,
    Proposal,
    ProposalStatus,
    ProposalVersion,
    Role,
    Round,
    Standard,
    User,
)
from competition.services import accounts, municipalities, rounds, voting
from tests.conftest import BASE_CONFIG, IS_POSTGRES, NOW, PASSWORD, _empty_postgres

# --- building a round of any size --------------------------------------------------------------

_SUBJECTS = ("paspoort", "rijbewijs", "parkeervergunning", "afvalkalender", "subsidie",
             "huwelijk", "verhuizing", "bouwvergunning", "melding openbare ruimte", "uittreksel",
             "kwijtschelding", "hondenbelasting", "evenementenvergunning", "gehandicaptenkaart")
_ACTIONS = ("online aanvragen", "digitaal regelen", "slimmer afhandelen", "via de app",
            "met DigiD", "zonder wachtrij", "met een chatbot", "op afspraak")
_SUMMARY = ("Inwoners regelen de {s} voortaan volledig online, met DigiD en een duidelijke "
            "statuspagina. Medewerkers krijgen één overzicht van alle aanvragen.")


@dataclass
class BuiltRound:
    """What a page test or a benchmark needs to know about a built round."""

    slug: str
    round_id: int
    proposal_ids: list[int]
    cluster_ids: list[int]  # the first is the largest
    voted_cluster_ids: list[int]
    standard_ids: list[int] = field(default_factory=list)
    detail_proposal_id: int = 0  # a proposal with comments, interest and co-submitters
    finalist_id: int = 0  # the best-ranked finalist of the first vraagstuk


def base_users(now: datetime, *, delegates: int = 3,
               password_hash: str | None = None) -> tuple[User, User, list[User]]:
    """The municipalities (all 342), an organiser, a member and `delegates` delegates (each of
    another municipality), flushed."""
    if db.session.scalar(select(Municipality.id).limit(1)) is None:
        municipalities.import_bundled(now=now)
    towns = list(db.session.scalars(select(Municipality).order_by(Municipality.code)))
    password_hash = password_hash or accounts.hash_password(PASSWORD)

    def user(email: str, role: Role, municipality: Municipality | None = None) -> User:
        u = User(email=email, name=email.split("@")[0].replace(".", " ").title(),
                 municipality_id=municipality.id if municipality else None,
                 password_hash=password_hash, created_at=now, password_changed_at=now)
        u.roles = {role}
        db.session.add(u)
        return u

    organiser = user("organiser@bench.example", Role.ORGANISER)
    member = user("member@bench.example", Role.MEMBER, towns[0])
    voters = [user(f"delegate{i:03d}@bench.example", Role.DELEGATE, town)
              for i, town in enumerate(towns[:delegates])]
    db.session.flush()
    return organiser, member, voters


def build_round(n: int, *, organiser: User, author: User, voters: list[User], now: datetime,
                title: str, cluster_size: int = 4, big_cluster: int = 0,
                until: Phase = Phase.DECIDED, busy_detail: bool = False,
                max_finalists: int = 3, voted_clusters: int = 2) -> BuiltRound:
    """A round with `n` submitted proposals carried to `until` (final vote or later).

    Proposals, their first versions and the confirmed clusters (the first of `big_cluster`
    proposals when given, the rest of `cluster_size`) are inserted directly; every phase change
    goes through `rounds.close_phase`, so the preselection is computed and published and the
    final vote counted by the real services. In the final vote each voter ranks the finalists
    of the first `voted_clusters` vraagstukken. `busy_detail` gives the first proposal 20 comments,
    30 interested municipalities and 5 co-submitters (else 1 of each).
    """
    created = now - timedelta(days=10)
    rnd = rounds.create_round(
        organiser,
        rounds.RoundData(title=title, theme="Digitale dienstverlening",
                         description="Een ronde om de paginaprestaties te meten.",
                         max_finalists=max_finalists),
        rounds.default_schedule(created + timedelta(hours=1)), now=created)
    moments = (created + timedelta(hours=k) for k in itertools.count(2))
    rounds.close_phase(rnd, Phase.DRAFT, actor=organiser, now=next(moments))

    submitted = next(moments)
    domain_ids = list(db.session.scalars(select(Domain.id).order_by(Domain.position)))
    towns = list(db.session.scalars(select(Municipality.id).order_by(Municipality.code)))
    proposals = []
    for i in range(n):
        subject = _SUBJECTS[i % len(_SUBJECTS)]
        title_ = f"{subject.capitalize()} {_ACTIONS[i // len(_SUBJECTS) % len(_ACTIONS)]} {i + 1}"
        summary = _SUMMARY.format(s=subject)
        description = f"## Aanpak\n\n{summary}\n\nWe bouwen het open source, voor iedereen."
        proposals.append(Proposal(
            round_id=rnd.id, municipality_id=towns[(i * 7) % len(towns)], author_id=author.id,
            status=ProposalStatus.SUBMITTED.value, title=title_, summary=summary,
            description=description, problem="Lange wachtrijen aan de balie.",
            domain_id=domain_ids[i % len(domain_ids)], planned_start=date(2028, 1, 1),
            estimated_cost=100_000 + 1_000 * i, contact_name="Sanne de Vries",
            contact_email="sanne@bench.example",
            search_text=search_document(title_, summary, description),
            created_at=submitted, updated_at=submitted,
            submitted_at=submitted + timedelta(seconds=i)))
    db.session.add_all(proposals)
    db.session.flush()
    db.session.add_all(ProposalVersion(proposal_id=p.id, number=1, data=p.snapshot(),
                                       edited_by_id=author.id, created_at=submitted)
                       for p in proposals)
    detail = proposals[0]
    comments, interested, co = (20, 30, 5) if busy_detail else (1, 1, 1)
    others = [t for t in towns if t != detail.municipality_id]
    for k in range(co):
        db.session.add(CoSubmission(
            proposal_id=detail.id, municipality_id=others[k],
            status=CoSubmissionStatus.ACCEPTED.value, requested_by_id=author.id,
            requested_at=submitted, decided_by_id=author.id, decided_at=submitted))
    for k in range(interested):
        db.session.add(Interest(proposal_id=detail.id, municipality_id=others[co + k],
                                user_id=author.id, created_at=submitted))
    for k in range(comments):
        db.session.add(Comment(proposal_id=detail.id, kind=CommentKind.QUESTION.value,
                               body=f"Vraag {k + 1}: werkt dit ook met ons zaaksysteem?",
                               author_id=author.id, municipality_id=author.municipality_id,
                               created_at=submitted + timedelta(minutes=k)))
    db.session.flush()
    rounds.close_phase(rnd, Phase.SUBMISSION, actor=organiser, now=next(moments))

    clustered = next(moments)
    sizes = [big_cluster] if big_cluster else []
    while sum(sizes) < n:
        sizes.append(min(cluster_size, n - sum(sizes)))
    start = 0
    clusters = []
    for k, size in enumerate(sizes):
        members = proposals[start:start + size]
        start += size
        label = f"Vraagstuk {k + 1}: {members[0].title}"[:120]
        cluster = Cluster(round_id=rnd.id, label=label, suggested_label=label,
                          description="Voorstellen die hetzelfde willen bereiken.",
                          is_confirmed=True, confirmed_at=clustered,
                          confirmed_by_id=organiser.id, created_at=clustered,
                          updated_at=clustered)
        cluster.members = [ClusterMember(proposal_id=p.id, similarity=1.0 - j / 100,
                                         added_at=clustered) for j, p in enumerate(members)]
        clusters.append(cluster)
    db.session.add_all(clusters)
    db.session.flush()
    rounds.close_phase(rnd, Phase.CLUSTERING, actor=organiser, now=next(moments))
    rounds.close_phase(rnd, Phase.PRESELECTION, actor=organiser, now=next(moments))
    rounds.close_phase(rnd, Phase.DEVELOPMENT, actor=organiser, now=next(moments))

    voted = clusters[:voted_clusters]
    cast = next(moments)
    first_finalist = voting.options(clusters[0], None)[0].proposal.id
    for cluster in voted:
        finalists = [o.proposal.id for o in voting.options(cluster, None)]
        for k, voter in enumerate(voters):
            # Rotate the rankings so the count has something to decide.
            ranking = finalists[k % len(finalists):] + finalists[:k % len(finalists)]
            voting.cast_ballot(voter, cluster, ranking, now=cast)
    if until.index > Phase.FINAL_VOTE.index:
        rounds.close_phase(rnd, Phase.FINAL_VOTE, actor=organiser, now=next(moments))
    db.session.flush()
    return BuiltRound(
        slug=rnd.slug, round_id=rnd.id, proposal_ids=[p.id for p in proposals],
        cluster_ids=[c.id for c in clusters], voted_cluster_ids=[c.id for c in voted],
        standard_ids=list(db.session.scalars(select(Standard.id).where(
            Standard.round_id == rnd.id).order_by(Standard.id))),
        detail_proposal_id=detail.id, finalist_id=first_finalist)


# --- counting queries per page -----------------------------------------------------------------

# (name, URL template, ceiling). The URL is filled in with the built round: {slug}, {proposal}
# (the busy one), {cluster} (the largest vraagstuk), {voted} (one with a counted vote),
# {standard}, {finalist}, {domain} and {town} (the detail proposal's domain and municipality).
PAGES = [
    ("home", "/", 8),
    ("round", "/rondes/{slug}", 8),
    ("proposals", "/rondes/{slug}/voorstellen", 12),
    ("proposals, search", "/rondes/{slug}/voorstellen?q=paspoort", 12),
    ("proposals, filters", "/rondes/{slug}/voorstellen?q=online&domain={domain}"
     "&province=Utrecht&status=submitted&sort=interest", 12),
    ("proposals, municipality and vraagstuk",
     "/rondes/{slug}/voorstellen?municipality={town}&cluster={cluster}&sort=title", 12),
    ("proposal", "/voorstellen/{proposal}", 16),
    ("proposal history", "/voorstellen/{proposal}/geschiedenis", 10),
    ("vraagstukken", "/rondes/{slug}/vraagstukken", 8),
    ("vraagstuk", "/vraagstukken/{cluster}", 10),
    ("preselection", "/rondes/{slug}/voorselectie", 12),
    ("preselection of a vraagstuk", "/vraagstukken/{cluster}/voorselectie", 10),
    ("final result", "/rondes/{slug}/uitslag", 10),
    ("final result of a vraagstuk", "/vraagstukken/{voted}/uitslag", 10),
    ("standards", "/standaarden", 8),
    ("standard", "/standaarden/{standard}", 16),
    ("receipt check", "/rondes/{slug}/stembewijs", 6),
    ("finalists of a vraagstuk", "/vraagstukken/{cluster}/finalisten", 18),
    ("finalist", "/voorstellen/{finalist}/ontwikkeling", 20),
]
# Pages as a logged-in member sees them (their own municipality's proposals, following, ...),
# as a delegate (the ballots) and as an organiser.
MEMBER_PAGES = [
    ("proposals (member)", "/rondes/{slug}/voorstellen", 14),
    ("proposal (member)", "/voorstellen/{proposal}", 22),
    ("round (member)", "/rondes/{slug}", 10),
]
DELEGATE_PAGES = [
    ("final vote overview (delegate)", "/rondes/{slug}/stemmen", 10),
    ("final ballot (delegate)", "/vraagstukken/{voted}/stemmen", 14),
    ("receipt (delegate)", "/vraagstukken/{voted}/stemmen/stembewijs", 14),
    ("approval ballots (delegate)", "/rondes/{slug}/voorselectie/stemmen", 12),
]
ORGANISER_PAGES = [
    ("round (organiser)", "/beheer/rondes/{slug}", 8),
    ("clusters (organiser)", "/beheer/rondes/{slug}/clusters", 14),
    ("turnout (organiser)", "/beheer/rondes/{slug}/opkomst", 10),
]
LOGINS = [(PAGES, None), (MEMBER_PAGES, "member@bench.example"),
          (DELEGATE_PAGES, "delegate000@bench.example"),
          (ORGANISER_PAGES, "organiser@bench.example")]


class QueryCounter:
    """Counts the statements an engine sends while it is switched on."""

    def __init__(self, engine) -> None:
        self.count = 0
        self.statements: list[str] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.count += 1
        self.statements.append(statement)

    def reset(self) -> None:
        self.count = 0
        self.statements = []


def _url(template: str, world: BuiltRound, values: dict) -> str:
    return template.format(slug=world.slug, proposal=world.detail_proposal_id,
                           cluster=world.cluster_ids[0], voted=world.voted_cluster_ids[0],
                           standard=world.standard_ids[0], finalist=world.finalist_id,
                           **values)


def _measure(database_url: str, tmp_path, n: int, **options) -> dict[str, tuple]:
    """Build a round of `n` proposals; per page (status code, queries, statements)."""
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url,
                      "FROZEN_NOW": NOW, "UPLOAD_FOLDER": str(tmp_path / "uploads"),
                      "MAIL_FOLDER": str(tmp_path / "mail")})
    with app.app_context():
        organiser, member, voters = base_users(NOW)
        world = build_round(n, organiser=organiser, author=member, voters=voters, now=NOW,
                            title="Paginaprestaties", **options)
        detail = db.session.get(Proposal, world.detail_proposal_id)
        values = {"domain": detail.domain_id, "town": detail.municipality.code}
        db.session.commit()
        assert db.session.get(Round, world.round_id).current_phase is Phase.DECIDED
        counter = QueryCounter(db.engine)
    result = {}
    client = app.test_client()
    for pages, email in LOGINS:
        if email:
            client = app.test_client()
            response = client.post("/inloggen", data={"email": email, "password": PASSWORD})
            assert response.status_code == 302, email
        for name, template, _ceiling in pages:
            url = _url(template, world, values)
            try:
                client.get(url)  # warm up: the first request of a process loads more
                counter.reset()
                status = client.get(url).status_code
            except Exception as exc:
                status = repr(exc)
            result[name] = (status, counter.count, list(counter.statements))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return result


# The large round: a vraagstuk of 100 proposals, a proposal with much activity, 20 counted votes.
LARGE = {"big_cluster": 100, "busy_detail": True, "voted_clusters": 20}


@pytest.fixture(scope="module")
def counts(database_template, tmp_path_factory) -> dict[str, tuple]:
    """Per page: what `_measure` found with 10 proposals and with 1,000."""
    measured = []
    for n, options in ((10, {}), (1000, LARGE)):
        folder = tmp_path_factory.mktemp(f"queries-{n}")
        if IS_POSTGRES:
            _empty_postgres(database_template)
            url = database_template
        else:
            path = folder / "world.sqlite3"
            shutil.copyfile(database_template, path)
            url = f"sqlite:///{path}"
        measured.append(_measure(url, folder, n, **options))
    small, large = measured
    return {name: (small[name], large[name]) for name in small}


def _difference(small: list[str], large: list[str]) -> str:
    def shape(statement: str) -> str:
        # Statements that differ only in the number of bound values are the same query.
        value = r"(?:\?|%\(\w+\)s(?:::\w+)?)"  # SQLite's and psycopg's placeholders
        return re.sub(rf"\({value}(?:, {value})*\)", "(…)", " ".join(statement.split()))[:300]

    a, b = Counter(map(shape, small)), Counter(map(shape, large))
    return "\n".join(f"{a[k]:>4} vs {b[k]:>4}: {k}" for k in a.keys() | b.keys() if a[k] != b[k])


@pytest.mark.parametrize(("name", "ceiling"), [
    (name, ceiling) for pages, _email in LOGINS for name, _url, ceiling in pages])
def test_page_queries_do_not_grow_with_the_data(counts, name, ceiling):
    (small_status, small, small_sql), (large_status, large, large_sql) = counts[name]
    assert small_status == large_status == 200, (name, small_status, large_status)
    assert small == large, (
        f"{name}: {small} queries with 10 proposals, {large} with 1,000; statements run a "
        "different number of times (10 vs 1,000 proposals):\n" + _difference(small_sql, large_sql))
    assert large <= ceiling, f"{name}: {large} queries (ceiling {ceiling}):\n" + "\n".join(
        large_sql)
