"""Answers built to hurt rather than to inform (issue #18, items 8, 9 and 12): deeply nested
JSON, redirects away from the https host, credentials in a base URL. Against a loopback server."""

from __future__ import annotations

import logging

import pytest
from werkzeug import Response

from models.catalog import get_spec
from models.status import ErrorKind
from services.binance import BinanceClient
from services.config import DEFAULT_URLS, Endpoints, check_base_url
from services.errors import BadPayload, InsecureEndpoint, RedirectRefused, ServiceError
from services.http import HttpClient, redirect_allowed
from services.refresh import refresh_series
from services.sources import Sources
from tests.conftest import DEAD_URL

SECRET = "s3cret-pw"


# -- 9: nested JSON is a bad payload, not an internal error ------------------------------------
def test_deeply_nested_json_is_a_transient_bad_payload(httpserver):
    httpserver.expect_request("/api").respond_with_data(
        "[" * 100_000 + "]" * 100_000, content_type="application/json")
    with pytest.raises(BadPayload) as info:
        HttpClient(httpserver.url_for("/")).get_json("/api")
    assert info.value.transient and info.value.kind is ErrorKind.BAD_DATA
    assert "nested too deeply" in str(info.value)


# -- 8: redirects stay on the base URL's host ---------------------------------------------------
def redirect_to(location: str, status: int = 302) -> Response:
    return Response("", status=status, headers={"Location": location})


@pytest.mark.parametrize("location", ["http://203.0.113.7/api/rows",  # plain http, elsewhere
                                      "https://203.0.113.7/api/rows"])  # https, elsewhere
def test_a_redirect_off_the_host_is_refused_and_not_followed(httpserver, location):
    httpserver.expect_request("/api").respond_with_response(redirect_to(location))
    with pytest.raises(RedirectRefused) as info:
        HttpClient(httpserver.url_for("/"), timeout=(0.5, 1.0)).get_json("/api")
    assert info.value.kind is ErrorKind.INSECURE_URL and not info.value.transient
    assert f"refused a redirect (HTTP 302) to {location}" in str(info.value)
    assert len(httpserver.log) == 1  # nothing else was asked


def test_a_redirect_on_loopback_is_followed_within_a_bound(httpserver):
    httpserver.expect_request("/old").respond_with_response(redirect_to("/new?page=2", 301))
    httpserver.expect_request("/new", query_string="page=2").respond_with_json({"rows": [1]})
    assert HttpClient(httpserver.url_for("/")).get_json("/old", {"page": 1}) == {"rows": [1]}

    httpserver.expect_request("/loop").respond_with_response(redirect_to("/loop"))
    with pytest.raises(RedirectRefused, match="more than 3 redirects"):
        HttpClient(httpserver.url_for("/")).get_json("/loop")


@pytest.mark.parametrize(("target", "allowed"), [
    ("https://api.binance.com/api/v3/time", True),
    ("http://api.binance.com/api/v3/klines", False),  # leaves https
    ("https://api.binance.com:8443/api/v3/klines", False),  # another port
    ("https://evil.example/api/v3/klines", False),  # another host
    ("https://api.binance.com.evil.example/x", False),
])
def test_redirects_from_https_stay_on_the_same_https_host(target, allowed):
    assert redirect_allowed("https://api.binance.com", target) is allowed


def test_a_refused_redirect_makes_the_refresh_try_the_fallback_venue(httpserver, cache):
    """BTC spot on Binance redirected to plain http elsewhere: served by Coinbase instead."""
    spec = get_spec("btc.1h")
    httpserver.expect_request("/api/v3/klines").respond_with_response(
        redirect_to("http://203.0.113.7/api/v3/klines"))
    t0 = 1_770_000_000_000 - 1_770_000_000_000 % 3_600_000 - 3_600_000
    httpserver.expect_request("/products/BTC-USD/candles").respond_with_json(
        [[t0 // 1000, 99.0, 101.0, 100.0, 100.5, 12.0]])
    base = httpserver.url_for("/").rstrip("/")
    sources = Sources(Endpoints({name: base for name in DEFAULT_URLS}))
    result = refresh_series(spec, cache, sources, want_start_ms=t0 - 3_600_000,
                            now=t0 + 3_600_000)
    sources.close()
    assert result.ok and result.venue == "coinbase"
    assert [type(e) for e in result.fallback_errors] == [RedirectRefused]


# -- 12: credentials in a URL never reach an error text or the log ------------------------------
def assert_no_secret(error: ServiceError) -> None:
    for text in (str(error), error.message, error.url, repr(error.args)):
        assert SECRET not in text, text


def test_a_failed_request_does_not_show_the_base_urls_password():
    client = HttpClient(DEAD_URL.replace("http://", f"http://rotor:{SECRET}@"),
                        timeout=(0.5, 0.5))
    with pytest.raises(ServiceError) as info:
        client.get_json("/api")
    assert_no_secret(info.value)
    assert info.value.url == "http://***@127.0.0.1:9/api"


def test_a_redirect_carrying_a_password_is_reported_redacted(httpserver):
    httpserver.expect_request("/api").respond_with_response(
        redirect_to(f"https://rotor:{SECRET}@203.0.113.7/api"))
    with pytest.raises(RedirectRefused) as info:
        HttpClient(httpserver.url_for("/").replace("http://", f"http://rotor:{SECRET}@")
                   ).get_json("/api")
    assert_no_secret(info.value)
    assert "to https://***@203.0.113.7/api" in str(info.value)


def test_an_insecure_base_url_is_refused_without_echoing_its_password():
    with pytest.raises(InsecureEndpoint) as info:
        check_base_url("binance", f"http://rotor:{SECRET}@proxy.example:8080")
    assert_no_secret(info.value)
    assert "http://***@proxy.example:8080" in str(info.value)


def test_the_refresh_log_and_status_carry_no_password(httpserver, cache, caplog):
    spec = get_spec("btc.1h")
    httpserver.expect_request("/api/v3/klines").respond_with_response(
        redirect_to(f"http://rotor:{SECRET}@203.0.113.7/api/v3/klines"))
    secret_base = httpserver.url_for("/").rstrip("/").replace("http://", f"http://rotor:{SECRET}@")
    endpoints = Endpoints({name: DEAD_URL for name in DEFAULT_URLS} | {"binance": secret_base})
    sources = Sources(endpoints, overrides={
        "binance": BinanceClient(endpoints, timeout=(0.5, 0.5))})
    with caplog.at_level(logging.DEBUG):
        result = refresh_series(spec, cache, sources)
    sources.close()
    assert not result.ok
    assert "refused a redirect" in caplog.text
    assert SECRET not in caplog.text
    for error in (result.error, *result.fallback_errors):
        assert_no_secret(error)
