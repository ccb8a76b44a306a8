"""The alert webhook against loopback HTTPS servers (a throw-away CA from trustme): delivered,
refused, slow, redirected, plain http, 4xx/5xx, and the rule's secrets in no log and no result."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from services.webhook import (
    MAX_REDIRECTS,
    DeliveryResult,
    redact_url,
    send_webhook,
    webhook_problem,
)
from tests.services.tls_loopback import make_ca, tls_server

SECRET_PATH = "hooks/T000/B111/pathsecret42"
SECRET_QUERY = "querysecret77"
SECRET_HEADER = "Bearer headersecret99"
SECRETS = ("pathsecret42", "querysecret77", "headersecret99", "usersecret", "passsecret")
PAYLOAD = {"rule": "squeeze", "summary": "BTC crossed 70k"}


@pytest.fixture(scope="module")
def _ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def ca_file(_ca) -> str:
    return _ca[1]


@pytest.fixture(scope="module")
def _tls_servers(_ca):
    servers = [tls_server(_ca[0], "127.0.0.1"), tls_server(_ca[0], "localhost")]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def tls(_tls_servers):
    server = _tls_servers[0]
    yield server
    server.clear()


@pytest.fixture
def other_tls(_tls_servers):
    """A second https server on another host name (localhost vs 127.0.0.1)."""
    server = _tls_servers[1]
    yield server
    server.clear()


@pytest.fixture(autouse=True)
def _urllib3_debug(caplog):
    """urllib3's own debug lines quote the request path: let them through (the app sets that
    logger to WARNING) so that the secrecy checks below see them."""
    caplog.set_level(logging.DEBUG, logger="urllib3")


def secret_url(server: HTTPServer) -> str:
    return server.url_for(f"/{SECRET_PATH}") + f"?token={SECRET_QUERY}"


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), f"{secret} leaked into {text!r}"


def _log_text(caplog) -> str:
    """What Rotor logged (the test server's own access log is not Rotor's)."""
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records
                     if not r.name.startswith("werkzeug"))


def test_delivered_with_the_payload_and_the_rules_headers(tls, ca_file, caplog):
    caplog.set_level(logging.DEBUG)
    tls.expect_request(f"/{SECRET_PATH}", method="POST",
                       query_string={"token": SECRET_QUERY},
                       headers={"Authorization": SECRET_HEADER}).respond_with_data("ok")
    result = send_webhook(secret_url(tls), {"Authorization": SECRET_HEADER}, PAYLOAD,
                          verify=ca_file)
    assert result == DeliveryResult(True, 200, None)
    (request, _), = tls.log
    assert json.loads(request.get_data()) == PAYLOAD
    assert request.headers["Content-Type"] == "application/json"
    assert_no_secret(_log_text(caplog), result)
    assert "https://127.0.0.1:" in caplog.text  # the host is named, the rest is not


def test_a_closed_port_is_reported_as_refused(caplog):
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    caplog.set_level(logging.DEBUG)
    result = send_webhook(f"https://127.0.0.1:{port}/{SECRET_PATH}?t={SECRET_QUERY}",
                          {"X-Token": SECRET_HEADER}, PAYLOAD, timeout_s=2.0)
    assert not result.ok and result.status is None
    assert result.error == "connection refused" and result.transient
    assert_no_secret(_log_text(caplog), result)


def test_a_host_that_never_answers_times_out(caplog, ca_file):
    # Accepts the TCP connection (the backlog does) and never speaks TLS.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        caplog.set_level(logging.DEBUG)
        result = send_webhook(f"https://127.0.0.1:{port}/{SECRET_PATH}", {}, PAYLOAD,
                              timeout_s=0.3, verify=ca_file)
    assert not result.ok and result.status is None
    assert "timed out" in result.error and result.transient
    assert_no_secret(_log_text(caplog), result)


def test_a_slow_answer_times_out(tls, ca_file, caplog):
    release = threading.Event()

    def slow(_request):
        release.wait(5)
        return Response("late")

    tls.expect_request(f"/{SECRET_PATH}").respond_with_handler(slow)
    caplog.set_level(logging.DEBUG)
    try:
        result = send_webhook(secret_url(tls), {"Authorization": SECRET_HEADER}, PAYLOAD,
                              timeout_s=0.3, verify=ca_file)
    finally:
        release.set()
    deadline = time.monotonic() + 5  # the late answer is logged before the next test clears
    while not tls.log and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not result.ok and result.status is None
    assert result.error == "timed out waiting for the answer" and result.transient
    assert_no_secret(_log_text(caplog), result)


def test_a_redirect_to_another_host_is_refused_and_not_followed(tls, other_tls, ca_file,
                                                                caplog):
    target = other_tls.url_for("/collect") + f"?stolen={SECRET_QUERY}"
    tls.expect_request(f"/{SECRET_PATH}").respond_with_response(
        Response(status=307, headers={"Location": target}))
    other_tls.expect_request("/collect").respond_with_data("ok")
    caplog.set_level(logging.DEBUG)
    result = send_webhook(secret_url(tls), {"Authorization": SECRET_HEADER}, PAYLOAD,
                          verify=ca_file)
    assert not result.ok and result.status == 307
    assert result.error.startswith("refused a redirect (HTTP 307) to https://localhost:")
    assert other_tls.log == []  # never asked: the headers never left for the other host
    assert len(tls.log) == 1
    assert_no_secret(_log_text(caplog), result)


def test_a_redirect_to_plain_http_on_the_same_host_is_refused(tls, ca_file):
    port = tls.port
    tls.expect_request(f"/{SECRET_PATH}").respond_with_response(
        Response(status=302, headers={"Location": f"http://127.0.0.1:{port}/plain"}))
    result = send_webhook(secret_url(tls), {}, PAYLOAD, verify=ca_file)
    assert not result.ok and "refused a redirect (HTTP 302)" in result.error
    assert len(tls.log) == 1


def test_a_same_host_redirect_is_followed_with_the_payload(tls, ca_file, caplog):
    tls.expect_request(f"/{SECRET_PATH}").respond_with_response(
        Response(status=308, headers={"Location": "/v2/hook?k=querysecret77"}))
    tls.expect_request("/v2/hook", method="POST",
                       headers={"Authorization": SECRET_HEADER}).respond_with_data("", 204)
    caplog.set_level(logging.DEBUG)
    result = send_webhook(secret_url(tls), {"Authorization": SECRET_HEADER}, PAYLOAD,
                          verify=ca_file)
    assert result == DeliveryResult(True, 204, None)
    assert [r.path for r, _ in tls.log] == [f"/{SECRET_PATH}", "/v2/hook"]
    assert json.loads(tls.log[1][0].get_data()) == PAYLOAD
    assert_no_secret(_log_text(caplog), result)


def test_redirects_are_followed_at_most_three_times(tls, ca_file):
    tls.expect_request("/loop").respond_with_response(
        Response(status=307, headers={"Location": "/loop"}))
    result = send_webhook(tls.url_for("/loop"), {}, PAYLOAD, verify=ca_file)
    assert not result.ok
    assert result.error == f"more than {MAX_REDIRECTS} redirects"
    assert len(tls.log) == MAX_REDIRECTS + 1


def test_plain_http_is_refused_before_any_request(httpserver, caplog):
    httpserver.expect_request("/hook").respond_with_data("ok")
    caplog.set_level(logging.DEBUG)
    url = httpserver.url_for("/hook") + f"?token={SECRET_QUERY}"
    result = send_webhook(url, {"Authorization": SECRET_HEADER}, PAYLOAD)
    assert not result.ok and result.status is None
    assert result.error.startswith("webhooks must use https://") and not result.transient
    assert httpserver.log == []
    assert_no_secret(_log_text(caplog), result)


@pytest.mark.parametrize(("status", "reason"), [(400, "BAD REQUEST"), (403, "FORBIDDEN"),
                                                (404, "NOT FOUND"), (429, "TOO MANY REQUESTS"),
                                                (500, "INTERNAL SERVER ERROR"),
                                                (503, "SERVICE UNAVAILABLE")])
def test_an_error_status_is_reported_with_its_code(tls, ca_file, caplog, status, reason):
    # The body echoes the secrets: it must not be copied into the result.
    tls.expect_request(f"/{SECRET_PATH}").respond_with_data(
        f"bad token {SECRET_QUERY} {SECRET_HEADER}", status)
    caplog.set_level(logging.DEBUG)
    result = send_webhook(secret_url(tls), {"Authorization": SECRET_HEADER}, PAYLOAD,
                          verify=ca_file)
    assert result == DeliveryResult(False, status, f"HTTP {status} ({reason})",
                                    transient=status in (429, 500, 503))  # worth a retry
    assert_no_secret(_log_text(caplog), result)


def test_an_untrusted_certificate_is_refused(tls):
    tls.expect_request(f"/{SECRET_PATH}").respond_with_data("ok")
    result = send_webhook(secret_url(tls), {}, PAYLOAD)  # the system CAs do not know trustme's
    assert not result.ok
    assert result.error.startswith("TLS failed") and not result.transient
    assert tls.log == []
    assert_no_secret(result)


def test_a_header_value_with_a_line_break_is_refused_without_quoting_it(caplog):
    caplog.set_level(logging.DEBUG)
    result = send_webhook("https://hooks.example.com/x",
                          {"Authorization": "headersecret99\r\nX: y"}, PAYLOAD)
    assert not result.ok
    assert result.error == ("webhook header 'Authorization' has an invalid value (not text, "
                            "or a line break)")
    assert_no_secret(_log_text(caplog), result)


def test_a_payload_that_is_not_json_is_a_result_not_an_exception():
    result = send_webhook("https://hooks.example.com/x", {}, {"v": float("nan")})
    assert not result.ok and "JSON" in result.error


def test_a_bad_timeout_is_a_result():
    assert not send_webhook("https://hooks.example.com/x", {}, PAYLOAD, timeout_s=0).ok


@pytest.mark.parametrize(("url", "problem"), [
    ("https://hooks.example.com/services/T/B/x", None),
    ("https://hooks.example.com:8443/x?y=1", None),
    ("https://user:pw@hooks.example.com/x", "put credentials in a header"),
    ("HTTPS://hooks.example.com", None),
    ("http://hooks.example.com/x", "webhooks must use https://"),
    ("http://127.0.0.1:8080/x", "webhooks must use https://"),
    ("ftp://hooks.example.com/x", "webhooks must use https://"),
    ("hooks.example.com/x", "webhooks must use https://"),
    ("", "the webhook URL is empty"),
    ("   ", "the webhook URL is empty"),
    ("https:///path", "the webhook URL has no host"),
    ("https://hooks.example.com/a b", "the webhook URL contains spaces"),
    ("https://hooks.example.com/x\n", "the webhook URL contains spaces"),
    ("https://hooks.example.com:99999/x", "the webhook URL is not a valid URL"),
    ("https://hooks.example.com:abc/x", "the webhook URL is not a valid URL"),
    ("https://hooks.example.com/" + "a" * 3000, "the webhook URL is longer than"),
])
def test_webhook_problems(url, problem):
    found = webhook_problem(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)


def test_credentials_in_the_url_are_refused_without_a_request(caplog):
    caplog.set_level(logging.DEBUG)
    result = send_webhook("https://usersecret:passsecret@127.0.0.1:9/x", {}, PAYLOAD)
    assert result.error == "put credentials in a header, not in the webhook URL"
    assert_no_secret(_log_text(caplog), result)


def test_a_non_string_url_is_a_problem():
    assert webhook_problem(None) == "the webhook URL is empty"  # type: ignore[arg-type]


@pytest.mark.parametrize(("url", "shown"), [
    ("https://hooks.slack.com/services/T0/B1/secret", "https://hooks.slack.com/…"),
    ("https://user:passsecret@hooks.example.com", "https://hooks.example.com/…"),
    ("https://hooks.example.com/?token=x", "https://hooks.example.com/…"),
    ("https://hooks.example.com#frag", "https://hooks.example.com/…"),
    ("https://hooks.example.com/", "https://hooks.example.com/"),
    ("https://Hooks.Example.com:8443", "https://hooks.example.com:8443/"),
    ("https://[::1]:9000/x", "https://[::1]:9000/…"),
    ("not a url", "<invalid URL>"),
    ("https://h:bad/x", "<invalid URL>"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown
