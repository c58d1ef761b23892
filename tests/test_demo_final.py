"""The demo's development phase and final vote (competition/demo_final.py): finalists' updates,
statements, a deliverable and questions while the demo stands in development; ballots (one
changed, Utrecht's missing) while it stands in the final vote; a counted vote with standards
once it has moved past it."""

from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select

from competition import demo
from competition.extensions import db
from competition.models import (
    OPEN_LICENCES,
    Attachment,
    Comment,
    CommentKind,
    FinalBallot,
    OutboxMail,
    Phase,
    ProgressUpdate,
    Proposal,
    Round,
    Standard,
    VoteResult,
)
from competition.services import accounts, audit, comments, development, voting
from competition.services.proposals import involved_municipality_ids
from tests.conftest import NOW

UTRECHT_DELEGATE = "afgevaardigde@utrecht.example"


def _seed(phase: Phase) -> Round:
    rnd = demo.seed(phase, now=NOW)
    db.session.commit()
    assert rnd.current_phase is phase
    return rnd


def _finalists(rnd: Round) -> list[Proposal]:
    return [p for c in voting.vote_clusters(rnd) for p in development.cluster_finalists(c)]


def _check_links(*urls: str) -> None:
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.hostname.endswith(".example"), url


def test_demo_standing_in_development_shows_work_in_progress(ctx):
    rnd = _seed(Phase.DEVELOPMENT)
    window = rnd.window(Phase.DEVELOPMENT)
    finalists = _finalists(rnd)
    assert len(finalists) > 10

    # Progress updates by the finalist teams, in Markdown with a list or a link.
    updates = list(db.session.scalars(select(ProgressUpdate)))
    assert len(updates) >= len(finalists) // 2
    per_finalist = Counter(u.proposal_id for u in updates)
    assert set(per_finalist.values()) == {1, 2}
    for u in updates:
        proposal = db.session.get(Proposal, u.proposal_id)
        assert development.is_team(u.author, proposal)
        assert u.author.email.startswith("medewerker@")
        assert "\n- " in u.body or "\n1. " in u.body or "](https://" in u.body
        assert window.entered_at < u.created_at < NOW

    # Statements: an open licence for most, one "other" with its explanation.
    works = [w for p in finalists if (w := development.work(p)) is not None]
    assert len(works) >= len(finalists) // 2
    licences = Counter(w.licence for w in works)
    assert licences["other"] == 1
    assert licences["EUPL-1.2"] > len(works) / 2
    for w in works:
        assert w.licence in OPEN_LICENCES or len(w.licence_notes) > 50
        assert w.cost_estimate > 0 and w.yearly_cost > 0 and w.cost_notes
        _check_links(w.demo_url, w.documentation_url, w.source_url)
        assert window.entered_at < w.updated_at < NOW

    # Some finalists have published nothing yet.
    silent = [p for p in finalists if not development.updates(p) and development.work(p) is None]
    assert 0 < len(silent) < len(finalists) / 2

    # One team uploaded a report as a deliverable: a real PDF in the upload folder.
    (report,) = db.session.scalars(select(Attachment).where(Attachment.is_deliverable))
    assert report.media_type == "application/pdf" and report.original_name.endswith(".pdf")
    stored = Path(current_app.config["UPLOAD_FOLDER"]) / report.stored_name
    content = stored.read_bytes()
    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    assert len(content) == report.size_bytes

    # Another municipality asked on a finalist, and the team answered.
    questions = list(db.session.scalars(select(Comment).where(
        Comment.kind == CommentKind.QUESTION.value, Comment.created_at > window.entered_at)))
    assert questions
    for q in questions:
        proposal = db.session.get(Proposal, q.proposal_id)
        assert q.municipality_id not in involved_municipality_ids(proposal)
        (reply,) = db.session.scalars(select(Comment).where(Comment.parent_id == q.id))
        assert reply.kind == CommentKind.ANSWER.value
        assert comments.can_answer(reply.author, proposal)
        assert q.created_at < reply.created_at < NOW

    assert db.session.scalar(select(func.count(FinalBallot.id))) == 0


def test_demo_standing_in_final_vote_has_ballots_but_not_utrecht(ctx):
    rnd = _seed(Phase.FINAL_VOTE)
    window = rnd.window(Phase.FINAL_VOTE)
    finalists = _finalists(rnd)

    # By now every team published (the late ones caught up in the second half).
    assert all(development.updates(p) and development.work(p) for p in finalists)

    ballots = list(db.session.scalars(select(FinalBallot).where(FinalBallot.round_id == rnd.id)))
    current = [b for b in ballots if b.is_current]
    assert len(current) > len(voting.vote_clusters(rnd))
    options = {c.id: {p.id for p in development.cluster_finalists(c)}
               for c in voting.vote_clusters(rnd)}
    for b in ballots:
        assert b.ranking and len(set(b.ranking)) == len(b.ranking)
        assert set(b.ranking) <= options[b.cluster_id]
        assert window.entered_at < b.cast_at < NOW

    utrecht = accounts.find_user_by_email(UTRECHT_DELEGATE)
    assert not any(b.municipality_id == utrecht.municipality_id for b in ballots)
    voted = {m.id for row in voting.turnout(rnd) for m in row.voted}
    assert 2 < len(voted) < len(demo.DEMO_MUNICIPALITIES)

    # One municipality changed one ballot: two versions, exactly one current.
    versions = Counter((b.cluster_id, b.municipality_id) for b in ballots)
    changed = [key for key, n in versions.items() if n > 1]
    assert len(changed) == 1 and versions[changed[0]] == 2
    first, second = sorted((b for b in ballots if (b.cluster_id, b.municipality_id)
                            == changed[0]), key=lambda b: b.cast_at)
    assert not first.is_current and first.superseded_at == second.cast_at
    assert second.is_current and first.ranking != second.ranking
    assert first.receipt != second.receipt

    assert db.session.scalar(select(func.count(VoteResult.id))) == 0


def test_demo_past_final_vote_is_counted_with_standards(ctx):
    rnd = _seed(Phase.DECIDED)
    window = rnd.window(Phase.FINAL_VOTE)
    clusters = voting.vote_clusters(rnd)
    delegates = len(demo.DEMO_MUNICIPALITIES)

    close = 0
    for cluster in clusters:
        current = list(db.session.scalars(select(FinalBallot).where(
            FinalBallot.cluster_id == cluster.id, FinalBallot.is_current.is_(True))))
        assert len(current) == delegates  # every demo delegate voted everywhere
        assert all(window.entered_at < b.cast_at < window.left_at for b in current)

        result = voting.vote_result(cluster)
        assert result is not None and result.computed_at == window.left_at
        assert result.audit_head and result.data["ballots"] == delegates
        assert result.data["draws"] == []  # clear winners, never decided by lot
        standards = list(db.session.scalars(select(Standard).where(
            Standard.cluster_id == cluster.id)))
        assert standards and {s.proposal_id for s in standards} == set(result.winner_ids)
        pairwise = result.data["pairwise"]
        if len(pairwise) > 1:
            winner = str(result.winner_ids[0])
            margins = [pairwise[winner][o] - pairwise[o][winner] for o in pairwise[winner]]
            assert min(margins) > 0
            close += min(margins) <= 2
    assert close >= 1

    # The standards carry the winners' statements.
    assert any(s.licence == "EUPL-1.2" and s.source_url for s in db.session.scalars(
        select(Standard)))
    # The organiser reminded the municipalities that had not voted everywhere yet.
    assert db.session.scalar(select(func.count(OutboxMail.id))
                             .where(OutboxMail.category == "vote")) > 0
    assert audit.verify_chain().ok
