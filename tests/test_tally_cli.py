"""`flask competition tally BALLOTS.json`: anyone can recount an exported vote offline."""

import json

import pytest

from competition.engine import tally

# The published 45-voter Schulze example: winner E, order E > A > C > B > D.
PROFILE = [(5, "ACBED"), (5, "ADECB"), (8, "BEDAC"), (3, "CABED"), (7, "CAEBD"),
           (2, "CBADE"), (7, "DCEBA"), (8, "EBADC")]


def ballot_file(tmp_path, **overrides):
    ballots = [
        {"municipality": None, "receipt": f"r{group}-{n}", "weight": 1, "ranking": list(order)}
        for group, (count, order) in enumerate(PROFILE) for n in range(count)
    ]
    data = {"cluster": "c1", "candidates": list("ABCDE"), "max_winners": 1,
            "diversity_threshold": 0.3333, "seed": "publiek-zaad", "ballots": ballots}
    data.update(overrides)
    path = tmp_path / "ballots.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_json_output_is_winners_and_ranking(runner, tmp_path):
    result = runner.invoke(args=["competition", "tally", str(ballot_file(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"winners": ["E"], "ranking": list("EACBD")}


def test_text_output_names_the_winner(runner, tmp_path):
    result = runner.invoke(args=["competition", "tally", str(ballot_file(tmp_path))])
    assert result.exit_code == 0
    assert "E" in result.output and result.output == tally.format_result(
        tally.tally(tally.load_ballot_file(ballot_file(tmp_path).read_bytes()))) + "\n"


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"candidates": ["A", "B"]}, "ballots[0]"),
        ({"max_winners": 3}, "max_winners"),
    ],
)
def test_malformed_files_are_refused_without_traceback(runner, tmp_path, overrides, fragment):
    result = runner.invoke(args=["competition", "tally", str(ballot_file(tmp_path, **overrides))])
    assert result.exit_code != 0
    assert fragment in result.output and "Traceback" not in result.output


def test_bad_json_is_refused(runner, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    result = runner.invoke(args=["competition", "tally", str(path)])
    assert result.exit_code != 0 and "JSON" in result.output
