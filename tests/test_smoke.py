def test_health_needs_no_key(http):
    assert http.get("/healthz").json == {"status": "ok"}
