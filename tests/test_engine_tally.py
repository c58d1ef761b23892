"""The vote count (competition.engine.tally): pure functions, no app, no database."""

import hashlib
import itertools
import json
import random
from fractions import Fraction

import pytest

from competition.engine.tally import (
    DEFAULT_DIVERSITY_THRESHOLD,
    Ballot,
    BallotFileError,
    Election,
    draw_key,
    draw_order,
    format_result,
    load_ballot_file,
    result_details,
    result_json,
    tally,
    widest_paths,
)

# --- published examples ------------------------------------------------------------------------

# Wikipedia, "Schulze method", example with 45 voters (also Schulze 2011, example 1).
WIKIPEDIA_PROFILE = [(5, "ACBED"), (5, "ADECB"), (8, "BEDAC"), (3, "CABED"), (7, "CAEBD"),
                     (2, "CBADE"), (7, "DCEBA"), (8, "EBADC")]
WIKIPEDIA_D = {  # published d[X, Y]
    "A": {"B": 20, "C": 26, "D": 30, "E": 22},
    "B": {"A": 25, "C": 16, "D": 33, "E": 18},
    "C": {"A": 19, "B": 29, "D": 17, "E": 24},
    "D": {"A": 15, "B": 12, "C": 28, "E": 14},
    "E": {"A": 23, "B": 27, "C": 21, "D": 31},
}
WIKIPEDIA_P_WINNING_VOTES = {  # published p[X, Y] (link strength d[X, Y], winning votes)
    "A": {"B": 28, "C": 28, "D": 30, "E": 24},
    "B": {"A": 25, "C": 28, "D": 33, "E": 24},
    "C": {"A": 25, "B": 29, "D": 29, "E": 24},
    "D": {"A": 25, "B": 28, "C": 28, "E": 24},
    "E": {"A": 25, "B": 28, "C": 28, "D": 31},
}
# The same example with margins as link strength (what the engine uses), worked out by hand from
# the published d: links B→A 5, A→C 7, A→D 15, E→A 1, C→B 13, B→D 21, E→B 9, D→C 11, C→E 3,
# E→D 17; e.g. p[A, B] = min(A→D 15, D→C 11, C→B 13) = 11.
WIKIPEDIA_P_MARGINS = {
    "A": {"B": 11, "C": 11, "D": 15, "E": 3},
    "B": {"A": 5, "C": 11, "D": 21, "E": 3},
    "C": {"A": 5, "B": 13, "D": 13, "E": 3},
    "D": {"A": 5, "B": 11, "C": 11, "E": 3},
    "E": {"A": 5, "B": 11, "C": 11, "D": 17},
}


def wikipedia_election(**kwargs) -> Election:
    ballots = [Ballot(ranking=tuple(order)) for count, order in WIKIPEDIA_PROFILE
               for _ in range(count)]
    return Election(candidates=tuple("ABCDE"), ballots=tuple(ballots), **kwargs)


def test_wikipedia_pairwise_matrix_matches_published_values():
    result = tally(wikipedia_election())
    assert result.pairwise == WIKIPEDIA_D
    assert result.ballot_count == 45
    assert result.total_weight == 45
    assert result.first_preferences == {"A": 10, "B": 8, "C": 12, "D": 7, "E": 8}


def test_wikipedia_strongest_paths_winning_votes_match_published_values():
    names = "ABCDE"
    links = [[WIKIPEDIA_D[x][y] if x != y and WIKIPEDIA_D[x][y] > WIKIPEDIA_D[y][x] else 0
              for y in names] for x in names]
    p = widest_paths(links)
    assert {x: {y: p[i][j] for j, y in enumerate(names) if i != j}
            for i, x in enumerate(names)} == WIKIPEDIA_P_WINNING_VOTES


def test_wikipedia_strongest_paths_with_margins_and_ranking():
    result = tally(wikipedia_election())
    assert result.strongest_paths == WIKIPEDIA_P_MARGINS
    assert result.winners == ["E"]
    assert result.ranking == ["E", "A", "C", "B", "D"]
    assert result.draws == []
    assert result.second_winner is None


def test_wikipedia_order_does_not_depend_on_candidate_order():
    shuffled = wikipedia_election()
    result = tally(Election(candidates=tuple("DBECA"), ballots=shuffled.ballots))
    assert result.ranking == ["E", "A", "C", "B", "D"]
    assert result.pairwise == WIKIPEDIA_D


TENNESSEE = [("memphis", 42, ["memphis", "nashville", "chattanooga", "knoxville"]),
             ("nashville", 26, ["nashville", "chattanooga", "knoxville", "memphis"]),
             ("chattanooga", 15, ["chattanooga", "knoxville", "nashville", "memphis"]),
             ("knoxville", 17, ["knoxville", "chattanooga", "nashville", "memphis"])]


def tennessee_file(**extra) -> str:
    data = {"cluster": "capital", "candidates": ["memphis", "nashville", "chattanooga",
                                                 "knoxville"],
            "max_winners": 1, "seed": "tn", "diversity_threshold": 0.3333,
            "ballots": [{"municipality": city, "receipt": f"r-{city}", "weight": weight,
                         "ranking": ranking} for city, weight, ranking in TENNESSEE]}
    data.update(extra)
    return json.dumps(data)


def test_tennessee_condorcet_winner_is_nashville():
    result = tally(load_ballot_file(tennessee_file()))
    assert result.winners == ["nashville"]
    assert result.ranking == ["nashville", "chattanooga", "knoxville", "memphis"]
    assert result.pairwise["nashville"]["memphis"] == 58
    assert result.pairwise["memphis"]["nashville"] == 42
    assert result.first_preferences["memphis"] == 42
    assert result.total_weight == 100 and result.ballot_count == 4


def test_tennessee_weights_equal_repeated_ballots():
    repeated = Election(candidates=("memphis", "nashville", "chattanooga", "knoxville"),
                        ballots=tuple(Ballot(ranking=tuple(r)) for _, w, r in TENNESSEE
                                      for _ in range(w)))
    weighted = load_ballot_file(tennessee_file())
    a, b = tally(repeated), tally(weighted)
    assert (a.ranking, a.pairwise, a.strongest_paths) == (b.ranking, b.pairwise,
                                                          b.strongest_paths)


# --- partial rankings --------------------------------------------------------------------------


def test_unranked_candidates_count_below_ranked_ones():
    election = Election(candidates=("A", "B", "C"), ballots=(
        Ballot(ranking=("A", "B", "C")), Ballot(ranking=("A", "B", "C")),
        Ballot(ranking=("B",)), Ballot(ranking=("B",)), Ballot(ranking=("B",))))
    result = tally(election)
    # "B" alone means B above A and C; A and C stay equal on those ballots.
    assert result.pairwise["B"] == {"A": 3, "C": 5}
    assert result.pairwise["A"] == {"B": 2, "C": 2}
    assert result.pairwise["C"] == {"A": 0, "B": 0}
    assert result.winners == ["B"]


def test_ranking_all_but_one_equals_the_full_ranking():
    short = tally(Election(candidates=("A", "B", "C"), ballots=(Ballot(ranking=("C", "A")),)))
    full = tally(Election(candidates=("A", "B", "C"), ballots=(Ballot(ranking=("C", "A", "B")),)))
    assert short.pairwise == full.pairwise
    assert short.ranking == full.ranking == ["C", "A", "B"]


def test_blank_ballots_count_in_total_weight_only():
    result = tally(Election(candidates=("A", "B"), ballots=(
        Ballot(ranking=()), Ballot(ranking=("A",), weight=2))))
    assert result.total_weight == 3 and result.ballot_count == 2
    assert result.pairwise == {"A": {"B": 2}, "B": {"A": 0}}
    assert result.first_preferences == {"A": 2, "B": 0}


# --- the two-winner rule -----------------------------------------------------------------------


def two_winner_election(above: list, below: list, blank: tuple = (), threshold=None,
                        max_winners: int = 2) -> Election:
    """W wins over R; `above` are weights of ballots ranking R above W, `below` the others."""
    ballots = [Ballot(ranking=("W", "R", "X"), weight=w) for w in below]
    ballots += [Ballot(ranking=("R", "W"), weight=w) for w in above]
    ballots += [Ballot(ranking=(), weight=w) for w in blank]
    kwargs = {} if threshold is None else {"diversity_threshold": threshold}
    # X is below R on every ballot, so the order is W > R > X as long as sum(below) > sum(above).
    return Election(candidates=("W", "R", "X"), ballots=tuple(ballots), max_winners=max_winners,
                    seed="two", **kwargs)


def test_second_winner_at_exactly_the_default_threshold():
    # Weights 1 + 1 rank W above R, weight 1 ranks R above W: share exactly 1/3.
    result = tally(two_winner_election(above=[1], below=[1, 1]))
    assert result.ranking[:2] == ["W", "R"]
    assert result.second_winner.share == Fraction(1, 3)
    assert result.second_winner.threshold == DEFAULT_DIVERSITY_THRESHOLD
    assert result.second_winner.elected
    assert result.winners == ["W", "R"]


def test_second_winner_just_below_the_default_threshold():
    result = tally(two_winner_election(above=[Fraction(999, 1000)], below=[2]))
    assert result.ranking[:2] == ["W", "R"]
    assert result.second_winner.share < Fraction(1, 3)
    assert not result.second_winner.elected
    assert result.winners == ["W"]


def test_second_winner_with_population_weights_and_explicit_threshold():
    # Weights 3 (a large municipality) and 1.5 + 1.5 against 0.5 + 1.5: share 2 / 8 = 0.25.
    at = tally(two_winner_election(above=[Fraction(1, 2), 1.5], below=[3, 1.5, 1.5],
                                   threshold=0.25))
    assert at.second_winner.share == Fraction(1, 4)
    assert at.winners == ["W", "R"]
    below = tally(two_winner_election(above=[Fraction(1, 2), 1.499], below=[3, 1.5, 1.5],
                                      threshold=0.25))
    assert below.second_winner.share < Fraction(1, 4)
    assert below.winners == ["W"]


def test_second_winner_threshold_written_as_rounded_float():
    # Share exactly 1/3. Thresholds written as rounded decimals below 1/3 pass, and so does one
    # above 1/3 by less than the 1e-9 tolerance (0.3333333334); 0.33333334 does not.
    for threshold in (0.3333333333333333, 0.333333333333333, 0.3333333334):
        assert tally(two_winner_election(above=[1], below=[1, 1],
                                         threshold=threshold)).second_winner.elected
    assert not tally(two_winner_election(above=[1], below=[1, 1],
                                         threshold=0.33333334)).second_winner.elected


def test_second_winner_share_counts_blank_ballots():
    at = tally(two_winner_election(above=[Fraction(3, 2)], below=[2], blank=[1]))
    assert at.second_winner.share == Fraction(1, 3) and at.second_winner.elected
    below = tally(two_winner_election(above=[Fraction(3, 2)], below=[2], blank=[1.01]))
    assert not below.second_winner.elected


def test_no_second_winner_when_round_allows_one():
    result = tally(two_winner_election(above=[1, 1], below=[1, 1, 1], max_winners=1))
    assert result.second_winner is None
    assert result.winners == ["W"]


def test_single_candidate_and_empty_vote():
    alone = tally(Election(candidates=("A",), ballots=(Ballot(ranking=("A",)),), max_winners=2))
    assert alone.winners == ["A"] and alone.second_winner is None
    empty = tally(Election(candidates=("A", "B", "C"), max_winners=2, seed="s"))
    assert empty.ranking == draw_order("s", "ABC")
    assert empty.winners == []  # nobody voted: no standard by lottery
    assert empty.second_winner is None
    assert empty.total_weight == 0
    assert "Winner: none" in format_result(empty)
    weightless = tally(Election(candidates=("A", "B"), seed="s",
                                ballots=[Ballot(ranking=("B",), weight=0)]))
    assert weightless.winners == [] and weightless.ballot_count == 1


# --- the draw ----------------------------------------------------------------------------------


def test_draw_key_is_sha256_of_seed_colon_candidate():
    assert draw_key("2025-ronde-1", "p17") == hashlib.sha256(b"2025-ronde-1:p17").hexdigest()
    assert draw_order("seed", ["A", "B", "C", "D"]) == sorted(
        "ABCD", key=lambda c: hashlib.sha256(f"seed:{c}".encode()).hexdigest())
    # Pinned, so that a change to the rule cannot go unnoticed.
    assert draw_order("seed", "ABCD") == ["D", "B", "C", "A"]


def test_cycle_with_equal_strengths_is_decided_by_the_draw():
    cycle = (Ballot(ranking=("A", "B", "C")), Ballot(ranking=("B", "C", "A")),
             Ballot(ranking=("C", "A", "B")))
    for seed in ("seed", "x", "published-2025-03-01"):
        result = tally(Election(candidates=("A", "B", "C"), ballots=cycle, seed=seed))
        order = draw_order(seed, "ABC")
        assert result.ranking == order
        assert [(t.position, t.tied, t.chosen) for t in result.draws] == [
            (1, tuple(order), order[0]), (2, tuple(order[1:]), order[1])]
        again = tally(Election(candidates=("C", "B", "A"), ballots=cycle[::-1], seed=seed))
        assert (again.ranking, again.draws) == (result.ranking, result.draws)
    assert len({tuple(tally(Election(candidates=("A", "B", "C"), ballots=cycle,
                                     seed=str(s))).ranking) for s in range(20)}) > 1


def test_draw_only_orders_candidates_that_are_tied():
    # A beats B; C ties with both: {A, C} tie for first place, and B never goes above A.
    election = Election(candidates=("A", "B", "C"), ballots=(
        Ballot(ranking=("A", "B")), Ballot(ranking=("C",))))
    d = tally(election).pairwise
    assert d["A"]["C"] == d["C"]["A"] and d["B"]["C"] == d["C"]["B"]
    assert d["A"]["B"] > d["B"]["A"]
    for seed in map(str, range(30)):
        result = tally(replace_seed(election, seed))
        assert result.ranking.index("A") < result.ranking.index("B")
        assert result.draws and result.draws[0].tied == tuple(draw_order(seed, ["A", "C"]))


def test_exact_decimals_make_a_tie():
    # 0.1 + 0.1 + 0.1 == 0.3 exactly (in floats it would be 0.30000000000000004 > 0.3).
    text = json.dumps({"cluster": "c", "candidates": ["A", "B"], "max_winners": 1, "seed": "s",
                       "ballots": [{"weight": 0.1, "ranking": ["A", "B"]}] * 3
                       + [{"weight": 0.3, "ranking": ["B", "A"]}]})
    result = tally(load_ballot_file(text))
    assert result.pairwise == {"A": {"B": Fraction(3, 10)}, "B": {"A": Fraction(3, 10)}}
    assert result.draws[0].tied == tuple(draw_order("s", "AB"))


def replace_seed(election: Election, seed: str) -> Election:
    return Election(candidates=election.candidates, ballots=election.ballots,
                    max_winners=election.max_winners,
                    diversity_threshold=election.diversity_threshold, seed=seed,
                    cluster=election.cluster)


# --- properties on random profiles -------------------------------------------------------------

WEIGHTS = [1, 1, 1, 2, 3, 0, Fraction(1, 2), Fraction(5, 4), 7]


def random_election(rng: random.Random) -> Election:
    n = rng.randint(2, 6)
    candidates = tuple(f"c{i}" for i in rng.sample(range(100), n))
    ballots = []
    for _ in range(rng.randint(1, 40)):
        ranked = rng.sample(candidates, rng.randint(0, n))
        ballots.append(Ballot(ranking=tuple(ranked), weight=rng.choice(WEIGHTS)))
    return Election(candidates=candidates, ballots=tuple(ballots),
                    max_winners=rng.choice([1, 2]), seed=f"seed-{rng.random()}")


PROFILES = [random_election(random.Random(k)) for k in range(200)]


def reference_d(election: Election) -> dict[str, dict[str, Fraction]]:
    d = {x: {y: Fraction(0) for y in election.candidates if y != x} for x in election.candidates}
    for ballot in election.ballots:
        rank = {c: i for i, c in enumerate(ballot.ranking)}
        for x, y in itertools.permutations(election.candidates, 2):
            if rank.get(x, len(election.candidates)) < rank.get(y, len(election.candidates)):
                d[x][y] += ballot.weight
    return d


def reference_p(candidates, d) -> dict[str, dict[str, Fraction]]:
    """Strongest paths by enumerating every simple path (fine up to 6 candidates)."""
    def link(x, y):
        return max(d[x][y] - d[y][x], 0)

    p = {}
    for x, y in itertools.permutations(candidates, 2):
        others = [c for c in candidates if c not in (x, y)]
        best = Fraction(0)
        for k in range(len(others) + 1):
            for middle in itertools.permutations(others, k):
                path = (x, *middle, y)
                best = max(best, min(link(a, b) for a, b in itertools.pairwise(path)))
        p.setdefault(x, {})[y] = best
    return p


def test_random_profiles_match_reference_counts():
    for election in PROFILES:
        result = tally(election)
        d = reference_d(election)
        assert result.pairwise == d
        assert result.strongest_paths == reference_p(election.candidates, d)
        assert sorted(result.ranking) == sorted(election.candidates)
        p = result.strongest_paths
        for i, x in enumerate(result.ranking):  # nobody ranked lower beats anyone higher
            for y in result.ranking[i + 1:]:
                assert not p[y][x] > p[x][y]


def test_condorcet_winner_always_wins():
    found = 0
    for election in PROFILES:
        d = reference_d(election)
        winners = [x for x in election.candidates
                   if all(d[x][y] > d[y][x] for y in election.candidates if y != x)]
        if winners:
            found += 1
            assert tally(election).winners[0] == winners[0]
    assert found > 50


def test_permuting_ballots_changes_nothing():
    rng = random.Random(7)
    for election in PROFILES:
        ballots = list(election.ballots)
        rng.shuffle(ballots)
        shuffled = Election(candidates=election.candidates, ballots=tuple(ballots),
                            max_winners=election.max_winners, seed=election.seed)
        assert tally(shuffled) == tally(election)


def test_scaling_all_weights_changes_nothing():
    for factor in (3, Fraction(1, 2), Fraction(7, 3)):
        for election in PROFILES:
            scaled = Election(candidates=election.candidates, max_winners=election.max_winners,
                              seed=election.seed,
                              ballots=tuple(Ballot(ranking=b.ranking, weight=b.weight * factor)
                                            for b in election.ballots))
            a, b = tally(election), tally(scaled)
            assert (a.winners, a.ranking, a.draws) == (b.winners, b.ranking, b.draws)
            assert a.second_winner == b.second_winner
            assert b.total_weight == a.total_weight * factor


def test_draw_is_deterministic_for_a_seed():
    for election in PROFILES:
        reordered = Election(candidates=election.candidates[::-1], ballots=election.ballots,
                             max_winners=election.max_winners, seed=election.seed)
        a, b = tally(election), tally(reordered)
        assert (a.ranking, a.winners, a.draws) == (b.ranking, b.winners, b.draws)
        for t in a.draws:
            assert list(t.tied) == draw_order(election.seed, t.tied)
            assert t.chosen == t.tied[0] == a.ranking[t.position - 1]
    assert any(tally(e).draws for e in PROFILES)


def test_second_winner_rule_on_random_profiles():
    for election in PROFILES:
        result = tally(election)
        check = result.second_winner
        if result.total_weight == 0:
            assert check is None and result.winners == []
            continue
        if election.max_winners == 1:
            assert check is None and len(result.winners) == 1
            continue
        w, r = result.ranking[:2]
        share = (result.pairwise[r][w] / result.total_weight if result.total_weight
                 else Fraction(0))
        assert (check.winner, check.runner_up, check.share) == (w, r, share)
        assert check.elected == (result.total_weight > 0 and share >= Fraction(1, 3))
        assert result.winners == ([w, r] if check.elected else [w])


# --- the ballot file ---------------------------------------------------------------------------


def ballot_file(**changes) -> dict:
    data = {
        "cluster": "cl-7", "candidates": ["a", "b", "c"], "max_winners": 2,
        "diversity_threshold": 0.3333, "seed": "published-seed", "exported_at": "2025-01-01",
        "ballots": [
            {"municipality": "GM0363", "receipt": "R-1", "weight": 3, "ranking": ["b", "a"],
             "cast_at": "2025-01-02"},
            {"municipality": "GM0014", "receipt": "R-2", "weight": 1, "ranking": ["a"]},
            {"municipality": None, "receipt": "R-3", "ranking": ["c", "a", "b"]},
        ],
    }
    data.update(changes)
    return data


def test_valid_file_with_extra_keys():
    election = load_ballot_file(json.dumps(ballot_file()))
    assert election.cluster == "cl-7" and election.seed == "published-seed"
    assert election.candidates == ("a", "b", "c")
    assert election.max_winners == 2
    assert election.diversity_threshold == Fraction(3333, 10000)
    assert [b.weight for b in election.ballots] == [3, 1, 1]
    assert election.ballots[2].municipality is None and election.ballots[0].receipt == "R-1"
    result = tally(election)
    assert result.winners[0] == "b"


def test_file_as_bytes_or_with_byte_order_mark():
    text = json.dumps(ballot_file())
    expected = load_ballot_file(text)
    assert load_ballot_file(text.encode()) == expected
    assert load_ballot_file("\ufeff" + text) == expected
    assert load_ballot_file(text.encode("utf-8-sig")) == expected
    with pytest.raises(BallotFileError, match="not valid JSON"):
        load_ballot_file(b"\xff\xfe\x00")
    with pytest.raises(BallotFileError, match="not valid JSON"):
        load_ballot_file("[" * 100_000 + "]" * 100_000)


def test_threshold_defaults_to_one_third():
    data = ballot_file()
    del data["diversity_threshold"]
    assert load_ballot_file(json.dumps(data)).diversity_threshold == Fraction(1, 3)
    data["diversity_threshold"] = None
    assert load_ballot_file(json.dumps(data)).diversity_threshold == Fraction(1, 3)
    assert load_ballot_file(json.dumps(ballot_file(diversity_threshold=1))).diversity_threshold == 1


def with_ballot(index: int, **changes) -> str:
    data = ballot_file()
    data["ballots"][index].update(changes)
    return json.dumps(data)


def without(key: str) -> str:
    data = ballot_file()
    del data[key]
    return json.dumps(data)


def without_ranking() -> str:
    data = ballot_file()
    del data["ballots"][1]["ranking"]
    return json.dumps(data)


MALFORMED = [
    ("{", "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "the file must hold one JSON object"),
    ('{"cluster": "c", "cluster": "d"}', "key 'cluster' appears twice"),
    (without("cluster"), 'missing key "cluster"'),
    (without("candidates"), 'missing key "candidates"'),
    (without("max_winners"), 'missing key "max_winners"'),
    (without("seed"), 'missing key "seed"'),
    (without("ballots"), 'missing key "ballots"'),
    (json.dumps(ballot_file(cluster=None)), '"cluster" must be a string'),
    (json.dumps(ballot_file(seed=5)), '"seed" must be a string'),
    (json.dumps(ballot_file(candidates="abc")), '"candidates" must be a list'),
    (json.dumps(ballot_file(candidates=[])), '"candidates" must not be empty'),
    (json.dumps(ballot_file(candidates=["a", "b", "a"])), "\"candidates\" lists 'a' twice"),
    (json.dumps(ballot_file(candidates=["a", 2])), '"candidates"[1] must be a non-empty string'),
    (json.dumps(ballot_file(ballots={})), '"ballots" must be a list'),
    (json.dumps(ballot_file(max_winners=3)), '"max_winners" must be 1 or 2, got 3'),
    (json.dumps(ballot_file(max_winners=0)), '"max_winners" must be 1 or 2'),
    (json.dumps(ballot_file(max_winners="2")), '"max_winners" must be 1 or 2'),
    (json.dumps(ballot_file(max_winners=2.0)), '"max_winners" must be 1 or 2'),
    (json.dumps(ballot_file(max_winners=True)), '"max_winners" must be 1 or 2'),
    (json.dumps(ballot_file(diversity_threshold=0)), '"diversity_threshold" must be a number '
                                                     "in (0, 1]"),
    (json.dumps(ballot_file(diversity_threshold=1.01)), '"diversity_threshold" must be'),
    (json.dumps(ballot_file(diversity_threshold=-0.5)), '"diversity_threshold" must be'),
    (json.dumps(ballot_file(diversity_threshold="0.3")), '"diversity_threshold" must be'),
    (with_ballot(1, ranking=["a", "zz"]),
     "ballots[1] (receipt 'R-2', municipality 'GM0014'): unknown candidate 'zz'"),
    (with_ballot(0, ranking=["b", "a", "b"]),
     "ballots[0] (receipt 'R-1', municipality 'GM0363'): the ranking lists 'b' twice"),
    (with_ballot(2, ranking=["a", ["b", "c"]]),
     "ballots[2] (receipt 'R-3'): \"ranking\" entries must be candidate ids"),
    (with_ballot(1, ranking="ab"), 'ballots[1] (receipt \'R-2\', municipality \'GM0014\'): '
                                   '"ranking" must be a list'),
    (without_ranking(), "ballots[1] (receipt 'R-2', municipality 'GM0014'): missing key "
                        '"ranking"'),
    (with_ballot(0, weight=-1),
     "ballots[0] (receipt 'R-1', municipality 'GM0363'): \"weight\" must not be negative"),
    (with_ballot(2, weight=-0.5), "ballots[2] (receipt 'R-3'): \"weight\" must not be negative"),
    (with_ballot(1, weight="1"), "ballots[1] (receipt 'R-2', municipality 'GM0014'): \"weight\" "
                                 "must be a number"),
    (with_ballot(1, weight=None), 'ballots[1] (receipt \'R-2\', municipality \'GM0014\'): '
                                  '"weight" must be a number'),
    (with_ballot(1, weight=True), '"weight" must be a number'),
    (with_ballot(1, weight=1e300), '"weight" must be a number'),
    (with_ballot(1, receipt=None, municipality=None, weight=[1]), 'ballots[1]: "weight" must be'),
    (with_ballot(1, receipt=["x"]), '"receipt" must be a string or null'),
    (json.dumps(ballot_file()).replace('"weight": 3', '"weight": NaN'),
     "not valid JSON: NaN is not a number"),
    (json.dumps(ballot_file()).replace('"weight": 3', '"weight": 1e-999999999'),
     '"weight" must be a number'),
    (json.dumps(ballot_file(ballots=[["a"]])), "ballots[0] must be an object"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_files_are_refused_with_a_message(text, message):
    with pytest.raises(BallotFileError) as info:
        load_ballot_file(text)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)


def test_invalid_election_in_code_is_refused():
    with pytest.raises(BallotFileError, match="unknown candidate 'x'"):
        Election(candidates=("a",), ballots=(Ballot(ranking=("x",)),))
    with pytest.raises(BallotFileError, match="must be 1 or 2"):
        Election(candidates=("a",), max_winners=3)


# --- output ------------------------------------------------------------------------------------


def test_result_json_has_exactly_winners_and_ranking():
    result = tally(wikipedia_election(max_winners=2, seed="s"))
    data = result_json(result)
    assert data == {"winners": ["E", "A"], "ranking": ["E", "A", "C", "B", "D"]}
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"winners", "ranking"}


def test_result_details_is_json_safe():
    result = tally(load_ballot_file(json.dumps(ballot_file())))
    details = json.loads(json.dumps(result_details(result)))
    assert details["winners"] == result.winners and details["ranking"] == result.ranking
    assert details["pairwise"]["b"]["a"] == 3
    assert details["total_weight"] == 5


def test_format_result_is_readable():
    text = format_result(tally(wikipedia_election(max_winners=2, seed="s", cluster="demo")))
    assert "Cluster: demo" in text
    assert "Winners: E, A" in text
    assert "  1. E\n  2. A\n  3. C\n  4. B\n  5. D\n" in text
    assert "runner-up A is ranked above winner E on 48.89% of the ballot weight" in text
    assert "Draw: not needed" in text
    tie = format_result(tally(Election(candidates=("A", "B"), seed="s")))
    assert 'Draw (seed "s"' in tie and "place 1: tie between" in tie
