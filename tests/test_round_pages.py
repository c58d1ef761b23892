"""Round pages over HTTP: creating and managing rounds, and the public round pages.

Time is set with the FROZEN_NOW config key; assertions are on status codes, redirects, the
database and the audit log (never on interface text, which is being translated).
"""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from competition.extensions import db
from competition.models import PHASES, AuditEvent, Phase, Round
from competition.services import accounts, rounds
from tests.conftest import NOW

LOCAL = ZoneInfo("Europe/Amsterdam")
SCHEDULED = PHASES[:-1]
TITLE = "Slimme meldingen 2027"
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def clock_registry() -> Iterator[None]:
    """Only the round module's own preconditions and no end-of-phase work, restored after."""
    saved_pre = {p: list(fns) for p, fns in rounds._preconditions.items()}
    saved_hooks = {p: list(fns) for p, fns in rounds._end_hooks.items()}
    for phase in PHASES:
        rounds._preconditions[phase][:] = [
            fn for fn in saved_pre[phase] if fn.__module__ == rounds.__name__
        ]
        rounds._end_hooks[phase][:] = []
    yield
    for phase in PHASES:
        rounds._preconditions[phase][:] = saved_pre[phase]
        rounds._end_hooks[phase][:] = saved_hooks[phase]


@pytest.fixture
def organiser(people, auth, app):
    """Logged in as the organiser, with the clock frozen at NOW."""
    freeze(app, NOW)
    assert auth.login(people["organiser"]).status_code == 302
    return people["organiser"]


def freeze(app, moment: datetime) -> None:
    app.config["FROZEN_NOW"] = moment


def local(moment: datetime) -> str:
    return moment.astimezone(LOCAL).strftime("%Y-%m-%dT%H:%M")


def form_data(**overrides) -> dict[str, str]:
    """The new-round form as a browser would post it (a None value leaves the field out)."""
    ends = rounds.default_schedule(NOW)
    data = {
        "title": TITLE,
        "theme": "Meldingen in de openbare ruimte",
        "description": "Waarom deze ronde.\n\nEn hoe.",
        "max_finalists": "3",
        "max_winners": "1",
        "jury_weight": "50",
        "vote_weighting": "equal",
        "diversity_threshold": "33,33",
        "is_own_finalist_vote_allowed": "y",
        **{f"end_{p.value}": local(ends[p]) for p in SCHEDULED},
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make_round(app, *, title: str = TITLE, start: datetime = NOW, phase: Phase = Phase.DRAFT,
               now: datetime = NOW) -> str:
    """A committed round (created at `now`), carried by the clock to `phase`; returns its slug."""
    with app.app_context():
        org = accounts.find_user_by_email("org@example.org")
        rnd = rounds.create_round(org, rounds.RoundData(title=title, theme="Een thema"),
                                  rounds.default_schedule(start), now=now)
        while rnd.current_phase is not phase:
            assert rounds.sync_round(rnd, now=rnd.window(rnd.current_phase).ends_at)
        db.session.commit()
        return rnd.slug


def load(app, slug: str) -> Round:
    """The round as stored (detached; windows loaded)."""
    with app.app_context():
        rnd = db.session.scalar(select(Round).where(Round.slug == slug))
        assert rnd is not None
        rnd.windows  # noqa: B018 (load before the session closes)
        db.session.expunge_all()
        return rnd


def state(app, slug: str) -> tuple:
    """Everything the round pages can change: phase, every window, the round's texts."""
    rnd = load(app, slug)
    return (rnd.phase, rnd.title, rnd.theme, rnd.max_finalists, rnd.updated_at,
            [(w.phase, w.ends_at, w.entered_at, w.left_at, w.left_by_id) for w in rnd.windows])


def audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        found = list(db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        db.session.expunge_all()
        return found


def count_rounds(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Round.id)))


def user_id(app, email: str) -> int:
    with app.app_context():
        return accounts.find_user_by_email(email).id


def shows_form_errors(response) -> bool:
    return 'id="error-summary"' in response.get_data(as_text=True)


# --- creating a round --------------------------------------------------------------------------


def test_new_round_form_is_prefilled(client, organiser):
    response = client.get("/beheer/rondes/nieuw")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for phase in SCHEDULED:
        assert f'name="end_{phase.value}"' in html
    # The proposed schedule starts today 09:00 Dutch time: submission opens a week later.
    assert 'value="2027-03-08T09:00"' in html


def test_organiser_creates_a_round(app, client, organiser):
    response = client.post("/beheer/rondes/nieuw", data=form_data(
        max_finalists="4", max_winners="2", jury_weight="60", vote_weighting="population",
        diversity_threshold="25%", is_own_finalist_vote_allowed=None,
        are_juror_names_public="y"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/beheer/rondes/slimme-meldingen-2027")

    rnd = load(app, "slimme-meldingen-2027")
    assert rnd.title == TITLE and rnd.phase == Phase.DRAFT.value
    assert rnd.description == "Waarom deze ronde.\n\nEn hoe."
    assert (rnd.max_finalists, rnd.max_winners, rnd.jury_weight) == (4, 2, 0.6)
    assert (rnd.vote_weighting, rnd.diversity_threshold) == ("population", 0.25)
    assert not rnd.is_own_finalist_vote_allowed and rnd.are_juror_names_public
    assert not rnd.are_ballots_anonymous
    assert rnd.created_at == NOW and rnd.created_by_id == user_id(app, organiser)
    ends = rounds.default_schedule(NOW)
    assert {Phase(w.phase): w.ends_at for w in rnd.windows} == ends
    (event,) = audit(app, "round.created")
    assert event.actor_id == user_id(app, organiser) and event.round_id == rnd.id

    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and TITLE in page.get_data(as_text=True)


def test_schedule_is_entered_in_dutch_time(app, client, organiser):
    """Winter time is UTC+1, summer time (from 28 March 2027) UTC+2."""
    ends = {
        "end_draft": "2027-03-08T10:00",
        "end_submission": "2027-04-19T10:00",
        "end_clustering": "2027-05-03T17:30",
        "end_preselection": "2027-05-31T10:00",
        "end_development": "2027-08-23T10:00",
        "end_final_vote": "2027-10-31T12:00",  # winter time again
        "end_decided": "2027-11-08T00:00",
    }
    assert client.post("/beheer/rondes/nieuw", data=form_data(**ends)).status_code == 302
    rnd = load(app, "slimme-meldingen-2027")
    stored = {w.phase: w.ends_at for w in rnd.windows}
    assert stored["draft"] == datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
    assert stored["submission"] == datetime(2027, 4, 19, 8, 0, tzinfo=UTC)
    assert stored["clustering"] == datetime(2027, 5, 3, 15, 30, tzinfo=UTC)
    assert stored["final_vote"] == datetime(2027, 10, 31, 11, 0, tzinfo=UTC)
    assert stored["decided"] == datetime(2027, 11, 7, 23, 0, tzinfo=UTC)
    assert stored["adoption"] is None


ENDS = rounds.default_schedule(NOW)


@pytest.mark.parametrize(
    "overrides",
    [
        {"title": "Kort"},
        {"title": None},
        {"title": "     Kort     "},  # long enough for the form, not once trimmed
        {"title": "t" * 161},
        {"theme": ""},
        {"description": "d" * 20_001},
        {"max_finalists": "0"},
        {"max_finalists": "elf"},
        {"max_winners": "3"},
        {"jury_weight": "150"},
        {"jury_weight": "-1"},
        {"jury_weight": "nan"},
        {"jury_weight": ""},
        {"vote_weighting": "per inwoner"},
        {"diversity_threshold": "0"},
        {"diversity_threshold": "0,5"},
        {"diversity_threshold": "nan"},
        {"end_clustering": ""},
        {"end_clustering": None},
        {"end_clustering": "volgende week"},
        {"end_clustering": "2027-13-45T25:61"},
        {"end_draft": "0001-01-01T00:00"},
        {"end_decided": "9999-12-31T23:59"},
        {"end_clustering": local(ENDS[Phase.SUBMISSION] - MINUTE)},  # before the previous end
        {"end_submission": local(ENDS[Phase.DRAFT])},  # a phase of no length
        {"end_draft": "2027-03-01T09:59"},  # submission opening in the past (now is 10:00)
    ],
    ids=lambda o: "-".join(f"{k}={str(v)[:12]}" for k, v in o.items()),
)
def test_invalid_new_round_shows_errors_and_writes_nothing(app, client, organiser, overrides):
    response = client.post("/beheer/rondes/nieuw", data=form_data(**overrides))
    assert response.status_code == 200
    assert shows_form_errors(response)
    assert count_rounds(app) == 0 and audit(app, "round.created") == []


def test_same_title_twice_gets_two_slugs(app, client, organiser):
    first = client.post("/beheer/rondes/nieuw", data=form_data())
    second = client.post("/beheer/rondes/nieuw", data=form_data())
    assert first.headers["Location"].endswith("/slimme-meldingen-2027")
    assert second.headers["Location"].endswith("/slimme-meldingen-2027-2")
    assert count_rounds(app) == 2


def test_round_called_nieuw_can_be_managed(app, client, organiser):
    response = client.post("/beheer/rondes/nieuw", data=form_data(title="Nieuw"))
    assert response.status_code == 302
    slug = response.headers["Location"].rsplit("/", 1)[1]
    assert slug != "nieuw"
    page = client.get(f"/beheer/rondes/{slug}")
    assert page.status_code == 200
    assert f"/beheer/rondes/{slug}/planning" in page.get_data(as_text=True)


# --- the control room --------------------------------------------------------------------------


@pytest.mark.parametrize("phase", PHASES, ids=str)
def test_round_detail_in_every_phase(app, client, organiser, phase):
    slug = make_round(app, phase=phase)
    freeze(app, load(app, slug).window(phase).entered_at or NOW)
    response = client.get(f"/beheer/rondes/{slug}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert TITLE in html
    if phase is Phase.ADOPTION:
        assert "/fase/" not in html  # nothing to close or extend
    else:
        assert f"/beheer/rondes/{slug}/fase/{phase.value}/sluiten" in html
        # The extend form says which phase the organiser is looking at.
        hidden = re.search(r'<input[^>]*name="phase"[^>]*>', html)
        assert hidden and f'value="{phase.value}"' in hidden.group(0)


def test_organiser_closes_the_current_phase(app, client, organiser):
    slug = make_round(app)
    freeze(app, NOW + timedelta(hours=1))
    response = client.post(f"/beheer/rondes/{slug}/fase/draft/sluiten",
                           data={"reason": "Alles staat klaar."})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/beheer/rondes/{slug}")

    rnd = load(app, slug)
    assert rnd.phase == Phase.SUBMISSION.value
    draft = rnd.window(Phase.DRAFT)
    assert draft.left_at == NOW + timedelta(hours=1) == draft.ends_at
    assert draft.left_by_id == user_id(app, organiser)
    assert rnd.window(Phase.SUBMISSION).entered_at == NOW + timedelta(hours=1)
    (event,) = audit(app, "round.phase_closed")
    assert event.actor_id == user_id(app, organiser)
    assert event.data["early"] is True and event.data["reason"] == "Alles staat klaar."
    assert client.get(response.headers["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("phase", "post"),
    [
        (Phase.DRAFT, "clustering"),  # skipping ahead
        (Phase.DRAFT, "submission"),
        (Phase.CLUSTERING, "submission"),  # a phase that already ended
        (Phase.ADOPTION, "adoption"),  # the last phase
    ],
    ids=str,
)
def test_closing_another_phase_changes_nothing(app, client, organiser, phase, post):
    slug = make_round(app, phase=phase)
    freeze(app, load(app, slug).window(phase).entered_at or NOW)
    before, closed = state(app, slug), len(audit(app, "round.phase_closed"))
    response = client.post(f"/beheer/rondes/{slug}/fase/{post}/sluiten", data={"reason": ""})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/beheer/rondes/{slug}")
    assert state(app, slug) == before
    assert len(audit(app, "round.phase_closed")) == closed


def test_close_with_too_long_a_reason_changes_nothing(app, client, organiser):
    slug = make_round(app)
    before = state(app, slug)
    response = client.post(f"/beheer/rondes/{slug}/fase/draft/sluiten", data={"reason": "x" * 501})
    assert response.status_code == 302
    assert state(app, slug) == before


def test_close_a_blocked_phase_changes_nothing(app, client, organiser):
    rounds.precondition(Phase.SUBMISSION)(lambda rnd, now: "De jury is nog niet benoemd.")
    slug = make_round(app)
    before = state(app, slug)
    assert client.get(f"/beheer/rondes/{slug}").status_code == 200
    response = client.post(f"/beheer/rondes/{slug}/fase/draft/sluiten", data={})
    assert response.status_code == 302 and state(app, slug) == before
    # Overdue: the end passed but the next phase cannot open; every page still works.
    freeze(app, NOW + timedelta(days=30))
    assert client.get(f"/beheer/rondes/{slug}").status_code == 200
    assert client.get(f"/rondes/{slug}").status_code == 200
    assert client.get("/").status_code == 200
    assert state(app, slug) == before


def test_close_unknown_phase_or_round_is_404(app, client, organiser):
    slug = make_round(app)
    assert client.post(f"/beheer/rondes/{slug}/fase/finale/sluiten").status_code == 404
    assert client.post("/beheer/rondes/bestaat-niet/fase/draft/sluiten").status_code == 404
    assert client.get("/beheer/rondes/bestaat-niet").status_code == 404
    assert client.post("/beheer/rondes/bestaat-niet/fase/verlengen").status_code == 404
    assert load(app, slug).phase == Phase.DRAFT.value


def test_organiser_extends_the_current_phase(app, client, organiser):
    slug = make_round(app)
    new_end = NOW + timedelta(days=10)
    response = client.post(f"/beheer/rondes/{slug}/fase/verlengen",
                           data={"new_end": local(new_end), "phase": "draft"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/beheer/rondes/{slug}")
    rnd = load(app, slug)
    assert rnd.window(Phase.DRAFT).ends_at == new_end
    (event,) = audit(app, "round.rescheduled")
    assert event.actor_id == user_id(app, organiser)
    assert event.data == {"draft": [ENDS[Phase.DRAFT].isoformat(), new_end.isoformat()]}
    # The old end passes without effect; the new one opens submission.
    freeze(app, ENDS[Phase.DRAFT] + MINUTE)
    assert client.get(f"/rondes/{slug}").status_code == 200
    assert load(app, slug).phase == Phase.DRAFT.value
    freeze(app, new_end)
    assert client.get(f"/beheer/rondes/{slug}").status_code == 200
    assert load(app, slug).phase == Phase.SUBMISSION.value


@pytest.mark.parametrize(
    "data",
    [
        {"new_end": "overmorgen", "phase": "draft"},
        {"new_end": "", "phase": "draft"},
        {"phase": "draft"},
        {"new_end": "0001-01-01T00:00", "phase": "draft"},
        {"new_end": "9999-12-31T23:59", "phase": "draft"},
        {"new_end": local(NOW - timedelta(days=1)), "phase": "draft"},  # in the past
        {"new_end": local(NOW), "phase": "draft"},  # now: that is closing, not extending
        {"new_end": local(ENDS[Phase.SUBMISSION]), "phase": "draft"},  # past the next end
        {"new_end": local(NOW + timedelta(days=10)), "phase": "submission"},  # not current
        {"new_end": local(NOW + timedelta(days=10)), "phase": "bogus"},
    ],
    ids=lambda d: "-".join(f"{k}={v[:12]}" for k, v in d.items()),
)
def test_invalid_extension_changes_nothing(app, client, organiser, data):
    slug = make_round(app)
    before = state(app, slug)
    response = client.post(f"/beheer/rondes/{slug}/fase/verlengen", data=data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/beheer/rondes/{slug}")
    assert state(app, slug) == before and audit(app, "round.rescheduled") == []


def test_extending_a_phase_that_closed_meanwhile_changes_nothing(app, client, organiser):
    """The organiser looked at submission; the clock moved to clustering before they posted."""
    slug = make_round(app, phase=Phase.SUBMISSION)
    freeze(app, ENDS[Phase.SUBMISSION] + MINUTE)
    response = client.post(f"/beheer/rondes/{slug}/fase/verlengen", data={
        "new_end": local(ENDS[Phase.SUBMISSION] + timedelta(days=3)), "phase": "submission"})
    assert response.status_code == 302
    rnd = load(app, slug)
    assert rnd.phase == Phase.CLUSTERING.value  # the clock ran when the page was posted
    assert {Phase(w.phase): w.ends_at for w in rnd.windows} == ENDS
    assert audit(app, "round.rescheduled") == []


def test_adoption_cannot_be_extended(app, client, organiser):
    slug = make_round(app, phase=Phase.ADOPTION)
    freeze(app, ENDS[Phase.DECIDED] + MINUTE)
    before = state(app, slug)
    response = client.post(f"/beheer/rondes/{slug}/fase/verlengen",
                           data={"new_end": local(ENDS[Phase.DECIDED] + timedelta(days=9))})
    assert response.status_code == 302 and state(app, slug) == before


# --- the schedule page -------------------------------------------------------------------------


def schedule_data(ends: dict[Phase, datetime], **changes: datetime) -> dict[str, str]:
    data = {f"end_{p.value}": local(ends[p]) for p in SCHEDULED}
    data.update({f"end_{k}": local(v) for k, v in changes.items()})
    return data


def test_schedule_page_changes_future_phases(app, client, organiser):
    slug = make_round(app)
    assert client.get(f"/beheer/rondes/{slug}/planning").status_code == 200
    new_end = ENDS[Phase.CLUSTERING] + timedelta(days=2)
    response = client.post(f"/beheer/rondes/{slug}/planning",
                           data=schedule_data(ENDS, clustering=new_end))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/beheer/rondes/{slug}")
    assert load(app, slug).window(Phase.CLUSTERING).ends_at == new_end
    (event,) = audit(app, "round.rescheduled")
    assert event.data == {"clustering": [ENDS[Phase.CLUSTERING].isoformat(),
                                         new_end.isoformat()]}


def test_schedule_page_keeps_ended_phases(app, client, organiser):
    slug = make_round(app, phase=Phase.CLUSTERING)
    now = ENDS[Phase.SUBMISSION] + timedelta(days=1)
    freeze(app, now)
    page = client.get(f"/beheer/rondes/{slug}/planning")
    assert page.status_code == 200
    # Ended phases are not submitted by the browser (read-only) or are tampered with.
    data = schedule_data(ENDS, decided=ENDS[Phase.DECIDED] + timedelta(days=1))
    del data["end_draft"]
    data["end_submission"] = "niet-te-parsen"
    response = client.post(f"/beheer/rondes/{slug}/planning", data=data)
    assert response.status_code == 302
    rnd = load(app, slug)
    assert rnd.window(Phase.DRAFT).ends_at == ENDS[Phase.DRAFT]
    assert rnd.window(Phase.SUBMISSION).ends_at == ENDS[Phase.SUBMISSION]
    assert rnd.window(Phase.DECIDED).ends_at == ENDS[Phase.DECIDED] + timedelta(days=1)
    (event,) = audit(app, "round.rescheduled")
    assert set(event.data) == {"decided"}


@pytest.mark.parametrize(
    "changes",
    [
        {"end_preselection": local(ENDS[Phase.CLUSTERING])},
        {"end_draft": local(NOW - timedelta(hours=1))},
        {"end_decided": ""},
        {"end_decided": "0001-01-01T00:00"},
        {"end_final_vote": "kerst"},
    ],
    ids=lambda c: "-".join(f"{k}={v[:10]}" for k, v in c.items()),
)
def test_invalid_schedule_shows_errors_and_writes_nothing(app, client, organiser, changes):
    slug = make_round(app)
    before = state(app, slug)
    response = client.post(f"/beheer/rondes/{slug}/planning",
                           data={**schedule_data(ENDS), **changes})
    assert response.status_code == 200 and shows_form_errors(response)
    assert state(app, slug) == before and audit(app, "round.rescheduled") == []


def test_schedule_form_keeps_seconds_it_does_not_show(app, client, organiser):
    """A schedule made elsewhere (the demo, the CLI) may hold seconds; the form shows minutes.
    Saving the form unchanged must not move an overdue phase "into the past" or log changes."""
    start = NOW + timedelta(seconds=37)
    rounds.precondition(Phase.CLUSTERING)(lambda rnd, now: "Nog niet alles geclusterd.")
    slug = make_round(app, start=start, phase=Phase.SUBMISSION, now=start)
    ends = rounds.default_schedule(start)
    freeze(app, ends[Phase.SUBMISSION] + timedelta(days=1))  # submission is overdue
    assert client.get(f"/beheer/rondes/{slug}").status_code == 200
    assert load(app, slug).phase == Phase.SUBMISSION.value

    response = client.post(f"/beheer/rondes/{slug}/planning", data=schedule_data(ends))
    assert response.status_code == 302
    assert audit(app, "round.rescheduled") == []
    later = ends[Phase.DEVELOPMENT].replace(second=0) + timedelta(days=7)
    response = client.post(f"/beheer/rondes/{slug}/planning",
                           data=schedule_data(ends, development=later))
    assert response.status_code == 302
    (event,) = audit(app, "round.rescheduled")
    assert set(event.data) == {"development"}
    assert load(app, slug).window(Phase.SUBMISSION).ends_at == ends[Phase.SUBMISSION]


# --- editing a round ---------------------------------------------------------------------------


def edit_data(**overrides) -> dict[str, str]:
    data = {
        "title": TITLE, "theme": "Een thema", "description": "",
        "max_finalists": "3", "max_winners": "1", "jury_weight": "50",
        "vote_weighting": "equal", "diversity_threshold": "33,33",
        "is_own_finalist_vote_allowed": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_edit_rules_of_a_draft(app, client, organiser):
    slug = make_round(app)
    assert client.get(f"/beheer/rondes/{slug}/bewerken").status_code == 200
    response = client.post(f"/beheer/rondes/{slug}/bewerken",
                           data=edit_data(title="Slimmere meldingen", max_finalists="5"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/beheer/rondes/{slug}")
    rnd = load(app, slug)
    assert rnd.title == "Slimmere meldingen" and rnd.max_finalists == 5
    (event,) = audit(app, "round.updated")
    assert event.data == {"title": [TITLE, "Slimmere meldingen"], "max_finalists": [3, 5]}


def test_edit_texts_after_submission_opened(app, client, organiser):
    slug = make_round(app, phase=Phase.SUBMISSION)
    page = client.get(f"/beheer/rondes/{slug}/bewerken")
    assert page.status_code == 200 and 'id="rules-locked"' in page.get_data(as_text=True)
    response = client.post(f"/beheer/rondes/{slug}/bewerken",
                           data=edit_data(theme="Een scherper thema"))
    assert response.status_code == 302
    assert load(app, slug).theme == "Een scherper thema"


@pytest.mark.parametrize("changes", [{"max_finalists": "4"}, {"jury_weight": "0.9"},
                                     {"is_own_finalist_vote_allowed": None},
                                     {"are_ballots_anonymous": "y"}],
                         ids=lambda c: next(iter(c)))
def test_rules_cannot_change_after_submission_opened(app, client, organiser, changes):
    slug = make_round(app, phase=Phase.SUBMISSION)
    before = state(app, slug)
    response = client.post(f"/beheer/rondes/{slug}/bewerken",
                           data=edit_data(title="Andere titel", **changes))
    assert response.status_code == 200 and shows_form_errors(response)
    assert state(app, slug) == before and audit(app, "round.updated") == []


@pytest.mark.parametrize("changes", [{"title": "Kort"}, {"jury_weight": "nan"},
                                     {"max_winners": "7"}, {"theme": ""}],
                         ids=lambda c: next(iter(c)))
def test_invalid_edit_shows_errors(app, client, organiser, changes):
    slug = make_round(app)
    before = state(app, slug)
    response = client.post(f"/beheer/rondes/{slug}/bewerken", data=edit_data(**changes))
    assert response.status_code == 200 and shows_form_errors(response)
    assert state(app, slug) == before


# --- public pages ------------------------------------------------------------------------------


def test_draft_round_is_hidden_from_the_public(app, client, people, auth):
    slug = make_round(app)
    freeze(app, NOW)
    assert client.get(f"/rondes/{slug}").status_code == 404
    for role in ("member", "jury", "delegate"):
        auth.login(people[role])
        assert client.get(f"/rondes/{slug}").status_code == 404
        assert TITLE not in client.get("/").get_data(as_text=True)
        auth.logout()
    auth.login(people["organiser"])
    assert client.get(f"/rondes/{slug}").status_code == 200
    assert TITLE in client.get("/").get_data(as_text=True)


def test_public_round_page_and_home(app, client, people):
    running = make_round(app, phase=Phase.SUBMISSION)
    done = make_round(app, title="Afgeronde ronde 2026", phase=Phase.ADOPTION)
    hidden = make_round(app, title="Geheime conceptronde", start=NOW + timedelta(days=90))
    freeze(app, ENDS[Phase.SUBMISSION] - MINUTE)

    page = client.get(f"/rondes/{running}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert TITLE in html and "Een thema" in html
    assert client.get(f"/rondes/{done}").status_code == 200
    assert client.get(f"/rondes/{hidden}").status_code == 404
    assert client.get("/rondes/bestaat-niet").status_code == 404

    home = client.get("/").get_data(as_text=True)
    assert TITLE in home and "Afgeronde ronde 2026" in home
    assert "Geheime conceptronde" not in home
    assert f"/rondes/{running}" in home and f"/rondes/{done}" in home


def test_the_clock_runs_when_pages_are_viewed(app, client, people):
    slug = make_round(app)
    other = make_round(app, title="Tweede ronde 2027", start=NOW + timedelta(days=10))
    # Nobody looks until after submission opened: the first visitor sees it open.
    freeze(app, ENDS[Phase.DRAFT])
    assert client.get(f"/rondes/{slug}").status_code == 200
    rnd = load(app, slug)
    assert rnd.phase == Phase.SUBMISSION.value
    assert rnd.window(Phase.DRAFT).left_at == ENDS[Phase.DRAFT]
    (event,) = audit(app, "round.phase_closed")
    assert event.actor_id is None and event.data["early"] is False
    # The home page moves every round.
    assert load(app, other).phase == Phase.DRAFT.value
    freeze(app, ENDS[Phase.SUBMISSION] + MINUTE)
    assert client.get("/").status_code == 200
    assert load(app, other).phase == Phase.SUBMISSION.value  # only as far as allowed
    assert load(app, slug).phase == Phase.CLUSTERING.value
    # Viewing again does nothing more.
    assert client.get("/").status_code == 200
    assert client.get(f"/rondes/{slug}").status_code == 200
    assert len(audit(app, "round.phase_closed")) == 3


def test_end_work_runs_once_over_http(app, client, organiser):
    calls = []
    rounds.on_phase_end(Phase.DRAFT)(lambda rnd, now, actor: calls.append((now, actor)))
    slug = make_round(app)
    freeze(app, NOW + timedelta(hours=2))
    client.post(f"/beheer/rondes/{slug}/fase/draft/sluiten", data={})
    client.post(f"/beheer/rondes/{slug}/fase/draft/sluiten", data={})  # a double click
    for moment in (ENDS[Phase.DRAFT], ENDS[Phase.DRAFT] + timedelta(days=1)):
        freeze(app, moment)
        assert client.get("/").status_code == 200
        assert client.get(f"/rondes/{slug}").status_code == 200
        assert client.get(f"/beheer/rondes/{slug}").status_code == 200
    assert len(calls) == 1 and calls[0][0] == NOW + timedelta(hours=2)
    assert load(app, slug).phase == Phase.SUBMISSION.value


def test_failing_end_work_does_not_break_pages(app, client, people):
    """End-of-phase work that fails rolls its transition back; the pages keep working."""
    def broken(rnd, now, actor):
        raise RuntimeError("boom")

    rounds.on_phase_end(Phase.SUBMISSION)(broken)
    slug = make_round(app, phase=Phase.SUBMISSION)
    before = state(app, slug)
    freeze(app, ENDS[Phase.SUBMISSION] + MINUTE)
    assert client.get(f"/rondes/{slug}").status_code == 200
    assert client.get("/").status_code == 200
    assert state(app, slug) == before
    rounds._end_hooks[Phase.SUBMISSION].remove(broken)
    assert client.get(f"/rondes/{slug}").status_code == 200
    assert load(app, slug).phase == Phase.CLUSTERING.value


# --- who may use the organiser pages -----------------------------------------------------------

ADMIN_ROUTES = [
    ("get", "/beheer/rondes/nieuw"),
    ("post", "/beheer/rondes/nieuw"),
    ("get", "/beheer/rondes/{slug}"),
    ("get", "/beheer/rondes/{slug}/bewerken"),
    ("post", "/beheer/rondes/{slug}/bewerken"),
    ("get", "/beheer/rondes/{slug}/planning"),
    ("post", "/beheer/rondes/{slug}/planning"),
    ("post", "/beheer/rondes/{slug}/fase/draft/sluiten"),
    ("post", "/beheer/rondes/{slug}/fase/verlengen"),
]


def _payload(path: str, slug: str) -> dict[str, str]:
    if path.endswith("/nieuw"):
        return form_data()
    if path.endswith("/bewerken"):
        return edit_data(title="Overgenomen titel", max_finalists="9")
    if path.endswith("/planning"):
        return schedule_data(ENDS, decided=ENDS[Phase.DECIDED] + timedelta(days=5))
    if path.endswith("/verlengen"):
        return {"new_end": local(NOW + timedelta(days=9)), "phase": "draft"}
    return {"reason": "Overgenomen"}


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES, ids=lambda x: x)
@pytest.mark.parametrize("role", [None, "member", "jury", "delegate", "other_member"])
def test_admin_round_pages_are_for_organisers_only(app, client, people, auth, method, path,
                                                   role):
    slug = make_round(app)
    freeze(app, NOW + timedelta(hours=1))
    if role:
        assert auth.login(people[role]).status_code == 302
    before, rounds_before = state(app, slug), count_rounds(app)
    url = path.format(slug=slug)
    response = getattr(client, method)(url, data=_payload(url, slug) if method == "post" else None)
    if role is None:
        assert response.status_code == 302
        assert "/inloggen" in response.headers["Location"]
    else:
        assert response.status_code == 403
    assert state(app, slug) == before and count_rounds(app) == rounds_before
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action.startswith("round."), AuditEvent.action != "round.created")) == 0


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES, ids=lambda x: x)
def test_admin_round_pages_work_for_organisers(app, client, organiser, method, path):
    slug = make_round(app)
    url = path.format(slug=slug)
    response = getattr(client, method)(url, data=_payload(url, slug) if method == "post" else None)
    assert response.status_code == (200 if method == "get" else 302)


def test_percentages_accept_a_decimal_comma(app, client, organiser):
    response = client.post("/beheer/rondes/nieuw",
                           data=form_data(jury_weight="37,5", diversity_threshold="40,0"))
    assert response.status_code == 302
    with app.app_context():
        rnd = db.session.scalar(select(Round))
        assert rnd.jury_weight == 0.375 and rnd.diversity_threshold == 0.4


def test_default_diversity_threshold_is_exactly_one_third(app, client, organiser):
    assert client.post("/beheer/rondes/nieuw", data=form_data()).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Round)).diversity_threshold == 1 / 3
