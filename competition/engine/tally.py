"""Counting the vote of one cluster: the Schulze method (beat-path, margins), weighted ballots.

Pure module: no Flask, no database. The web app and the public recount
(``flask competition tally BALLOTS.json``) run this same code, so anyone holding the exported
ballot file gets the same result. The exact rules:

Ballots
    One ranked ballot per municipality per cluster. A ballot ranks any subset of the candidates,
    best first, without ties; every unranked candidate counts as below all ranked ones, and two
    unranked candidates count as equal. A ballot carries a weight (1 by default, or a
    population-bracket weight chosen by the round); weights are non-negative numbers.

Arithmetic
    Exact: every weight is turned into a fraction (a number in the file is read as the decimal
    written there, 0.1 is 1/10), so no float rounding can change a comparison and the order of
    the ballots never matters.

Pairwise counts
    d[X, Y] = total weight of the ballots that rank X better than Y.

Strongest paths
    The link X → Y has strength d[X, Y] − d[Y, X] (the margin) when that is positive; otherwise
    there is no link. A path's strength is its weakest link; p[X, Y] is the strength of the
    strongest path from X to Y, 0 when there is none (computed as a widest path,
    Floyd–Warshall style).

Order
    X beats Y when p[X, Y] > p[Y, X]; this relation is transitive (Schulze, 2011). The ranking
    is built from the top: the next place goes to a remaining candidate beaten by no other
    remaining candidate. When several candidates qualify (a tie in the Schulze order) the draw
    decides, and every such tie is reported.

Draw
    The seed is published before the vote opens. A candidate's draw key is the hexadecimal
    SHA-256 digest of the UTF-8 text ``f"{seed}:{candidate_id}"``; the tied candidate with the
    lowest key (plain string comparison of the lowercase hex digests) takes the place. Anyone
    can recompute it, e.g. ``printf '%s' 'SEED:ID' | sha256sum``. Equal digests (never seen in
    practice) fall back to the lower candidate id.

Winners
    The first of the ranking wins, unless no ballot carries any weight (no ballots were cast):
    then nobody wins, because a shared standard nobody voted for would be a lottery; the
    ranking is then just the draw order. When the round allows two winners (max_winners = 2) and
    there are at least two candidates, the runner-up (second of the ranking, draw included) is
    also a winner when it is ranked above the winner on at least the diversity threshold
    (default 1/3) of the ballot weight: share = d[runner-up, winner] / total weight of all
    ballots of the cluster (blank ballots and unranked candidates included as described above),
    and the runner-up wins when share ≥ threshold − 1e-9 (the tolerance only matters for a
    threshold written as a rounded decimal). With a total weight of 0 no second winner is
    declared.

Ballot file (one cluster's vote, UTF-8 JSON; keys not listed here are ignored)::

    {"cluster": "...", "candidates": ["id1", "id2", ...], "max_winners": 1 or 2,
     "diversity_threshold": 0.3333, "seed": "...",
     "ballots": [{"municipality": "GM0363" or null, "receipt": "...", "weight": 1,
                  "ranking": ["id2", "id1"]}, ...]}

``diversity_threshold`` may be left out (or null): 1/3. A ballot's ``weight`` may be left out:
1; ``municipality`` and ``receipt`` are optional and only name the ballot in messages. A
malformed file raises BallotFileError (a ValueError) whose message names the key, or the ballot
by its index in ``ballots`` (from 0) with its receipt and municipality.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

DEFAULT_DIVERSITY_THRESHOLD = Fraction(1, 3)
THRESHOLD_EPSILON = Fraction(1, 10**9)
MAX_WINNERS = (1, 2)
MAX_NUMBER = 10**18  # bound on weights and on their denominators

Number = int | float | Decimal | Fraction


class BallotFileError(ValueError):
    """A malformed ballot file or Election; the message names the key or the ballot."""


# --- input -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ballot:
    """One municipality's ranking (best first) of some of the candidates."""

    ranking: tuple[str, ...]
    weight: Number = 1
    municipality: str | None = None
    receipt: str | None = None


@dataclass(frozen=True)
class Election:
    """One cluster's vote. Validated on construction (BallotFileError); afterwards
    ``candidates`` and ``ballots`` are tuples, every ballot's ``ranking`` a tuple and its
    ``weight`` and the ``diversity_threshold`` are Fractions."""

    candidates: tuple[str, ...]
    ballots: tuple[Ballot, ...] = ()
    max_winners: int = 1
    diversity_threshold: Number = DEFAULT_DIVERSITY_THRESHOLD
    seed: str = ""
    cluster: str = ""

    def __post_init__(self) -> None:
        candidates = _check_candidates(self.candidates)
        if type(self.max_winners) is not int or self.max_winners not in MAX_WINNERS:
            raise BallotFileError(f'"max_winners" must be 1 or 2, got {self.max_winners!r}')
        threshold = _to_fraction(self.diversity_threshold)
        if threshold is None or not 0 < threshold <= 1:
            raise BallotFileError('"diversity_threshold" must be a number in (0, 1], got '
                                  f"{_show(self.diversity_threshold)}")
        if not isinstance(self.seed, str):
            raise BallotFileError(f'"seed" must be a string, got {_show(self.seed)}')
        if not isinstance(self.cluster, str):
            raise BallotFileError(f'"cluster" must be a string, got {_show(self.cluster)}')
        if isinstance(self.ballots, str | bytes | dict) or not isinstance(self.ballots, Iterable):
            raise BallotFileError('"ballots" must be a list')
        known = frozenset(candidates)
        ballots = tuple(_check_ballot(i, b, known) for i, b in enumerate(self.ballots))
        object.__setattr__(self, "candidates", candidates)
        object.__setattr__(self, "diversity_threshold", threshold)
        object.__setattr__(self, "ballots", ballots)


def _show(value: object) -> str:
    text = str(value) if isinstance(value, Decimal | Fraction) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _to_fraction(value: object) -> Fraction | None:
    """An exact Fraction for a number (a float as the decimal it prints as); None for anything
    else, and for numbers that are not finite, of magnitude above 1e18 or with more than 18
    decimals (they would only make the exact arithmetic slow)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if value.is_zero():
            return Fraction(0)
        if not -18 <= value.adjusted() <= 18 or len(value.as_tuple().digits) > 40:
            return None
        result = Fraction(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        result = Fraction(repr(value))
    elif isinstance(value, int | Fraction):
        result = Fraction(value)
    else:
        return None
    if abs(result) > MAX_NUMBER or result.denominator > MAX_NUMBER:
        return None
    return result


def _check_candidates(raw: object) -> tuple[str, ...]:
    if isinstance(raw, str | bytes | dict) or not isinstance(raw, Iterable):
        raise BallotFileError('"candidates" must be a list of candidate ids')
    candidates = tuple(raw)
    if not candidates:
        raise BallotFileError('"candidates" must not be empty')
    seen: set[str] = set()
    for i, c in enumerate(candidates):
        if not isinstance(c, str) or not c:
            raise BallotFileError(f'"candidates"[{i}] must be a non-empty string, got {_show(c)}')
        if c in seen:
            raise BallotFileError(f'"candidates" lists {c!r} twice')
        seen.add(c)
    return candidates


def _describe(index: int, municipality: object = None, receipt: object = None) -> str:
    parts = []
    if receipt is not None:
        parts.append(f"receipt {_show(receipt)}")
    if municipality is not None:
        parts.append(f"municipality {_show(municipality)}")
    return f"ballots[{index}]" + (f" ({', '.join(parts)})" if parts else "")


def _check_ballot(index: int, ballot: object, known: frozenset[str]) -> Ballot:
    if not isinstance(ballot, Ballot):
        raise BallotFileError(f"ballots[{index}] is not a Ballot")
    where = _describe(index, ballot.municipality, ballot.receipt)
    for name in ("municipality", "receipt"):
        value = getattr(ballot, name)
        if value is not None and not isinstance(value, str):
            raise BallotFileError(f'{where}: "{name}" must be a string or null')
    raw = ballot.ranking
    if isinstance(raw, str | bytes | dict) or not isinstance(raw, Iterable):
        raise BallotFileError(f'{where}: "ranking" must be a list of candidate ids')
    ranking = tuple(raw)
    seen: set[str] = set()
    for c in ranking:
        if not isinstance(c, str):
            raise BallotFileError(f'{where}: "ranking" entries must be candidate ids (strings; '
                                  f"ties within a ballot are not allowed), got {_show(c)}")
        if c not in known:
            raise BallotFileError(f"{where}: unknown candidate {c!r} in the ranking")
        if c in seen:
            raise BallotFileError(f"{where}: the ranking lists {c!r} twice")
        seen.add(c)
    weight = _to_fraction(ballot.weight)
    if weight is None:
        raise BallotFileError(f'{where}: "weight" must be a number (finite, at most 1e18, '
                              f"at most 18 decimals), got {_show(ballot.weight)}")
    if weight < 0:
        raise BallotFileError(f'{where}: "weight" must not be negative, got {_show(ballot.weight)}')
    return replace(ballot, ranking=ranking, weight=weight)


# --- the ballot file ---------------------------------------------------------------------------


def _reject_constant(name: str) -> None:
    raise BallotFileError(f"not valid JSON: {name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BallotFileError(f"not valid JSON: key {key!r} appears twice in one object")
        result[key] = value
    return result


def _optional_text(value: object, where: str, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BallotFileError(f'{where}: "{name}" must be a string or null, got {_show(value)}')


def load_ballot_file(text: str | bytes) -> Election:
    """Parse an exported ballot file (see the module docstring) into a validated Election.

    Raises BallotFileError with a message naming the key or the ballot; never anything else
    for bad input. A leading byte order mark is allowed."""
    if isinstance(text, str) and text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant,
                          object_pairs_hook=_unique_keys)
    except BallotFileError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise BallotFileError(f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BallotFileError("the file must hold one JSON object")
    for key in ("cluster", "candidates", "max_winners", "seed", "ballots"):
        if key not in data:
            raise BallotFileError(f'missing key "{key}"')
    cluster = data["cluster"]
    if isinstance(cluster, int) and not isinstance(cluster, bool):
        cluster = str(cluster)
    elif not isinstance(cluster, str):
        raise BallotFileError(f'"cluster" must be a string, got {_show(cluster)}')
    if not isinstance(data["candidates"], list):
        raise BallotFileError('"candidates" must be a list of candidate ids')
    if not isinstance(data["ballots"], list):
        raise BallotFileError('"ballots" must be a list')
    threshold = data.get("diversity_threshold")
    if threshold is None:
        threshold = DEFAULT_DIVERSITY_THRESHOLD
    ballots = []
    for i, raw in enumerate(data["ballots"]):
        if not isinstance(raw, dict):
            raise BallotFileError(f"ballots[{i}] must be an object, got {_show(raw)}")
        where = _describe(i, raw.get("municipality"), raw.get("receipt"))
        if "ranking" not in raw:
            raise BallotFileError(f'{where}: missing key "ranking"')
        if not isinstance(raw["ranking"], list):
            raise BallotFileError(f'{where}: "ranking" must be a list of candidate ids')
        ballots.append(Ballot(ranking=raw["ranking"], weight=raw.get("weight", 1),
                              municipality=_optional_text(raw.get("municipality"), where,
                                                          "municipality"),
                              receipt=_optional_text(raw.get("receipt"), where, "receipt")))
    return Election(candidates=data["candidates"], ballots=tuple(ballots),
                    max_winners=data["max_winners"], diversity_threshold=threshold,
                    seed=data["seed"], cluster=cluster)


# --- counting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TieBreak:
    """A place in the ranking decided by the draw."""

    position: int  # 1-based place in the ranking
    tied: tuple[str, ...]  # the candidates that could take it, in draw order
    chosen: str  # = tied[0]


@dataclass(frozen=True)
class SecondWinnerCheck:
    """The two-winner rule, measured whenever max_winners = 2 and there are two candidates."""

    winner: str
    runner_up: str
    share: Fraction  # d[runner_up, winner] / total weight (0 when the total weight is 0)
    threshold: Fraction
    elected: bool


@dataclass(frozen=True)
class Result:
    """The count of one cluster. Matrices are indexed [row][column] by candidate id, without
    the diagonal; all numbers are exact Fractions (equal to ints where whole)."""

    cluster: str
    candidates: tuple[str, ...]  # as in the election
    winners: list[str]  # best first
    ranking: list[str]  # all candidates, best first
    pairwise: dict[str, dict[str, Fraction]]  # d[X][Y]: weight ranking X above Y
    strongest_paths: dict[str, dict[str, Fraction]]  # p[X][Y], margins as link strength
    first_preferences: dict[str, Fraction]  # weight ranking the candidate first
    ballot_count: int
    total_weight: Fraction
    max_winners: int
    seed: str
    second_winner: SecondWinnerCheck | None  # None when max_winners = 1 or one candidate
    draws: list[TieBreak] = field(default_factory=list)


def draw_key(seed: str, candidate: str) -> str:
    """The candidate's draw key: hex SHA-256 of f"{seed}:{candidate}" (lower is better)."""
    return hashlib.sha256(f"{seed}:{candidate}".encode()).hexdigest()


def draw_order(seed: str, candidates: Iterable[str]) -> list[str]:
    """Candidates in draw order (the first wins a tie) for the published seed."""
    return sorted(candidates, key=lambda c: (draw_key(seed, c), c))


def widest_paths(links: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Strongest-path strengths for a square matrix of link strengths (0 = no link): p[i][j]
    is the largest, over the paths from i to j, of the weakest link on the path; 0 without a
    path; the diagonal is 0."""
    n = len(links)
    p = [[links[i][j] if i != j else 0 for j in range(n)] for i in range(n)]
    for k in range(n):
        row_k = p[k]
        for i in range(n):
            through = p[i][k]
            if i == k or not through > 0:
                continue
            row_i = p[i]
            for j in range(n):
                if j == i:
                    continue
                strength = through if through < row_k[j] else row_k[j]
                if strength > row_i[j]:
                    row_i[j] = strength
    return p


def tally(election: Election) -> Result:
    """Count one cluster's vote with the rules of the module docstring."""
    candidates = election.candidates
    n = len(candidates)
    index = {c: i for i, c in enumerate(candidates)}
    zero = Fraction(0)
    d = [[zero] * n for _ in range(n)]
    first = [zero] * n
    total = zero
    grouped: Counter[tuple[str, ...]] = Counter()
    for ballot in election.ballots:
        total += ballot.weight
        grouped[ballot.ranking] += ballot.weight
    for ranking, weight in grouped.items():
        if not ranking or weight == 0:
            continue
        ranked = [index[c] for c in ranking]
        first[ranked[0]] += weight
        ranked_set = set(ranked)
        unranked = [j for j in range(n) if j not in ranked_set]
        for pos, i in enumerate(ranked):
            row = d[i]
            for j in ranked[pos + 1:]:
                row[j] += weight
            for j in unranked:
                row[j] += weight
    links = [[max(d[i][j] - d[j][i], zero) for j in range(n)] for i in range(n)]
    p = widest_paths(links)

    draw_position = {c: k for k, c in enumerate(draw_order(election.seed, candidates))}
    remaining = set(range(n))
    ranking: list[str] = []
    draws: list[TieBreak] = []
    while remaining:
        top = [x for x in remaining
               if not any(p[y][x] > p[x][y] for y in remaining if y != x)]
        tied = sorted((candidates[x] for x in top), key=draw_position.__getitem__)
        if len(tied) > 1:
            draws.append(TieBreak(position=len(ranking) + 1, tied=tuple(tied), chosen=tied[0]))
        ranking.append(tied[0])
        remaining.discard(index[tied[0]])

    winners = ranking[:1] if total > 0 else []
    second: SecondWinnerCheck | None = None
    if election.max_winners == 2 and n >= 2 and winners:
        winner, runner_up = ranking[0], ranking[1]
        share = d[index[runner_up]][index[winner]] / total if total > 0 else zero
        threshold = Fraction(election.diversity_threshold)
        elected = total > 0 and share >= threshold - THRESHOLD_EPSILON
        second = SecondWinnerCheck(winner=winner, runner_up=runner_up, share=share,
                                   threshold=threshold, elected=elected)
        if elected:
            winners.append(runner_up)

    def as_dict(matrix: list[list[Fraction]]) -> dict[str, dict[str, Fraction]]:
        return {x: {y: matrix[i][j] for j, y in enumerate(candidates) if j != i}
                for i, x in enumerate(candidates)}

    return Result(cluster=election.cluster, candidates=candidates, winners=winners,
                  ranking=ranking, pairwise=as_dict(d), strongest_paths=as_dict(p),
                  first_preferences=dict(zip(candidates, first, strict=True)),
                  ballot_count=len(election.ballots), total_weight=total,
                  max_winners=election.max_winners, seed=election.seed,
                  second_winner=second, draws=draws)


# --- output ------------------------------------------------------------------------------------


def result_json(result: Result) -> dict[str, list[str]]:
    """Exactly {"winners": [...], "ranking": [...]} (candidate ids, best first): what
    ``flask competition tally --json`` prints. The full count is in result_details()."""
    return {"winners": list(result.winners), "ranking": list(result.ranking)}


def _plain(x: Fraction) -> int | float:
    return int(x) if x.denominator == 1 else float(x)


def result_details(result: Result) -> dict[str, Any]:
    """The whole count as JSON-safe data (numbers as int when whole, else float)."""
    def matrix(m: dict[str, dict[str, Fraction]]) -> dict[str, dict[str, int | float]]:
        return {x: {y: _plain(v) for y, v in row.items()} for x, row in m.items()}

    second = result.second_winner
    return {
        "cluster": result.cluster,
        "candidates": list(result.candidates),
        "winners": list(result.winners),
        "ranking": list(result.ranking),
        "ballots": result.ballot_count,
        "total_weight": _plain(result.total_weight),
        "first_preferences": {c: _plain(w) for c, w in result.first_preferences.items()},
        "pairwise": matrix(result.pairwise),
        "strongest_paths": matrix(result.strongest_paths),
        "max_winners": result.max_winners,
        "second_winner": None if second is None else {
            "winner": second.winner, "runner_up": second.runner_up,
            "share": float(second.share), "threshold": float(second.threshold),
            "elected": second.elected},
        "seed": result.seed,
        "draws": [{"position": t.position, "tied": list(t.tied), "chosen": t.chosen}
                  for t in result.draws],
    }


def _num(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.4f}".rstrip("0").rstrip(".")


def _pct(x: Fraction) -> str:
    return f"{float(x) * 100:.2f}%"


def _table(candidates: Sequence[str], m: dict[str, dict[str, Fraction]]) -> list[str]:
    cells = [[_num(m[x][y]) if x != y else "-" for y in candidates] for x in candidates]
    label = max(len(c) for c in candidates)
    widths = [max(len(y), *(len(row[j]) for row in cells)) for j, y in enumerate(candidates)]
    lines = ["  " + " " * label + "".join(f"  {y:>{w}}" for y, w in
                                          zip(candidates, widths, strict=True))]
    for x, row in zip(candidates, cells, strict=True):
        lines.append(f"  {x:<{label}}" + "".join(f"  {v:>{w}}" for v, w in
                                                  zip(row, widths, strict=True)))
    return lines


def format_result(result: Result) -> str:
    """The count as plain English text, for the recount on the command line."""
    order = result.ranking
    lines = [
        f"Cluster: {result.cluster}" if result.cluster else "Cluster: (unnamed)",
        f"Candidates: {len(result.candidates)}; ballots: {result.ballot_count}; "
        f"total weight: {_num(result.total_weight)}",
        (f"Winner{'s' if len(result.winners) > 1 else ''}: {', '.join(result.winners)}"
         if result.winners else "Winner: none (no ballot carries any weight)"),
        "",
        "Ranking (best first):",
    ]
    lines += [f"  {k}. {c}" for k, c in enumerate(order, 1)]
    lines.append("")
    second = result.second_winner
    if result.max_winners == 1:
        lines.append("Second winner: not allowed in this round (max_winners = 1).")
    elif second is None:
        lines.append("Second winner: none possible (only one candidate, or no winner).")
    else:
        verdict = "second winner" if second.elected else "not a second winner"
        lines.append(
            f"Second winner: runner-up {second.runner_up} is ranked above winner "
            f"{second.winner} on {_pct(second.share)} of the ballot weight "
            f"(threshold {_pct(second.threshold)}): {verdict}.")
    if result.draws:
        lines.append(f'Draw (seed "{result.seed}"; key = SHA-256 of "seed:candidate", '
                     "lowest first):")
        for t in result.draws:
            lines.append(f"  place {t.position}: tie between {', '.join(t.tied)}; "
                         f"the draw gives it to {t.chosen}")
    else:
        lines.append("Draw: not needed (no ties).")
    lines += ["", "First preferences (weight):"]
    lines += [f"  {c}: {_num(result.first_preferences[c])}" for c in order]
    lines += ["", "Pairwise preferences d[row, column] "
                  "(weight of ballots ranking row above column):"]
    lines += _table(order, result.pairwise)
    lines += ["", "Strongest paths p[row, column] (link strength = margin d[X,Y] - d[Y,X]):"]
    lines += _table(order, result.strongest_paths)
    return "\n".join(lines) + "\n"


__all__ = [
    "DEFAULT_DIVERSITY_THRESHOLD",
    "THRESHOLD_EPSILON",
    "Ballot",
    "BallotFileError",
    "Election",
    "Result",
    "SecondWinnerCheck",
    "TieBreak",
    "draw_key",
    "draw_order",
    "format_result",
    "load_ballot_file",
    "result_details",
    "result_json",
    "tally",
    "widest_paths",
]
