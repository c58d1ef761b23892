"""The application factory and configuration."""

import pytest

from competition import create_app
from competition.config import normalise_database_url


def test_testing_flag(app):
    assert app.testing
    assert not create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"}).testing


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_environment_overrides_instance_config(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.org")
    monkeypatch.setenv("MAIL_PORT", "2525")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["MAIL_BACKEND"] == "smtp"
    assert app.config["MAIL_PORT"] == 2525


def test_secret_key_generated_once_into_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    from competition import config

    key1 = config._instance_secret_key(tmp_path)
    key2 = config._instance_secret_key(tmp_path)
    assert key1 == key2 and len(key1) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_mail_goes_to_files_without_smtp(monkeypatch):
    monkeypatch.delenv("MAIL_SERVER", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    assert app.config["MAIL_BACKEND"] == "file"
    assert app.config["MAIL_FILE_PATH"].endswith("instance/mail")


def test_normalise_database_url():
    assert normalise_database_url("postgresql://a/b") == "postgresql+psycopg://a/b"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"


def test_security_headers(client):
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_session_cookie_secure_by_default():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_unknown_page_is_404_in_dutch(client):
    response = client.get("/bestaat-niet")
    assert response.status_code == 404
    assert "Pagina niet gevonden" in response.get_data(as_text=True)


def test_json_errors_for_api_clients(client):
    response = client.get("/api/v1/nothing", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json["error"]["status"] == 404 and response.json["error"]["reason"]
    # Elsewhere a client asking for JSON still gets the plain JSON error.
    response = client.get("/bestaat-niet", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.json["status"] == 404 and response.json["reason"]


@pytest.mark.parametrize("app_config", [{"SESSION_COOKIE_SECURE": True}])
def test_login_cookie_is_secure_httponly_and_samesite(app, people):
    from tests.conftest import PASSWORD

    client = app.test_client()
    response = client.post("/inloggen", base_url="https://localhost",
                           data={"email": people["member"], "password": PASSWORD})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("path", [
    "/voorstellen/2637516877005891", "/vraagstukken/2147483648/uitslag",
    "/api/v1/clusters/2637516877005891", "/api/v1/standards/99999999999999999999"])
def test_an_id_too_large_for_the_database_is_not_found(client, path):
    # PostgreSQL refuses such a number in an integer column; the URL must not get that far.
    response = client.get(path)
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.json["error"]["status"] == 404


def test_the_largest_id_still_reaches_the_view(client):
    response = client.get(f"/api/v1/proposals/{2**31 - 1}")
    assert response.status_code == 404
    assert response.json["error"]["reason"] != client.get("/api/v1/nope").json["error"]["reason"]
