"""Proposal services: submitting, visibility, editing with history and conflicts, withdrawing,
co-submitting, interest, following, domains, similar proposals and export."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from competition.extensions import db
from competition.models import (
    CoSubmission,
    Domain,
    Follow,
    Interest,
    Proposal,
    ProposalStatus,
    ProposalVersion,
    Role,
    WithdrawalKind,
)
from competition.services import domains, proposals
from competition.services.errors import (
    ConflictError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tests.conftest import NOW, make_user
from tests.proposal_helpers import TITLE, audit_actions, count, make_world, valid_data

LATER = NOW + timedelta(minutes=5)


@pytest.fixture
def world(ctx, people):
    w = make_world(people)
    db.session.commit()
    return w


# --- submitting --------------------------------------------------------------------------------


def test_submit_stores_every_field_and_publishes(world):
    proposal = world.propose()
    db.session.commit()
    stored = db.session.get(Proposal, proposal.id)
    assert stored.status == ProposalStatus.SUBMITTED.value and stored.is_published
    assert stored.submitted_at == NOW
    assert stored.title == TITLE
    assert stored.domain_id == 1
    assert stored.planned_start == date(2027, 9, 1)
    assert stored.estimated_cost == 250_000
    assert stored.contact_name == "Sanne de Vries"
    assert stored.municipality.code == "GM0344"
    assert stored.author_id == world.user_ids["member"]
    assert [v.number for v in proposals.versions(stored)] == [1]
    assert "proposal.submitted" in audit_actions("proposal")
    assert proposals.is_following(world.user("member"), stored)
    # The search index holds stems of title, summary and description.
    assert " paspoort " in stored.search_text and " digid " in stored.search_text


def test_draft_may_be_incomplete_but_submitting_needs_everything(world):
    draft = world.propose(submit=False, summary="", problem="", domain_id=None,
                          planned_start=None, contact_name="", contact_email="")
    assert draft.status == ProposalStatus.DRAFT.value and not draft.is_published
    assert "proposal.drafted" in audit_actions("proposal")
    with pytest.raises(ValidationError) as exc:
        proposals.submit_proposal(world.user("member"), draft, now=LATER)
    assert exc.value.field == "summary"
    db.session.rollback()
    for missing in ("summary", "description", "problem", "domain_id", "planned_start",
                    "contact_name", "contact_email"):
        empty = None if missing in ("domain_id", "planned_start") else ""
        with pytest.raises(ValidationError) as exc:
            world.propose(**{missing: empty})
        assert exc.value.field == missing
        db.session.rollback()
    assert count(Proposal, Proposal.status == "submitted") == 0


def test_submitting_a_draft_publishes_it(world):
    draft = world.propose(submit=False)
    proposals.submit_proposal(world.user("delegate"), draft, now=LATER)
    assert draft.status == "submitted" and draft.submitted_at == LATER
    with pytest.raises(InvalidState):
        proposals.submit_proposal(world.user("member"), draft, now=LATER)


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": "x" * 9}, "title"),
    ({"title": "x" * 121}, "title"),
    ({"title": "   kort    "}, "title"),
    ({"summary": "s" * 501}, "summary"),
    ({"description": "d" * 20_001}, "description"),
    ({"problem": "p" * 5_001}, "problem"),
    ({"domain_id": 999}, "domain_id"),
    ({"domain_id": 10**30}, "domain_id"),
    ({"planned_start": date(1900, 1, 1)}, "planned_start"),
    ({"planned_start": date(9999, 12, 31)}, "planned_start"),
    ({"estimated_cost": -1}, "estimated_cost"),
    ({"estimated_cost": 10**12}, "estimated_cost"),
    ({"contact_name": "n" * 121}, "contact_name"),
    ({"contact_email": "geen-adres"}, "contact_email"),
    ({"contact_email": "a@b@c.example"}, "contact_email"),
])
def test_field_limits(world, changes, field):
    with pytest.raises(ValidationError) as exc:
        world.propose(**changes)
    assert exc.value.field == field
    db.session.rollback()
    assert count(Proposal) == 0


def test_limits_are_inclusive(world):
    p = world.propose(title="t" * 10, summary="s" * 500, description="d" * 20_000,
                      estimated_cost=0)
    assert len(p.title) == 10 and len(p.summary) == 500 and len(p.description) == 20_000
    q = world.propose(title="T" * 120, estimated_cost=None)
    assert len(q.title) == 120 and q.estimated_cost is None


def test_text_is_cleaned(world):
    p = world.propose(title="  Digitaal\tpaspoort \x00 aanvragen  ",
                      summary="  samen\x00vatting ", contact_email=" Sanne@Utrecht.Example ")
    assert p.title == "Digitaal paspoort aanvragen"
    assert p.summary == "samenvatting"
    assert p.contact_email == "sanne@utrecht.example"


def test_only_municipal_users_submit_and_only_in_the_submission_phase(world):
    for role in ("organiser", "jury"):
        with pytest.raises(PermissionDenied):
            world.propose(role)
    world.end_submission()
    with pytest.raises(InvalidState):
        world.propose("member")


def test_deactivated_domain_is_refused_for_new_proposals(world):
    proposal = world.propose(domain_id=3)
    domain = db.session.get(Domain, 3)
    domain.is_active = False
    db.session.flush()
    with pytest.raises(ValidationError) as exc:
        world.propose(domain_id=3)
    assert exc.value.field == "domain_id"
    assert 3 not in [d.id for d in proposals.domains()]
    # The existing proposal keeps it, and can still be edited without changing it.
    proposals.update_proposal(world.user("member"), proposal,
                              valid_data(domain_id=3, summary="Nieuwe samenvatting."),
                              expected_version=proposal.version, now=LATER)
    assert proposal.domain_id == 3 and proposal.summary == "Nieuwe samenvatting."


# --- visibility --------------------------------------------------------------------------------


def test_drafts_are_visible_to_the_team_and_organisers_only(world):
    draft = world.propose(submit=False)
    for role, visible in [("member", True), ("delegate", True), ("organiser", True),
                          ("jury", False), ("other_member", False)]:
        assert proposals.can_view(world.user(role), draft) is visible, role
    assert proposals.can_view(None, draft) is False
    proposals.submit_proposal(world.user("member"), draft, now=LATER)
    assert proposals.can_view(None, draft) is True
    assert proposals.can_view(world.user("jury"), draft) is True


def test_get_proposal_unknown_ids(world):
    for bad in (0, -1, 987654, 2**63, 10**30):
        with pytest.raises(NotFound):
            proposals.get_proposal(bad)


# --- editing -----------------------------------------------------------------------------------


def test_edit_keeps_every_version(world):
    p = world.propose()
    member, delegate = world.user("member"), world.user("delegate")
    evening = "Digitaal paspoort aanvragen, ook 's avonds"
    proposals.update_proposal(member, p, valid_data(title=evening),
                              expected_version=p.version, now=LATER)
    proposals.update_proposal(delegate, p, valid_data(title=evening, estimated_cost=300_000),
                              expected_version=p.version, now=LATER + timedelta(minutes=1))
    db.session.commit()
    history = proposals.versions(p)
    assert [v.number for v in history] == [3, 2, 1]
    assert history[2].data["title"] == TITLE
    assert history[1].data["title"].endswith("'s avonds")
    assert history[0].data["estimated_cost"] == 300_000
    assert history[1].data["estimated_cost"] == 250_000
    assert history[0].edited_by_id == delegate.id
    assert history[2].data["planned_start"] == "2027-09-01"
    assert audit_actions("proposal").count("proposal.edited") == 2
    assert p.updated_at == LATER + timedelta(minutes=1)


def test_unchanged_edit_adds_no_version(world):
    p = world.propose()
    proposals.update_proposal(world.user("member"), p, valid_data(), expected_version=p.version,
                              now=LATER)
    assert len(proposals.versions(p)) == 1 and "proposal.edited" not in audit_actions()


def test_published_proposal_must_stay_complete(world):
    p = world.propose()
    with pytest.raises(ValidationError) as exc:
        proposals.update_proposal(world.user("member"), p, valid_data(problem=""),
                                  expected_version=p.version, now=LATER)
    assert exc.value.field == "problem"


@pytest.mark.parametrize("role", ["other_member", "organiser", "jury"])
def test_only_the_team_edits(world, role):
    p = world.propose()
    with pytest.raises(PermissionDenied) as exc:
        proposals.update_proposal(world.user(role), p, valid_data(summary="Overgenomen."),
                                  expected_version=p.version, now=LATER)
    assert str(exc.value.message)  # a reason for the person
    assert proposals.edit_refusal(world.user(role), p, world.round)
    assert proposals.edit_refusal(None, p, world.round)


def test_no_edits_outside_the_submission_phase(world):
    p = world.propose()
    db.session.commit()
    world.end_submission()
    reason = proposals.edit_refusal(world.user("member"), p, world.round)
    assert reason
    with pytest.raises(PermissionDenied) as exc:
        proposals.update_proposal(world.user("member"), p, valid_data(summary="Te laat."),
                                  expected_version=p.version, now=LATER)
    assert str(exc.value.message) == reason
    assert db.session.get(Proposal, p.id).summary != "Te laat."


def test_edit_based_on_an_old_version_conflicts(world):
    p = world.propose()
    member, delegate = world.user("member"), world.user("delegate")
    started_from = p.version
    proposals.update_proposal(delegate, p, valid_data(summary="Versie van de delegate."),
                              expected_version=started_from, now=LATER)
    db.session.commit()
    with pytest.raises(ConflictError):
        proposals.update_proposal(member, p, valid_data(summary="Versie van het lid."),
                                  expected_version=started_from, now=LATER)
    db.session.rollback()
    stored = db.session.get(Proposal, p.id)
    assert stored.summary == "Versie van de delegate."
    assert len(proposals.versions(stored)) == 2


def test_stale_object_race_between_two_sessions(world):
    """Both editors read version 1; the other session commits first; ours must not overwrite
    (the expected_version check passes on our stale copy: the row's version catches it)."""
    p = world.propose()
    db.session.commit()
    pid = p.id
    ours = db.session.get(Proposal, pid)
    assert ours.version == 1
    with Session(db.engine) as other:
        theirs = other.get(Proposal, pid)
        theirs.summary = "Opgeslagen door de andere sessie."
        other.commit()
    assert ours.version == 1  # our copy is stale
    with pytest.raises(ConflictError):
        proposals.update_proposal(world.user("member"), ours,
                                  valid_data(summary="Onze versie."), expected_version=1,
                                  now=LATER)
    db.session.rollback()
    stored = db.session.get(Proposal, pid)
    assert stored.summary == "Opgeslagen door de andere sessie."
    assert stored.version == 2
    assert count(ProposalVersion, ProposalVersion.proposal_id == pid) == 1
    assert "proposal.edited" not in audit_actions()


def test_stale_withdrawal_also_conflicts(world):
    p = world.propose()
    db.session.commit()
    ours = db.session.get(Proposal, p.id)
    _ = ours.title
    with Session(db.engine) as other:
        other.get(Proposal, p.id).summary = "Tussendoor gewijzigd."
        other.commit()
    with pytest.raises(ConflictError):
        proposals.withdraw_proposal(world.user("member"), ours, kind=WithdrawalKind.CANCELLED,
                                    reason="Plan gestopt.", duplicate_of_id=None, now=LATER)
    db.session.rollback()
    assert db.session.get(Proposal, p.id).status == "submitted"


# --- withdrawing -------------------------------------------------------------------------------


def test_withdraw_with_reason_keeps_the_row(world):
    p = world.propose()
    proposals.withdraw_proposal(world.user("delegate"), p, kind=WithdrawalKind.CANCELLED,
                                reason="  De raad heeft het plan geschrapt.  ",
                                duplicate_of_id=None, now=LATER)
    db.session.commit()
    stored = db.session.get(Proposal, p.id)
    assert stored.status == "withdrawn" and stored.is_withdrawn and stored.is_published
    assert stored.withdrawal_kind == "cancelled"
    assert stored.withdrawal_reason == "De raad heeft het plan geschrapt."
    assert stored.withdrawn_at == LATER
    assert proposals.can_view(None, stored)
    assert "proposal.withdrawn" in audit_actions()
    with pytest.raises(InvalidState):
        proposals.withdraw_proposal(world.user("member"), stored, kind=WithdrawalKind.OTHER,
                                    reason="Nog een keer.", duplicate_of_id=None, now=LATER)
    # Withdrawn proposals cannot be edited any more.
    assert proposals.edit_refusal(world.user("member"), stored, world.round)


def test_withdraw_as_duplicate(world):
    original = world.propose("other_member", title="Paspoort online aanvragen in Amsterdam")
    p = world.propose()
    member = world.user("member")
    for bad in (None, p.id, 999_999, 10**30):
        with pytest.raises(ValidationError) as exc:
            proposals.withdraw_proposal(member, p, kind=WithdrawalKind.DUPLICATE,
                                        reason="Dubbel ingediend.", duplicate_of_id=bad,
                                        now=LATER)
        assert exc.value.field == "duplicate_of_id"
    draft = world.propose("other_member", submit=False)
    with pytest.raises(ValidationError):
        proposals.withdraw_proposal(member, p, kind=WithdrawalKind.DUPLICATE,
                                    reason="Dubbel ingediend.", duplicate_of_id=draft.id,
                                    now=LATER)
    proposals.withdraw_proposal(member, p, kind=WithdrawalKind.DUPLICATE,
                                reason="Amsterdam doet precies hetzelfde.",
                                duplicate_of_id=original.id, now=LATER)
    assert p.duplicate_of_id == original.id and p.withdrawal_kind == "duplicate"


def test_withdraw_refusals(world):
    p = world.propose()
    kwargs = {"kind": WithdrawalKind.OTHER, "duplicate_of_id": None, "now": LATER}
    with pytest.raises(ValidationError):
        proposals.withdraw_proposal(world.user("member"), p, reason="kort", **kwargs)
    with pytest.raises(ValidationError):
        proposals.withdraw_proposal(world.user("member"), p, reason="x" * 2001, **kwargs)
    for role in ("other_member", "organiser", "jury"):
        with pytest.raises(PermissionDenied):
            proposals.withdraw_proposal(world.user(role), p, reason="Niet van mij.", **kwargs)
    # A draft is not public: withdrawing it would publish it.
    draft = world.propose(submit=False)
    with pytest.raises(InvalidState):
        proposals.withdraw_proposal(world.user("member"), draft, reason="Toch niet.", **kwargs)
    assert draft.status == "draft" and not proposals.can_view(None, draft)
    db.session.commit()
    world.end_submission()
    with pytest.raises(InvalidState):
        proposals.withdraw_proposal(world.user("member"), p, reason="Te laat nu.", **kwargs)


# --- co-submission -----------------------------------------------------------------------------


def test_cosubmission_accepted(world):
    p = world.propose()
    amsterdam = world.user("other_member")
    request = proposals.request_cosubmission(amsterdam, p, "  Wij bouwen dit ook.\x00 ", now=NOW)
    assert request.status == "requested" and request.message == "Wij bouwen dit ook."
    assert proposals.involved_municipality_ids(p) == {p.municipality_id}
    # Not yet accepted: no editing.
    assert proposals.edit_refusal(amsterdam, p, world.round)
    proposals.decide_cosubmission(world.user("member"), request, True, now=LATER)
    assert request.status == "accepted" and request.decided_at == LATER
    assert proposals.involved_municipality_ids(p) == {p.municipality_id,
                                                      amsterdam.municipality_id}
    assert proposals.edit_refusal(amsterdam, p, world.round) is None
    proposals.update_proposal(amsterdam, p, valid_data(summary="Samen met Amsterdam."),
                              expected_version=p.version, now=LATER)
    assert p.summary == "Samen met Amsterdam."
    # A co-submitter edits, but only the owner withdraws.
    with pytest.raises(PermissionDenied):
        proposals.withdraw_proposal(amsterdam, p, kind=WithdrawalKind.OTHER,
                                    reason="Wij trekken het in.", duplicate_of_id=None,
                                    now=LATER)
    assert [c.municipality.code for c in proposals.cosubmissions(p)] == ["GM0363"]
    assert proposals.own_proposals(amsterdam, world.round) == [p]
    actions = audit_actions()
    assert "cosubmission.requested" in actions and "cosubmission.accepted" in actions


def test_cosubmission_declined_and_asked_again(world):
    p = world.propose()
    amsterdam = world.user("other_member")
    request = proposals.request_cosubmission(amsterdam, p, "", now=NOW)
    with pytest.raises(InvalidState):
        proposals.request_cosubmission(amsterdam, p, "nog eens", now=NOW)
    proposals.decide_cosubmission(world.user("delegate"), request, False, now=LATER)
    assert request.status == "declined"
    assert proposals.involved_municipality_ids(p) == {p.municipality_id}
    with pytest.raises(InvalidState):
        proposals.decide_cosubmission(world.user("member"), request, True, now=LATER)
    again = proposals.request_cosubmission(amsterdam, p, "Toch graag.", now=LATER)
    assert again.id == request.id and again.status == "requested" and again.decided_at is None
    assert count(CoSubmission) == 1


def test_cosubmission_refusals(world):
    p = world.propose()
    with pytest.raises(InvalidState):
        proposals.request_cosubmission(world.user("delegate"), p, "", now=NOW)  # own
    for role in ("jury", "organiser"):
        with pytest.raises(PermissionDenied):
            proposals.request_cosubmission(world.user(role), p, "", now=NOW)
    draft = world.propose(submit=False)
    with pytest.raises(InvalidState):
        proposals.request_cosubmission(world.user("other_member"), draft, "", now=NOW)
    request = proposals.request_cosubmission(world.user("other_member"), p, "", now=NOW)
    # Only the owner decides: not the requester, nor an organiser.
    for role in ("other_member", "organiser"):
        with pytest.raises(PermissionDenied):
            proposals.decide_cosubmission(world.user(role), request, True, now=LATER)
    db.session.commit()
    world.end_submission()
    # Involvement decides who may vote later: it is fixed after the submission phase.
    with pytest.raises(InvalidState):
        proposals.decide_cosubmission(world.user("member"), request, True, now=LATER)
    db.session.rollback()
    assert proposals.involved_municipality_ids(db.session.get(Proposal, p.id)) == {
        p.municipality_id}
    with pytest.raises(InvalidState):
        proposals.request_cosubmission(world.user("other_member"), p, "", now=LATER)


# --- interest and following --------------------------------------------------------------------


def test_interest_marked_withdrawn_and_counted(ctx, people):
    world = make_world(people)
    ms = {m.code: m for m in db.session.scalars(select(proposals.Municipality))}
    groningen = make_user("lid@groningen.example", Role.MEMBER, municipality=ms["GM0014"])
    p = world.propose()
    other = world.propose("other_member", title="Afval melden met een foto-app")
    amsterdam = world.user("other_member")
    proposals.set_interest(amsterdam, p, True, now=NOW)
    proposals.set_interest(amsterdam, p, True, now=NOW)  # idempotent
    proposals.set_interest(groningen, p, True, now=NOW)
    proposals.set_interest(world.user("member"), other, True, now=NOW)
    assert proposals.interest_counts([p.id, other.id]) == {p.id: 2, other.id: 1}
    assert [m.code for m in proposals.interested_municipalities(p)] == ["GM0363", "GM0014"]
    proposals.set_interest(groningen, p, False, now=LATER)
    assert proposals.interest_counts([p.id]) == {p.id: 1}
    withdrawn = db.session.scalar(select(Interest).where(
        Interest.municipality_id == groningen.municipality_id))
    assert withdrawn.withdrawn_at == LATER  # kept, not deleted
    proposals.set_interest(groningen, p, True, now=LATER)
    assert proposals.interest_counts([p.id]) == {p.id: 2}
    assert count(Interest) == 3
    assert audit_actions().count("interest.marked") == 4
    assert audit_actions().count("interest.withdrawn") == 1


def test_involved_municipalities_cannot_mark_interest(world):
    p = world.propose()
    for role in ("member", "delegate"):
        with pytest.raises(InvalidState):
            proposals.set_interest(world.user(role), p, True, now=NOW)
    for role in ("jury", "organiser"):
        with pytest.raises(PermissionDenied):
            proposals.set_interest(world.user(role), p, True, now=NOW)
    draft = world.propose(submit=False)
    with pytest.raises(InvalidState):
        proposals.set_interest(world.user("other_member"), draft, True, now=NOW)


def test_accepted_cosubmitter_is_no_longer_counted_as_interested(world):
    p = world.propose()
    amsterdam = world.user("other_member")
    proposals.set_interest(amsterdam, p, True, now=NOW)
    request = proposals.request_cosubmission(amsterdam, p, "", now=NOW)
    proposals.decide_cosubmission(world.user("member"), request, True, now=LATER)
    assert proposals.interest_counts([p.id]) == {}
    assert proposals.interested_municipalities(p) == []
    with pytest.raises(InvalidState):
        proposals.set_interest(amsterdam, p, True, now=LATER)


def test_follow_and_unfollow(world):
    p = world.propose()
    jury = world.user("jury")
    assert not proposals.is_following(jury, p)
    proposals.set_follow(jury, p, True, now=NOW)
    assert proposals.is_following(jury, p)
    proposals.set_follow(jury, p, False, now=LATER)
    assert not proposals.is_following(jury, p)
    row = db.session.scalar(select(Follow).where(Follow.user_id == jury.id))
    assert row.ended_at == LATER  # kept
    proposals.set_follow(jury, p, True, now=LATER)
    assert proposals.is_following(jury, p) and row.ended_at is None
    assert not proposals.is_following(None, p)
    draft = world.propose(submit=False)
    with pytest.raises(PermissionDenied):
        proposals.set_follow(world.user("other_member"), draft, True, now=NOW)


# --- domains -----------------------------------------------------------------------------------


def test_domain_admin(world):
    organiser = world.user("organiser")
    new = domains.create_domain(organiser, domains.DomainData(" Onderwijs ", "Education"),
                                now=NOW)
    assert new.slug == "onderwijs" and new.is_active and new.position == 8
    assert new.id in [d.id for d in proposals.domains()]
    with pytest.raises(ValidationError) as exc:
        domains.create_domain(organiser, domains.DomainData("onderwijs", "Schools"), now=NOW)
    assert exc.value.field == "name_nl"
    domains.update_domain(organiser, new, domains.DomainData("Onderwijs en jeugd",
                                                             "Education and youth", 8, True),
                          now=NOW)
    assert new.name_nl == "Onderwijs en jeugd" and new.slug == "onderwijs"
    # The old name is free again although its slug stays taken.
    again = domains.create_domain(organiser, domains.DomainData("Onderwijs", "Schooling"),
                                  now=NOW)
    assert again.slug == "onderwijs-2"
    p = world.propose(domain_id=new.id)
    domains.update_domain(organiser, new, domains.DomainData("Onderwijs en jeugd",
                                                             "Education and youth", 8, False),
                          now=NOW)
    assert new.id not in [d.id for d in proposals.domains()]
    assert new.id in [d.id for d in proposals.domains(include_inactive=True)]
    assert db.session.get(Proposal, p.id).domain_id == new.id
    with pytest.raises(ValidationError):
        world.propose(domain_id=new.id)
    with pytest.raises(ValidationError):
        domains.update_domain(organiser, new, domains.DomainData("Dienstverlening", "X y"),
                              now=NOW)
    for bad in (domains.DomainData("x", "Education"), domains.DomainData("Goed", ""),
                domains.DomainData("Goed genoeg", "Fine", -1),
                domains.DomainData("Goed genoeg", "Fine", 10**20)):
        with pytest.raises(ValidationError):
            domains.create_domain(organiser, bad, now=NOW)
    assert audit_actions("domain").count("domain.updated") == 2
    for role in ("member", "jury"):
        with pytest.raises(PermissionDenied):
            domains.create_domain(world.user(role), domains.DomainData("Zorg", "Care"), now=NOW)
    with pytest.raises(NotFound):
        domains.get_domain(10**30)


def test_domain_with_only_punctuation_gets_a_slug(world):
    organiser = world.user("organiser")
    a = domains.create_domain(organiser, domains.DomainData("??", "??"), now=NOW)
    b = domains.create_domain(organiser, domains.DomainData("!!", "!!"), now=NOW)
    assert a.slug == "domein" and b.slug == "domein-2"


# --- similar proposals -------------------------------------------------------------------------


def test_similar_proposals_best_first_published_only(ctx, people):
    world = make_world(people)
    titles = [
        ("Digitaal paspoort aanvragen", "Paspoort en identiteitskaart online aanvragen."),
        ("Paspoort aanvragen met DigiD", "Een paspoortaanvraag volledig digitaal."),
        ("Afval melden met een app", "Inwoners melden zwerfafval met een foto."),
        ("Parkeervergunning online", "Bewoners vragen hun parkeervergunning digitaal aan."),
        ("Rijbewijs verlengen online", "Rijbewijs digitaal aanvragen en verlengen."),
        ("Identiteitskaart thuis bezorgd", "Paspoort of identiteitskaart thuis laten bezorgen."),
        ("Paspoort afspraak plannen", "Online een afspraak voor een paspoort maken."),
        ("Bomen kappen vergunning", "Kapvergunning aanvragen voor bomen."),
    ]
    made = [world.propose(title=t + " — voorstel", summary=s) for t, s in titles]
    draft = world.propose(submit=False, title="Paspoort aanvragen concept",
                          summary="Paspoort online aanvragen.")
    withdrawn = world.propose(title="Paspoort aanvragen ingetrokken",
                              summary="Paspoort online aanvragen.")
    proposals.withdraw_proposal(world.user("member"), withdrawn, kind=WithdrawalKind.OTHER,
                                reason="Niet meer nodig.", duplicate_of_id=None, now=LATER)
    db.session.commit()
    other_world = make_world(people, title="Een andere ronde voor later")
    other_round_proposal = other_world.propose(title="Paspoort online aanvragen",
                                               summary="Paspoort online aanvragen.")
    result = proposals.similar_proposals(world.round, "Paspoort online aanvragen. "
                                         "Inwoners vragen hun paspoort digitaal aan.")
    ids = [p.id for p, _ in result]
    scores = [s for _, s in result]
    assert 1 <= len(result) <= 5
    assert scores == sorted(scores, reverse=True)
    assert ids[0] in (made[0].id, made[1].id)
    assert made[2].id not in ids  # waste collection has nothing to do with it
    assert draft.id not in ids and withdrawn.id not in ids
    assert other_round_proposal.id not in ids
    assert len(proposals.similar_proposals(world.round, "paspoort", k=2)) <= 2
    excluded = proposals.similar_proposals(world.round, made[0].title, exclude_id=made[0].id)
    assert made[0].id not in [p.id for p, _ in excluded]
    assert proposals.similar_proposals(world.round, "   ") == []
    assert proposals.similar_proposals(world.round, "x" * 100_000) == []


# --- export ------------------------------------------------------------------------------------


def test_export_rows(world):
    p = world.propose(description="Tekst met ; en \"quotes\"")
    amsterdam = world.user("other_member")
    request = proposals.request_cosubmission(amsterdam, p, "", now=NOW)
    proposals.decide_cosubmission(world.user("member"), request, True, now=NOW)
    ms = {m.code: m for m in db.session.scalars(select(proposals.Municipality))}
    groningen = make_user("lid@groningen.example", Role.MEMBER, municipality=ms["GM0014"])
    proposals.set_interest(groningen, p, True, now=NOW)
    gone = world.propose("other_member", title="Ingetrokken voorstel over afval")
    proposals.withdraw_proposal(amsterdam, gone, kind=WithdrawalKind.CANCELLED,
                                reason="Budget geschrapt.", duplicate_of_id=None, now=LATER)
    world.propose(submit=False, title="Geheim concept van Utrecht")
    rows = proposals.export_rows(world.round, lambda q: f"https://example.test/voorstellen/{q.id}")
    assert [r["id"] for r in rows] == [p.id, gone.id]
    for row in rows:
        assert tuple(row) == proposals.EXPORT_COLUMNS
    first, second = rows
    assert first["url"] == f"https://example.test/voorstellen/{p.id}"
    assert first["round"] == world.round.slug
    assert first["status"] == "submitted" and first["title"] == TITLE
    assert first["domain"] == "dienstverlening"
    assert first["municipality_code"] == "GM0344" and first["province"] == "Utrecht"
    assert first["co_submitters"] == ["GM0363"] and first["interested"] == ["GM0014"]
    assert first["planned_start"] == "2027-09-01" and first["estimated_cost_eur"] == 250_000
    assert first["withdrawn_at"] is None and first["withdrawal_reason"] is None
    assert "contact_email" not in first
    assert second["status"] == "withdrawn" and second["withdrawal_reason"] == "Budget geschrapt."
    assert second["withdrawn_at"] == LATER.isoformat()

