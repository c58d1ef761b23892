"""Glue for the web layer: template helpers, language choice and mail delivery after commit."""

from datetime import datetime
from urllib.parse import urlsplit

from flask import Flask, current_app, redirect, request, session, url_for
from flask_babel import format_datetime, get_locale
from flask_login import current_user

from competition import clock
from competition.extensions import db
from competition.models import Phase, Role
from competition.services import mail as mail_service
from competition.services import notifications  # noqa: F401  (registers end-of-phase mail)
from competition.services.accounts import role_label
from competition.services.rounds import phase_label


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative redirects (no open redirect through ?next=)."""
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def percent(value: float) -> str:
    """A share in the page's language, one decimal (12,3% in Dutch)."""
    from flask_babel import format_percent

    return format_percent(value, format="#,##0.0%")


def euros(value: int) -> str:
    """Whole euros in the page's language (€ 250.000 in Dutch)."""
    from flask_babel import format_currency

    return format_currency(value, "EUR", format="¤ #,##0", currency_digits=False)


def init_app(app: Flask) -> None:
    """Register template helpers, the language switch and after-commit mail delivery."""

    @app.template_filter("datetime")
    def _datetime(value: datetime | None, fmt: str = "medium") -> str:
        if value is None:
            return "—"
        return format_datetime(value, fmt)

    @app.template_filter("number")
    def _number(value: int | float) -> str:
        from flask_babel import format_decimal

        return format_decimal(value)

    @app.template_filter("score")
    def _score(value: float | None, digits: int = 3) -> str:
        """A 0–1 score (or a mean) with fixed decimals in the page's language; "–" for none."""
        from flask_babel import format_decimal

        if value is None:
            return "–"
        return format_decimal(round(value, digits), format="0." + "0" * digits)

    @app.template_filter("markdown")
    def _markdown(text: str | None):
        from competition.markdown import render

        return render(text)

    @app.template_filter("date_format")
    def _date(value, fmt: str = "d MMMM y") -> str:
        from flask_babel import format_date

        return format_date(value, fmt) if value else "—"

    @app.template_filter("role_labels")
    def _role_labels(roles) -> str:
        order = [Role.MEMBER, Role.DELEGATE, Role.JURY, Role.ORGANISER]
        return ", ".join(role_label(r) for r in order if r in roles)

    # Globals (not a context processor) so imported macros see them too.
    app.jinja_env.globals.update(
        Phase=Phase, Role=Role, phase_label=phase_label, role_label=role_label,
        percent=percent, euros=euros,
    )

    @app.context_processor
    def _request_globals() -> dict:
        return {"now": clock.now(), "current_locale": str(get_locale())}

    @app.get("/taal/<lang>")
    def choose_language(lang: str):
        """Switch the language of an anonymous visit (a link: it changes only this browser's
        session, so public pages carry no per-visitor form and can be cached)."""
        if lang in current_app.config["LANGUAGES"]:
            session["lang"] = lang
        return redirect(safe_next(request.args.get("next"), url_for("rounds.home")))

    @app.post("/taal")
    def set_language():
        """Switch the interface language (form post, works without JavaScript)."""
        lang = request.form.get("lang", "")
        if lang in current_app.config["LANGUAGES"]:
            session["lang"] = lang
            if current_user.is_authenticated and current_user.locale != lang:
                current_user.locale = lang
                db.session.commit()
        return redirect(safe_next(request.form.get("next"), url_for("rounds.home")))

    @app.before_request
    def _refuse_nul_bytes():
        # A NUL byte can never be meaningful input, and PostgreSQL refuses it in text columns:
        # refuse it here, once, with a clear 400 instead of failing deep inside a query.
        values = [*request.args.values(), *request.form.values(), request.path]
        if any("\x00" in value for value in values):
            from flask import abort
            from flask_babel import gettext

            abort(400, gettext("The request contains a NUL character, which is not allowed."))

    @app.after_request
    def _deliver_mail(response):
        # Services queue mail in the outbox inside the request's transaction, with a delivery
        # job (MAIL_DELIVERY = "worker"): the worker sends it and the request never waits.
        # Inline delivery (tests) sends once the view has committed; a failure leaves the mail
        # queued for `flask competition send-mail`.
        pending = db.session.info.pop(mail_service.PENDING_FLAG, False)
        if pending and mail_service.delivery_mode() == "inline":
            try:
                mail_service.deliver_pending()
            except Exception:  # never fail the user's request over mail
                current_app.logger.exception("mail delivery failed; kept in the outbox")
                db.session.rollback()
        return response
