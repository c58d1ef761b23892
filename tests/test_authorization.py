"""Every route × every role: who gets the page, who gets 403, who is sent to log in.

New routes must be added to ACCESS, so no route can slip through unclassified.
"""

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import (
    AuditEvent,
    Cluster,
    ClusterMember,
    CommentKind,
    FinalistDecision,
    Invitation,
    ProgressUpdate,
    Role,
    Standard,
    User,
)
from competition.services import (
    accounts,
    attachments,
    comments,
    preselection,
    proposals,
    rounds,
)
from tests.conftest import NOW

OK, LOGIN, FORBIDDEN = "ok", "login", "forbidden"


def policy(**expected: str) -> dict[str, str]:
    return expected


# Expected outcome per role: OK (served, or refused for a reason other than who you are),
# LOGIN (sent to the login page), FORBIDDEN (403).
PUBLIC = policy(anonymous=OK, member=OK, delegate=OK, jury=OK, organiser=OK, other_member=OK)
LOGGED_IN = policy(anonymous=LOGIN, member=OK, delegate=OK, jury=OK, organiser=OK,
                   other_member=OK)
ORGANISER = policy(anonymous=LOGIN, member=FORBIDDEN, delegate=FORBIDDEN, jury=FORBIDDEN,
                   organiser=OK, other_member=FORBIDDEN)
# Users of a municipality (members and delegates); jurors and organisers act for none.
MUNICIPAL = policy(anonymous=LOGIN, member=OK, delegate=OK, jury=FORBIDDEN,
                   organiser=FORBIDDEN, other_member=OK)
# The team of the proposal in `world`: users of its municipality (Utrecht).
TEAM = policy(anonymous=LOGIN, member=OK, delegate=OK, jury=FORBIDDEN, organiser=FORBIDDEN,
              other_member=FORBIDDEN)
# Jurors only (the juror in `world` is assigned to the round).
JURY = policy(anonymous=LOGIN, member=FORBIDDEN, delegate=FORBIDDEN, jury=OK,
              organiser=FORBIDDEN, other_member=FORBIDDEN)
# Municipalities' delegates only.
DELEGATE = policy(anonymous=LOGIN, member=FORBIDDEN, delegate=OK, jury=FORBIDDEN,
                  organiser=FORBIDDEN, other_member=FORBIDDEN)
# A standard's owner municipality (Utrecht in `world`) and organisers edit it.
STANDARD_EDITORS = policy(anonymous=LOGIN, member=OK, delegate=OK, jury=FORBIDDEN,
                          organiser=OK, other_member=FORBIDDEN)

ACCESS = {
    "rounds.home": PUBLIC,
    "rounds.about": PUBLIC,
    "rounds.round_page": PUBLIC,
    "healthz": PUBLIC,
    "static": PUBLIC,
    "set_language": PUBLIC,
    "choose_language": PUBLIC,
    "auth.login": PUBLIC,
    "auth.forgot_password": PUBLIC,
    "auth.accept_invitation": PUBLIC,
    "auth.reset_password": PUBLIC,
    "auth.account": LOGGED_IN,
    "auth.mail_settings": LOGGED_IN,
    "auth.logout": LOGGED_IN,
    "admin.dashboard": ORGANISER,
    "admin.audit_log": ORGANISER,
    "admin.users": ORGANISER,
    "admin.edit_user": ORGANISER,
    "admin.municipality_list": ORGANISER,
    "admin.toggle_municipality": ORGANISER,
    "admin.round_detail": ORGANISER,
    "admin.edit_round": ORGANISER,
    "admin.close_phase": ORGANISER,
    "admin.extend_phase": ORGANISER,
    "admin.schedule": ORGANISER,
    "admin.new_round": ORGANISER,
    "admin.invitations": ORGANISER,
    "admin.revoke_invitation": ORGANISER,
    "admin.resend_invitation": ORGANISER,
    "proposals.index": PUBLIC,
    "proposals.export_csv": PUBLIC,
    "proposals.export_json": PUBLIC,
    "proposals.similar": PUBLIC,
    "proposals.detail": PUBLIC,
    "proposals.history": PUBLIC,
    "proposals.download": PUBLIC,
    "proposals.report": PUBLIC,
    "proposals.new": MUNICIPAL,
    "proposals.interest": MUNICIPAL,
    "proposals.request_cosubmission": MUNICIPAL,
    "proposals.follow": LOGGED_IN,
    "proposals.add_comment": LOGGED_IN,
    "proposals.edit": TEAM,
    "proposals.submit": TEAM,
    "proposals.withdraw": TEAM,
    "proposals.upload": TEAM,
    "proposals.remove_attachment": TEAM,
    "proposals.decide_cosubmission": TEAM,
    "proposals.answer": TEAM,
    "proposals.moderation": ORGANISER,
    "proposals.hide_comment": ORGANISER,
    "proposals.dismiss_reports": ORGANISER,
    "proposals.domain_list": ORGANISER,
    "clusters.review": ORGANISER,
    "clusters.progress": ORGANISER,
    "clusters.run": ORGANISER,
    "clusters.rename": ORGANISER,
    "clusters.confirm": ORGANISER,
    "clusters.confirm_all": ORGANISER,
    "clusters.merge": ORGANISER,
    "clusters.move": ORGANISER,
    "clusters.split": ORGANISER,
    "clusters.index": PUBLIC,
    "clusters.detail": PUBLIC,
    "proposals.domain_update": ORGANISER,
    "jury.index": JURY,
    "jury.round_tasks": JURY,
    "jury.scorecard": JURY,
    "jury.declare_conflict": JURY,
    "jury.withdraw_conflict": JURY,
    "jury.manage": ORGANISER,
    "jury.edit_criterion": ORGANISER,
    "jury.remove_criterion": ORGANISER,
    "jury.assign": ORGANISER,
    "jury.remove": ORGANISER,
    "jury.remind": ORGANISER,
    "voting.peer_overview": DELEGATE,
    "voting.approve": DELEGATE,
    "results.preselection": PUBLIC,
    "results.preselection_cluster": PUBLIC,
    "results.override": ORGANISER,
    "development.finalist": PUBLIC,
    "development.cluster_finalists": PUBLIC,
    "development.post_update": TEAM,
    "development.edit_update": TEAM,
    "development.save_work": TEAM,
    "development.add_deliverable_file": TEAM,
    "development.remove_deliverable_file": TEAM,
    "voting.final_overview": DELEGATE,
    "voting.final_ballot": DELEGATE,
    "voting.receipt": DELEGATE,
    "voting.check_receipt": PUBLIC,
    "voting.turnout": ORGANISER,
    "voting.remind": ORGANISER,
    "voting.weights": ORGANISER,
    "results.final": PUBLIC,
    "results.final_cluster": PUBLIC,
    "results.ballots_json": PUBLIC,
    "results.ballots_csv": PUBLIC,
    "standards.index": PUBLIC,
    "standards.detail": PUBLIC,
    "standards.edit": STANDARD_EDITORS,
    "adoption.record": MUNICIPAL,
    "adoption.export_csv": PUBLIC,
    "adoption.dashboard": PUBLIC,
    "adoption.jatprijs": PUBLIC,
    "adoption.municipality": PUBLIC,
    "api.index": PUBLIC,
    "api.openapi": PUBLIC,
    "api.rounds": PUBLIC,
    "api.round": PUBLIC,
    "api.round_clusters": PUBLIC,
    "api.cluster": PUBLIC,
    "api.cluster_finalists": PUBLIC,
    "api.cluster_preselection": PUBLIC,
    "api.cluster_result": PUBLIC,
    "api.cluster_ballots": PUBLIC,
    "api.proposals": PUBLIC,
    "api.proposal": PUBLIC,
    "api.domains": PUBLIC,
    "api.standards": PUBLIC,
    "api.standard": PUBLIC,
    "api.standard_adoption": PUBLIC,
    "api.municipalities": PUBLIC,
    "api.municipality": PUBLIC,
    "feeds.proposals": PUBLIC,
    "feeds.round_proposals": PUBLIC,
    "feeds.phases": PUBLIC,
    "feeds.results": PUBLIC,
}

ROLES = ["anonymous", "member", "delegate", "jury", "organiser", "other_member"]


def test_every_route_is_classified(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - ACCESS.keys() == set(), "add new routes to ACCESS"
    assert ACCESS.keys() - endpoints == set(), "ACCESS lists routes that no longer exist"


@pytest.fixture
def world(app, people):
    """A round, an invitation and the URL values every route needs."""
    return route_values(app, people)


def route_values(app, people) -> dict:
    """Build the world behind `world` (tests/test_hardening.py uses it too)."""
    app.config["FROZEN_NOW"] = NOW + timedelta(hours=1)
    with app.app_context():
        organiser = accounts.find_user_by_email(people["organiser"])
        rnd = rounds.create_round(
            organiser,
            rounds.RoundData(title="Testronde digitale dienstverlening", theme="Thema"),
            rounds.default_schedule(NOW + timedelta(days=1)),
            now=NOW,
        )
        utrecht = accounts.find_user_by_email(people["member"]).municipality
        invitation = accounts.invite(
            organiser,
            accounts.InvitationData("nieuw@utrecht.example", "Nieuw", utrecht.id,
                                    frozenset({Role.MEMBER})),
            now=NOW,
        )
        rounds.close_phase(rnd, rnd.current_phase, actor=organiser, now=NOW)
        member = accounts.find_user_by_email(people["member"])
        proposal = proposals.create_proposal(member, rnd, proposals.ProposalData(
            title="Digitaal paspoort aanvragen", summary="Online aanvragen.",
            description="Beschrijving", problem="Wachtrijen", domain_id=1,
            planned_start=date(2027, 9, 1), contact_name="Sanne",
            contact_email="sanne@utrecht.example"), submit=True, now=NOW)
        question = comments.add_comment(member, proposal, "Werkt dit met DigiD?",
                                        CommentKind.QUESTION, now=NOW)
        attachment = attachments.add_attachment(
            member, proposal, attachments.Upload("plan.pdf", io.BytesIO(b"%PDF-1.4 test")),
            upload_folder=app.config["UPLOAD_FOLDER"], now=NOW)
        other = accounts.find_user_by_email(people["other_member"])
        cosubmission = proposals.request_cosubmission(other, proposal, "Wij ook", now=NOW)
        cluster = Cluster(round_id=rnd.id, label="Paspoort", created_at=NOW, updated_at=NOW,
                          is_confirmed=True)
        cluster.members.append(ClusterMember(proposal_id=proposal.id, similarity=1.0,
                                             added_at=NOW))
        db.session.add(cluster)
        db.session.flush()
        juror = preselection.assign_juror(
            organiser, rnd, accounts.find_user_by_email(people["jury"]), [], now=NOW)
        criterion_id = preselection.criteria(rnd)[0].id
        # Made directly: the preselection and the vote of this round are long in the future.
        db.session.add(FinalistDecision(round_id=rnd.id, cluster_id=cluster.id,
                                        proposal_id=proposal.id, rank=1,
                                        is_computed_finalist=True, is_finalist=True))
        update = ProgressUpdate(round_id=rnd.id, proposal_id=proposal.id, author_id=member.id,
                                title="Eerste stap", body="We zijn begonnen.", created_at=NOW,
                                updated_at=NOW)
        standard = Standard(round_id=rnd.id, cluster_id=cluster.id, proposal_id=proposal.id,
                            owner_municipality_id=member.municipality_id,
                            name="Digitaal paspoort aanvragen", declared_at=NOW, updated_at=NOW)
        db.session.add_all([update, standard])
        db.session.commit()
        member_id = member.id
        return {
            "proposal_id": proposal.id,
            "comment_id": question.id,
            "attachment_id": attachment.id,
            "name": "plan.pdf",
            "cosubmission_id": cosubmission.id,
            "decision": "accept",
            "domain_id": 1,
            "cluster_id": cluster.id,
            "criterion_id": criterion_id,
            "member_id": juror.id,
            "update_id": update.id,
            "standard_id": standard.id,
            "slug": rnd.slug,
            "user_id": member_id,
            "invitation_id": invitation.id,
            "code": "GM0344",
            "phase": "submission",
            "token": "not-a-valid-token",
            "filename": "css/site.css",
            "lang": "en",
        }


def _urls(app, values):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        args = {name: values[name] for name in rule.arguments}
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **args)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)))


@pytest.mark.parametrize("role", ROLES)
def test_route_access_by_role(app, client, auth, people, world, role):
    if role != "anonymous":
        response = auth.login(people[role])
        assert response.status_code == 302, f"login failed for {role}"
    failures = []
    for endpoint, method, url in _urls(app, world):
        expected = ACCESS[endpoint][role]
        if endpoint == "auth.logout":
            continue  # logging out would end this client's session for the next routes
        before = _audit_count(app)
        response = client.open(url, method=method, data={})
        status = response.status_code
        to_login = status == 302 and "/inloggen" in response.headers.get("Location", "")
        if status >= 500:
            failures.append(f"{method} {url}: server error {status}")
        elif expected == LOGIN and not to_login:
            failures.append(f"{method} {url}: {role} should go to login, got {status}")
        elif expected == FORBIDDEN and status != 403:
            failures.append(f"{method} {url}: {role} should get 403, got {status}")
        elif expected == FORBIDDEN and _audit_count(app) != before:
            failures.append(f"{method} {url}: refused request still changed data")
        elif expected == OK and (status in (401, 403) or to_login):
            failures.append(f"{method} {url}: {role} should be allowed, got {status}")
    assert not failures, "\n".join(failures)


def test_logout_needs_login_and_post(client, auth, people):
    assert client.get("/uitloggen").status_code == 405
    response = client.post("/uitloggen")
    assert response.status_code == 302 and "/inloggen" in response.headers["Location"]
    auth.login(people["member"])
    assert client.post("/uitloggen").status_code == 302
    assert client.get("/account").status_code == 302


def test_services_refuse_without_the_role(ctx, people):
    """Authorization lives in the services, not only in the views."""
    from competition.services.errors import PermissionDenied

    member = accounts.find_user_by_email(people["member"])
    with pytest.raises(PermissionDenied):
        rounds.create_round(member, rounds.RoundData(title="Niet toegestaan", theme="x y z"),
                            rounds.default_schedule(NOW + timedelta(days=1)), now=NOW)
    with pytest.raises(PermissionDenied):
        accounts.invite(member, accounts.InvitationData("a@b.example", "A", None,
                                                        frozenset({Role.JURY})), now=NOW)
    with pytest.raises(PermissionDenied):
        accounts.update_user(member, member, accounts.UserChanges(
            "X", member.municipality_id, frozenset({Role.ORGANISER}), True), now=NOW)
    assert db.session.scalar(select(func.count(Invitation.id))) == 0
    assert db.session.get(User, member.id).is_organiser is False
