"""The development phase: finalists' pages with progress updates, deliverables and their cost
and licence statement."""

from flask import Blueprint

bp = Blueprint("development", __name__)
