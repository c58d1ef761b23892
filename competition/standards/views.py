"""Standards: the winning solutions, each with its own public page."""

from flask import Blueprint

bp = Blueprint("standards", __name__)
