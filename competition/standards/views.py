"""Standards: the winning solutions, each with its own public page."""

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from competition import clock
from competition.extensions import db
from competition.forms import perform
from competition.models import Cluster, Round
from competition.services import adoption, standards
from competition.services.errors import PermissionDenied
from competition.standards.forms import StandardForm

bp = Blueprint("standards", __name__)


def _context(standard):
    """The round and vraagstuk a standard came from."""
    return db.session.get(Round, standard.round_id), db.session.get(Cluster, standard.cluster_id)


@bp.get("/standaarden", endpoint="index")
def index():
    """Every standard, newest first."""
    rows = standards.all_standards()
    return render_template("standards/index.html", rows=rows,
                           used_by=adoption.adoption_counts() if rows else {})


@bp.get("/standaarden/<int:standard_id>", endpoint="detail")
def detail(standard_id: int):
    """A standard's public page: what it is, who owns it, where to find it."""
    return render_template("standards/detail.html",
                           **detail_context(standards.get_standard(standard_id)))


def detail_context(standard) -> dict:
    """What standards/detail.html needs (also when the adoption form comes back with errors)."""
    rnd, cluster = _context(standard)
    return {"standard": standard, "round": rnd, "cluster": cluster,
            "may_edit": standards.edit_refusal(current_user, standard) is None,
            "has_finalist_page": "development.finalist" in current_app.view_functions}


@bp.route("/standaarden/<int:standard_id>/bewerken", methods=["GET", "POST"], endpoint="edit")
@login_required
def edit(standard_id: int):
    """Change a standard's description, links, licence and version."""
    standard = standards.get_standard(standard_id)
    refusal = standards.edit_refusal(current_user, standard)
    if refusal:
        raise PermissionDenied(refusal)
    form = StandardForm(obj=standard)
    if form.validate_on_submit() and perform(
            lambda: standards.update_standard(current_user, standard, standards.StandardData(
                description=form.description.data or "", demo_url=form.demo_url.data or "",
                documentation_url=form.documentation_url.data or "",
                source_url=form.source_url.data or "", licence=form.licence.data or "",
                version=form.version.data or ""), now=clock.now()),
            lambda changed: (_("The standard has been updated.") if changed
                             else _("Nothing was changed.")), form=form):
        return redirect(url_for("standards.detail", standard_id=standard.id))
    rnd, cluster = _context(standard)
    return render_template("standards/edit.html", standard=standard, round=rnd, cluster=cluster,
                           form=form)
