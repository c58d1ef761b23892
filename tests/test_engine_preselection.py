"""The preselection engine (competition.engine.preselection): pure functions, no app, no
database."""

import hashlib
import math
import random
from types import SimpleNamespace

import pytest

from competition.engine.preselection import (
    FLAG_NO_COMBINED,
    FLAG_NO_JURY,
    FLAG_NO_VOTERS,
    Approval,
    Conflict,
    Criterion,
    Juror,
    Override,
    Proposal,
    Recusal,
    Rules,
    Score,
    apply_overrides,
    compute_preselection,
    draw_key,
)

SEED = "2025-ronde-1"
CRIT = [Criterion("impact")]


def run(proposals, *, criteria=CRIT, jurors=(), scores=(), approvals=(), voters=(),
        conflicts=(), seed=SEED, w=0.5, n=3):
    return compute_preselection(
        proposals, criteria, jurors, scores, approvals, voters,
        Rules(seed=seed, jury_weight=w, max_finalists=n), conflicts,
    )


def card(juror, proposal, **values):
    return [Score(juror, proposal, crit, value) for crit, value in values.items()]


def order(result, cluster_id=1):
    return [p.proposal_id for p in result.cluster(cluster_id).proposals]


def independent_draw(seed, cluster_id, ids):
    return sorted(ids, key=lambda pid: hashlib.sha256(
        (str(seed) + ":" + str(cluster_id) + ":" + str(pid)).encode("utf-8")).hexdigest())


# --- jury score ------------------------------------------------------------------------------


def test_jury_score_is_weighted_mean_of_normalised_criterion_means():
    criteria = [Criterion("impact", weight=2), Criterion("cost", weight=1)]
    jurors = [Juror("j1"), Juror("j2")]
    scores = card("j1", 1, impact=5, cost=1) + card("j2", 1, impact=4, cost=2)
    res = run([Proposal(1, 1, "A")], criteria=criteria, jurors=jurors, scores=scores, w=1)
    p = res.proposal(1)
    crit = {c.criterion_id: c for c in p.criteria}
    assert crit["impact"].mean == 4.5 and crit["impact"].normalised == pytest.approx(3.5 / 4)
    assert crit["cost"].mean == 1.5 and crit["cost"].normalised == pytest.approx(0.5 / 4)
    assert p.jury_score == pytest.approx((2 * 3.5 / 4 + 1 * 0.5 / 4) / 3)
    assert p.combined == pytest.approx(p.jury_score)
    assert p.jury_count == 2
    assert [c.criterion_id for c in p.criteria] == ["cost", "impact"]  # by id
    assert [(s.juror_id, s.scores) for s in p.scorecards] == [
        ("j1", (("cost", 1), ("impact", 5))), ("j2", (("cost", 2), ("impact", 4)))]


def test_normalisation_across_scales():
    criteria = [Criterion("a", scale_min=1, scale_max=5), Criterion("b", scale_min=0,
                                                                    scale_max=10)]
    scores = card("j", 1, a=3, b=5) + card("j", 2, a=5, b=0) + card("j", 3, a=1, b=10)
    res = run([Proposal(i, 1, "X") for i in (1, 2, 3)], criteria=criteria, jurors=[Juror("j")],
              scores=scores, w=1)
    assert res.proposal(1).jury_score == pytest.approx(0.5)
    assert [c.normalised for c in res.proposal(1).criteria] == [0.5, 0.5]
    assert res.proposal(2).jury_score == pytest.approx(0.5)
    assert res.proposal(3).jury_score == pytest.approx(0.5)
    assert [c.normalised for c in res.proposal(3).criteria] == [0.0, 1.0]


def test_automatic_recusal_of_owner_and_co_submitter_jurors():
    jurors = [Juror("own", "Utrecht"), Juror("co", "Zeist"), Juror("free", "Ede"),
              Juror("indep", None)]
    proposal = Proposal(1, 1, "Utrecht", frozenset({"Zeist"}))
    scores = (card("own", 1, impact=5) + card("co", 1, impact=5) + card("free", 1, impact=1)
              + card("indep", 1, impact=2))
    p = run([proposal], jurors=jurors, scores=scores, w=1).proposal(1)
    assert p.recusals == (Recusal("co", "automatic"), Recusal("own", "automatic"))
    assert [s.juror_id for s in p.scorecards] == ["free", "indep"]
    assert p.criteria[0].mean == 1.5
    assert p.jury_score == pytest.approx(0.5 / 4)


def test_declared_conflict_recuses_and_keeps_the_text():
    jurors = [Juror("a", "Ede"), Juror("b", "Utrecht"), Juror("c")]
    conflicts = [Conflict("a", 1, "Mijn zus werkt bij de leverancier"),
                 Conflict("b", 1, "Ook eigen gemeente"), Conflict("c", 2)]
    scores = card("a", 1, impact=5) + card("b", 1, impact=5) + card("c", 1, impact=3)
    scores += card("a", 2, impact=5) + card("c", 2, impact=1)
    res = run([Proposal(1, 1, "Utrecht"), Proposal(2, 1, "Zeist")], jurors=jurors,
              scores=scores, conflicts=conflicts, w=1)
    p1, p2 = res.proposal(1), res.proposal(2)
    assert p1.recusals == (Recusal("a", "declared", "Mijn zus werkt bij de leverancier"),
                           Recusal("b", "automatic", "Ook eigen gemeente"))
    assert p1.criteria[0].mean == 3 and p1.jury_count == 1
    assert p2.recusals == (Recusal("c", "declared", ""),)
    assert p2.criteria[0].mean == 5


def test_incomplete_scorecards_do_not_count():
    criteria = [Criterion("a"), Criterion("b")]
    scores = card("j1", 1, a=5, b=5) + card("j2", 1, a=1)
    p = run([Proposal(1, 1, "X")], criteria=criteria, jurors=[Juror("j1"), Juror("j2")],
            scores=scores, w=1).proposal(1)
    assert p.incomplete_juror_ids == ("j2",)
    assert [s.juror_id for s in p.scorecards] == ["j1"]
    assert p.jury_score == 1.0


def test_no_jury_scores_uses_peer_only_and_is_flagged():
    res = run([Proposal(1, 1, "A"), Proposal(2, 1, "B")], jurors=[Juror("j")],
              scores=card("j", 2, impact=5), approvals=[Approval("C", 1)],
              voters=["A", "B", "C", "D"])
    p1, p2 = res.proposal(1), res.proposal(2)
    assert p1.jury_score is None and p1.flags == (FLAG_NO_JURY,)
    assert [c.mean for c in p1.criteria] == [None]
    assert p1.peer_score == pytest.approx(1 / 3)
    assert p1.combined == pytest.approx(1 / 3)  # only the available component
    assert p2.combined == pytest.approx(0.5 * 1 + 0.5 * 0)
    assert order(res) == [2, 1]


def test_no_jury_scores_with_jury_only_rules_has_no_combined_score():
    res = run([Proposal(1, 1, "A"), Proposal(2, 1, "B"), Proposal(3, 1, "C")],
              jurors=[Juror("j")], scores=card("j", 2, impact=1), w=1, n=2,
              approvals=[Approval("B", 1)], voters=["A", "B", "C"])
    p1 = res.proposal(1)
    assert p1.combined is None
    assert p1.flags == (FLAG_NO_JURY, FLAG_NO_COMBINED)
    assert res.proposal(3).combined is None
    # A proposal with a (zero) score ranks above those without; then approvals decide.
    assert order(res) == [2, 1, 3]
    assert [p.decided_by for p in res.cluster(1).proposals] == ["combined", "approvals", None]
    assert res.cluster(1).finalist_ids == (2, 1)


def test_no_data_at_all_still_ranks_by_draw():
    res = run([Proposal(i, 7, "A") for i in (1, 2, 3, 4)], n=2)
    assert order(res, 7) == independent_draw(SEED, 7, [1, 2, 3, 4])
    assert all(p.flags == (FLAG_NO_JURY, FLAG_NO_VOTERS, FLAG_NO_COMBINED)
               for p in res.cluster(7).proposals)


# --- peer score --------------------------------------------------------------------------------


def test_peer_eligibility_excludes_owner_and_co_submitters():
    voters = ["A", "B", "C", "D", "E", "F"]
    proposal = Proposal(1, 1, "A", frozenset({"B"}))
    approvals = [Approval(m, 1) for m in ("A", "B", "C", "D", "D", "X")]  # own, co, dup, outsider
    p = run([proposal], approvals=approvals, voters=voters, w=0).proposal(1)
    assert p.eligible == 4  # C, D, E, F
    assert p.approvals == 2  # C and D, once each
    assert p.peer_score == 0.5
    assert p.combined == 0.5
    assert p.flags == ()


def test_owner_outside_voters_and_pending_co_submitters():
    # The caller leaves out co-submissions that were not accepted, so "C" may vote.
    p = run([Proposal(1, 1, "Z")], approvals=[Approval("C", 1)], voters=["B", "C"],
            w=0).proposal(1)
    assert (p.eligible, p.approvals, p.peer_score) == (2, 1, 0.5)


def test_no_eligible_voters_uses_jury_only_and_is_flagged():
    proposal = Proposal(1, 1, "A", frozenset({"B"}))
    p = run([proposal], jurors=[Juror("j")], scores=card("j", 1, impact=4),
            approvals=[Approval("A", 1)], voters=["A", "B"]).proposal(1)
    assert p.eligible == 0 and p.approvals == 0 and p.peer_score is None
    assert p.flags == (FLAG_NO_VOTERS,)
    assert p.combined == pytest.approx(0.75)


def test_no_eligible_voters_with_peer_only_rules():
    p = run([Proposal(1, 1, "A")], jurors=[Juror("j")], scores=card("j", 1, impact=4),
            voters=["A"], w=0).proposal(1)
    assert p.combined is None and p.flags == (FLAG_NO_VOTERS, FLAG_NO_COMBINED)


# --- combined score ----------------------------------------------------------------------------


@pytest.mark.parametrize(("w", "expected", "first"), [
    (0.0, {1: 0.25, 2: 0.75}, 2),
    (0.5, {1: 0.625, 2: 0.375}, 1),
    (1.0, {1: 1.0, 2: 0.0}, 1),
])
def test_jury_weight(w, expected, first):
    voters = ["A", "B", "C", "D", "E"]
    approvals = [Approval("C", 1)] + [Approval(m, 2) for m in ("C", "D", "E")]
    scores = card("j", 1, impact=5) + card("j", 2, impact=1)
    res = run([Proposal(1, 1, "A"), Proposal(2, 1, "B")], jurors=[Juror("j")], scores=scores,
              approvals=approvals, voters=voters, w=w)
    assert res.proposal(1).peer_score == 0.25 and res.proposal(2).peer_score == 0.75
    for pid, value in expected.items():
        assert res.proposal(pid).combined == pytest.approx(value)
        assert res.proposal(pid).flags == ()
    assert order(res)[0] == first
    assert res.cluster(1).proposals[0].decided_by == "combined"


# --- ranking and tie-breaks -------------------------------------------------------------------


def test_ranking_by_combined_top_n_are_finalists():
    scores = [s for i, v in enumerate([2, 5, 3, 4, 1], start=1) for s in card("j", i, impact=v)]
    res = run([Proposal(i, 1, "A") for i in range(1, 6)], jurors=[Juror("j")], scores=scores,
              w=1, n=3)
    c = res.cluster(1)
    assert order(res) == [2, 4, 3, 1, 5]
    assert [p.rank for p in c.proposals] == [1, 2, 3, 4, 5]
    assert [p.is_finalist for p in c.proposals] == [True, True, True, False, False]
    assert [p.decided_by for p in c.proposals] == ["combined"] * 4 + [None]
    assert c.finalist_ids == (2, 4, 3)
    assert c.cutoff_decided_by == "combined"
    assert not c.all_through
    assert not any(p.is_tied_with_next for p in c.proposals)


def test_tie_on_combined_broken_by_jury():
    # 1: jury 1, peer 0; 2: jury 0, peer 1 -> both 0.5 combined.
    scores = card("j", 1, impact=5) + card("j", 2, impact=1)
    res = run([Proposal(1, 1, "A"), Proposal(2, 1, "B")], jurors=[Juror("j")], scores=scores,
              approvals=[Approval("A", 2)], voters=["A", "B"], seed="x")
    assert res.proposal(1).combined == res.proposal(2).combined == 0.5
    assert order(res) == [1, 2]
    assert res.proposal(1).decided_by == "jury"
    assert res.proposal(1).is_tied_with_next


def test_tie_on_combined_uses_a_tolerance():
    # 0.1 * 1 + 0.9 * 0 = 0.1 and 0.1 * 0 + 0.9 * (1/9) = 0.09999999999999999: equal.
    voters = [f"m{i}" for i in range(10)]
    scores = card("j", 1, impact=5) + card("j", 2, impact=1)
    res = run([Proposal(1, 1, "m0"), Proposal(2, 1, "m1")], jurors=[Juror("j")],
              scores=scores, approvals=[Approval("m2", 2)], voters=voters, w=0.1)
    c1, c2 = res.proposal(1).combined, res.proposal(2).combined
    assert c1 != c2 and abs(c1 - c2) < 1e-9
    assert order(res) == [1, 2]
    assert res.proposal(1).decided_by == "jury"


def test_tie_on_combined_and_jury_broken_by_approvals():
    # Same jury score; 1 approval of 2 eligible vs 2 of 4: same peer score, more approvals wins.
    voters = ["A", "B", "C", "D", "E"]
    proposals = [Proposal(1, 1, "A", frozenset({"B", "C"})), Proposal(2, 1, "E")]
    scores = card("j", 1, impact=3) + card("j", 2, impact=3)
    approvals = [Approval("D", 1), Approval("A", 2), Approval("B", 2)]
    res = run(proposals, jurors=[Juror("j")], scores=scores, approvals=approvals, voters=voters)
    p1, p2 = res.proposal(1), res.proposal(2)
    assert (p1.eligible, p1.approvals, p2.eligible, p2.approvals) == (2, 1, 4, 2)
    assert p1.combined == p2.combined and p1.jury_score == p2.jury_score
    assert order(res) == [2, 1]
    assert p2.decided_by == "approvals"


def test_full_tie_broken_by_published_seeded_draw():
    proposals = [Proposal(pid, 4, "A") for pid in (11, 12, 13, 14, 15, 16)]
    scores = [s for p in proposals for s in card("j", p.id, impact=4)]
    first = run(proposals, jurors=[Juror("j")], scores=scores, seed="alpha", n=2)
    assert order(first, 4) == independent_draw("alpha", 4, [11, 12, 13, 14, 15, 16])
    assert [p.decided_by for p in first.cluster(4).proposals] == ["draw"] * 5 + [None]
    assert first.cluster(4).cutoff_decided_by == "draw"
    for p in first.cluster(4).proposals:
        assert p.draw_key == draw_key("alpha", 4, p.proposal_id)
        assert p.draw_key == hashlib.sha256(f"alpha:4:{p.proposal_id}".encode()).hexdigest()
    # Same seed, same order (also when computed again from scratch).
    again = run(list(reversed(proposals)), jurors=[Juror("j")], scores=scores, seed="alpha",
                n=2)
    assert order(again, 4) == order(first, 4)
    # Another seed can change the order.
    orders = {tuple(order(run(proposals, jurors=[Juror("j")], scores=scores, seed=s, n=2), 4))
              for s in ("beta", "gamma", "delta")}
    assert orders - {tuple(order(first, 4))}


def test_draw_only_among_tied_proposals():
    # 1 wins outright; 2, 3, 4 tie; 5 last.
    values = {1: 5, 2: 3, 3: 3, 4: 3, 5: 1}
    scores = [s for pid, v in values.items() for s in card("j", pid, impact=v)]
    res = run([Proposal(pid, 9, "A") for pid in values], jurors=[Juror("j")], scores=scores,
              w=1, seed="s")
    assert order(res, 9) == [1, *independent_draw("s", 9, [2, 3, 4]), 5]
    assert [p.decided_by for p in res.cluster(9).proposals] == [
        "combined", "draw", "draw", "combined", None]


def test_string_ids_in_draw_key():
    assert draw_key("s", "c-1", "p-9") == hashlib.sha256(b"s:c-1:p-9").hexdigest()


# --- clusters -----------------------------------------------------------------------------------


def test_small_cluster_gets_full_scores_and_all_go_through():
    scores = card("j", 1, impact=2) + card("j", 2, impact=4)
    res = run([Proposal(1, 1, "A"), Proposal(2, 1, "B")], jurors=[Juror("j")], scores=scores,
              approvals=[Approval("B", 1)], voters=["A", "B"], n=3)
    c = res.cluster(1)
    assert c.all_through and c.cutoff_decided_by is None
    assert [(p.proposal_id, p.rank, p.is_finalist) for p in c.proposals] == [
        (1, 1, True), (2, 2, True)]
    assert res.proposal(1).combined == pytest.approx(0.5 * 0.25 + 0.5 * 1)
    assert res.proposal(2).combined == pytest.approx(0.5 * 0.75)


def test_exactly_n_proposals_all_go_through():
    res = run([Proposal(i, 1, "A") for i in range(3)], n=3)
    assert res.cluster(1).all_through
    assert len(res.cluster(1).finalist_ids) == 3


def test_clusters_are_ranked_separately_and_sorted_by_id():
    values = {1: 5, 2: 4, 3: 3, 4: 1, 5: 2}
    clusters = {1: "b", 2: "b", 3: "a", 4: "a", 5: "b"}
    scores = [s for pid, v in values.items() for s in card("j", pid, impact=v)]
    res = run([Proposal(pid, clusters[pid], "M") for pid in values], jurors=[Juror("j")],
              scores=scores, w=1, n=1)
    assert [c.cluster_id for c in res.clusters] == ["a", "b"]
    assert order(res, "a") == [3, 4] and order(res, "b") == [1, 2, 5]
    assert res.finalist_ids == {3, 1}


def test_empty_input():
    res = run([])
    assert res.clusters == () and res.finalist_ids == frozenset()
    with pytest.raises(KeyError):
        res.cluster(1)


# --- overrides -------------------------------------------------------------------------------


def _ranked():
    scores = [s for pid, v in {1: 5, 2: 4, 3: 3, 4: 2}.items() for s in card("j", pid, impact=v)]
    return run([Proposal(pid, 1, "A") for pid in (1, 2, 3, 4)], jurors=[Juror("j")],
               scores=scores, w=1, n=2)


def test_overrides_with_reason_are_applied_and_marked():
    res = _ranked()
    assert res.finalist_ids == {1, 2}
    add = Override(4, True, "Enige voorstel dat open standaarden gebruikt")
    drop = Override(2, False, "Teruggetrokken door de indiener")
    keep = Override(1, True, "Bevestigd")
    final = apply_overrides(res, [add, drop, keep])
    assert final.finalist_ids == {1, 4}
    assert final.finalists_in(1) == (1, 4)
    by_id = {d.proposal_id: d for d in final.decisions}
    assert by_id[4].override == add and by_id[4].is_changed and not by_id[4].computed_finalist
    assert by_id[2].override == drop and by_id[2].is_changed and not by_id[2].is_finalist
    assert by_id[1].override == keep and not by_id[1].is_changed
    assert by_id[3].override is None and not by_id[3].is_finalist
    assert [d.proposal_id for d in final.overridden] == [1, 2, 4]
    assert [d.rank for d in final.decisions] == [1, 2, 3, 4]
    # The computed result itself is untouched.
    assert res.finalist_ids == {1, 2}


def test_no_overrides_keeps_the_computed_finalists():
    res = _ranked()
    assert apply_overrides(res, []).finalist_ids == res.finalist_ids


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_override_without_reason_is_refused(reason):
    with pytest.raises(ValueError, match="proposal 3: a reason is required"):
        Override(3, True, reason)
    sneaky = SimpleNamespace(proposal_id=3, make_finalist=True, reason=reason)
    with pytest.raises(ValueError, match="proposal 3: a reason is required"):
        apply_overrides(_ranked(), [sneaky])


def test_override_of_unknown_or_twice_overridden_proposal_is_refused():
    with pytest.raises(ValueError, match="unknown proposal 99"):
        apply_overrides(_ranked(), [Override(99, True, "x")])
    with pytest.raises(ValueError, match="more than one override of proposal 3"):
        apply_overrides(_ranked(), [Override(3, True, "x"), Override(3, False, "y")])


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"scores": [Score("j", 1, "impact", 6)]}, r"juror 'j' on proposal 1, criterion 'impact'.*"
                                               r"outside the scale 1–5"),
    ({"scores": [Score("j", 1, "impact", 0)]}, "outside the scale"),
    ({"scores": [Score("j", 1, "impact", math.nan)]}, "outside the scale"),
    ({"scores": [Score("j", 1, "impact", "4")]}, "outside the scale"),
    ({"scores": [Score("j", 1, "beauty", 3)]}, "unknown criterion 'beauty'"),
    ({"scores": [Score("nobody", 1, "impact", 3)]}, "unknown juror 'nobody'"),
    ({"scores": [Score("j", 42, "impact", 3)]}, "unknown proposal 42"),
    ({"scores": [Score("j", 1, "impact", 3), Score("j", 1, "impact", 4)]}, "scored twice"),
    ({"conflicts": [Conflict("nobody", 1)]}, "unknown juror 'nobody'"),
    ({"conflicts": [Conflict("j", 42)]}, "unknown proposal 42"),
    ({"approvals": [Approval("A", 42)]}, "unknown proposal 42"),
    ({"criteria": [Criterion("a"), Criterion("a")]}, "duplicate criterion id 'a'"),
    ({"jurors": [Juror("j"), Juror("j")]}, "duplicate juror id 'j'"),
    ({"proposals": [Proposal(1, 1, "A"), Proposal(1, 2, "B")]}, "duplicate proposal id 1"),
    ({"criteria": []}, "at least one criterion"),
])
def test_invalid_input(kwargs, message):
    args = {"proposals": [Proposal(1, 1, "A")], "jurors": [Juror("j")]} | kwargs
    with pytest.raises(ValueError, match=message):
        run(**args)


def test_scores_of_a_recused_juror_are_validated_too():
    with pytest.raises(ValueError, match="outside the scale"):
        run([Proposal(1, 1, "A")], jurors=[Juror("j", "A")], scores=[Score("j", 1, "impact", 9)])


def test_no_criteria_is_fine_for_peer_only_rounds():
    p = run([Proposal(1, 1, "A")], criteria=[], approvals=[Approval("B", 1)], voters=["B"],
            w=0).proposal(1)
    assert p.criteria == () and p.jury_score is None and p.combined == 1.0


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Criterion("impact", weight=0), "criterion 'impact': the weight must be a number > 0"),
    (lambda: Criterion("impact", weight=-1), "criterion 'impact': the weight"),
    (lambda: Criterion("impact", weight=math.inf), "criterion 'impact': the weight"),
    (lambda: Criterion("cost", scale_min=5, scale_max=5), "criterion 'cost': scale_min"),
    (lambda: Criterion("cost", scale_min=10, scale_max=1), "criterion 'cost': scale_min"),
    (lambda: Criterion("cost", scale_max=math.nan), "criterion 'cost': the scale bounds"),
    (lambda: Rules("s", jury_weight=-0.1), "jury_weight must lie in"),
    (lambda: Rules("s", jury_weight=1.5), "jury_weight must lie in"),
    (lambda: Rules("s", jury_weight=math.nan), "jury_weight must lie in"),
    (lambda: Rules("s", max_finalists=0), "max_finalists must be an integer ≥ 1"),
    (lambda: Rules("s", max_finalists=-2), "max_finalists"),
    (lambda: Rules("s", max_finalists=2.5), "max_finalists"),
    (lambda: Rules(None), "seed must be a string"),
])
def test_invalid_rules_and_criteria(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_boundary_values_are_valid():
    assert Rules("s", jury_weight=0, max_finalists=1).jury_weight == 0
    assert Rules("s", jury_weight=1).jury_weight == 1
    p = run([Proposal(1, 1, "A")], criteria=[Criterion("c", weight=0.001, scale_min=0,
                                                       scale_max=1)],
            jurors=[Juror("j")], scores=[Score("j", 1, "c", 1.0)], w=1).proposal(1)
    assert p.jury_score == 1.0


# --- properties ----------------------------------------------------------------------------------


def _random_instance(rng: random.Random):
    municipalities = [f"m{i}" for i in range(rng.randint(1, 8))]
    criteria = [Criterion(f"c{i}", weight=rng.choice([0.5, 1, 2, 3]),
                          scale_min=lo, scale_max=lo + rng.choice([2, 4, 9]))
                for i, lo in enumerate(rng.choice([0, 1]) for _ in range(rng.randint(1, 3)))]
    jurors = [Juror(f"j{i}", rng.choice([None, *municipalities])) for i in range(rng.randint(0, 5))]
    proposals = [Proposal(pid, rng.randint(1, 3), rng.choice(municipalities),
                          frozenset(rng.sample(municipalities, rng.randint(0, 2)
                                               if len(municipalities) > 2 else 0)))
                 for pid in rng.sample(range(1, 100), rng.randint(1, 12))]
    scores = []
    for p in proposals:
        for j in jurors:
            if rng.random() < 0.7:
                for c in criteria:
                    if rng.random() < 0.95:
                        # few distinct values, so that ties are common
                        scores.append(Score(j.id, p.id, c.id,
                                            rng.choice([c.scale_min, c.scale_max])))
    conflicts = [Conflict(j.id, p.id, rng.choice(["", "familie"]))
                 for p in proposals for j in jurors if rng.random() < 0.1]
    approvals = [Approval(m, p.id) for p in proposals for m in municipalities
                 if rng.random() < 0.4]
    voters = [m for m in municipalities if rng.random() < 0.9]
    rules = Rules(seed=str(rng.random()), jury_weight=rng.choice([0, 0.25, 0.5, 1]),
                  max_finalists=rng.randint(1, 4))
    return proposals, criteria, jurors, scores, approvals, voters, rules, conflicts


def _shuffled(rng: random.Random, instance):
    *lists, rules, conflicts = instance
    out = []
    for items in [*lists, conflicts]:
        items = list(items)
        rng.shuffle(items)
        out.append(items)
    *lists, conflicts = out
    return (*lists, rules, conflicts)


@pytest.mark.parametrize("seed", range(40))
def test_permuting_the_input_never_changes_the_result(seed):
    rng = random.Random(seed)
    instance = _random_instance(rng)
    expected = compute_preselection(*instance)
    for _ in range(5):
        assert compute_preselection(*_shuffled(rng, instance)) == expected

    # Invariants of the result.
    n = instance[6].max_finalists
    for cluster in expected.clusters:
        ranks = [p.rank for p in cluster.proposals]
        assert ranks == list(range(1, len(ranks) + 1))
        assert len(cluster.finalist_ids) == min(n, len(ranks))
        assert cluster.proposals[-1].decided_by is None
        for a, b in zip(cluster.proposals, cluster.proposals[1:], strict=False):
            assert a.decided_by is not None
            if a.decided_by == "combined":
                assert b.combined is None or a.combined - b.combined >= 1e-9
            else:
                assert (a.combined is None and b.combined is None) or math.isclose(
                    a.combined, b.combined, abs_tol=1e-9)
        for p in cluster.proposals:
            recused = {r.juror_id for r in p.recusals}
            assert recused.isdisjoint(s.juror_id for s in p.scorecards)
            assert 0 <= p.approvals <= p.eligible
            for value in (p.jury_score, p.peer_score, p.combined):
                assert value is None or -1e-12 <= value <= 1 + 1e-12
