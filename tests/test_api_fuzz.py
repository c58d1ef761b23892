"""Fuzzing the JSON API with Schemathesis against its own OpenAPI document.

The app runs in-process (WSGI, no network) on the decided demo world: a round with published
proposals, confirmed clusters, a published preselection, a counted final vote, standards and
recorded adoption, next to a draft round and draft proposals. Schemathesis generates requests
for every operation, valid and invalid, and checks each answer: never a server error, the
status code is documented, the content type is the documented one, and the body matches the
documented schema (which forbids undocumented properties).

The document the app serves is used, with the world's real slugs and ids added as parameter
examples, so the fuzzer reaches the 200 answers and not only the 404s.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import Phase as HypothesisPhase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from competition import demo
from competition.api.openapi import document
from competition.extensions import db
from competition.models import Cluster, Proposal, ProposalStatus, Round, Standard
from tests.test_api import open_data_worlds

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# Examples per operation and kind of input: ~20 operations × 3 × this stays well under 60 s.
EXAMPLES = 8
OPERATIONS = [op["operationId"] for item in document()["paths"].values() for op in item.values()]


def _known_values(app) -> dict[str, object]:
    """A real value for every path parameter, from the world."""
    with app.app_context():
        rnd = db.session.scalar(select(Round).where(Round.title == demo.ROUND_TITLE))
        return {
            "slug": rnd.slug,
            "cluster_id": db.session.scalars(select(Cluster.id).where(
                Cluster.round_id == rnd.id, Cluster.is_confirmed.is_(True))
                .order_by(Cluster.id)).first(),
            "proposal_id": db.session.scalars(select(Proposal.id).where(
                Proposal.status == ProposalStatus.SUBMITTED.value)
                .order_by(Proposal.id)).first(),
            "standard_id": db.session.scalars(select(Standard.id).order_by(Standard.id)).first(),
            "code": "GM0344",
        }


@pytest.fixture
def api_schema(app, database_template, tmp_path_factory):
    """The served OpenAPI document on the decided world, as Schemathesis reads it, and a
    real value for each path parameter."""
    worlds = open_data_worlds(database_template, tmp_path_factory)
    worlds.decided.restore(app)
    app.config["FROZEN_NOW"] = worlds.decided_now
    app.config["API_RATE_LIMIT"] = "100000 per minute"  # the fuzzer is no abuser
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return schema, _known_values(app)


@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_api_answers_as_documented(api_schema, operation_id):
    """Valid requests on real resources, valid requests on generated ones, and invalid
    requests: every answer is documented and matches its schema, and none is a 5xx."""
    schema, known = api_schema
    operation = schema.find_operation_by_id(operation_id)
    names = {p.name for p in operation.path_parameters}
    strategies = [operation.as_strategy(GenerationMode.POSITIVE),
                  operation.as_strategy(GenerationMode.NEGATIVE)]
    if names:
        strategies.append(operation.as_strategy(
            GenerationMode.POSITIVE, path_parameters={n: known[n] for n in names}))
    for strategy in strategies:

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[HypothesisPhase.generate], suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case):
            case.call_and_validate(checks=CHECKS)

        run()
