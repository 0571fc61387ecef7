"""Webhook URLs (tracker_api/webhooks/addresses.py): every spelling of a local address is refused when the URL is
created and when it is changed, by the same rule the worker applies before each delivery (issue 20).

The system resolver reads short, octal, hex and single-number IPv4 forms (inet_aton), IPv6 with zones and with an
IPv4 address inside, trailing dots, percent-encoded and internationalised host names: each is an address here too.
"""
import pytest

from conftest import in_app, make_webhook
from tracker_api.webhooks import addresses
from tracker_api.webhooks.addresses import UnsafeUrl, address_to_connect, canonical_host, check_url, parse_target
from tracker_api.webhooks.delivery import post, run_worker
from webhook_receiver import Receiver

# (url, what it really is) -- the spellings first, then more of the same families.
LOCAL_SPELLINGS = [
    ("http://127.1/", "127.0.0.1"),
    ("http://0177.0.0.1/", "127.0.0.1"),
    ("http://0x7f.0.0.1/", "127.0.0.1"),
    ("http://10.1/", "10.0.0.1"),
    ("http://0xa.0.0.1/", "10.0.0.1"),
    ("http://0251.0376.0251.0376/latest", "169.254.169.254"),
    ("http://169.254.43518/latest", "169.254.169.254"),
    ("http://2130706433/", "127.0.0.1"),
    ("http://017700000001/", "127.0.0.1"),
    ("http://0x7f000001/", "127.0.0.1"),
    ("http://0X7F.1/", "127.0.0.1"),
    ("http://0x7f.0.1/", "127.0.0.1"),
    ("http://127.0.1/", "127.0.0.1"),
    ("http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254"),
    ("http://0xa9fea9fe/", "169.254.169.254"),
    ("http://2852039166/", "169.254.169.254"),
    ("http://0/", "0.0.0.0"),
    ("http://0x0/", "0.0.0.0"),
    ("http://192.168.257/", "192.168.1.1"),
    ("http://0300.0250.1.1/", "192.168.1.1"),
    ("http://172.16.1/", "172.16.0.1"),
    ("http://100.64.1/", "100.64.0.1"),
    ("http://127.0.0.1./", "127.0.0.1"),
    ("http://127.1.:8080/", "127.0.0.1"),
    ("http://127%2e0%2e0%2e1/", "127.0.0.1"),
    ("http://%31%32%37.1/", "127.0.0.1"),
    ("http://１２７.０.０.１/", "127.0.0.1"),
    ("http://127。0。0。1/", "127.0.0.1"),
    ("http://①②⑦.0.0.1/", "127.0.0.1"),
    ("http://%E2%91%A0%E2%91%A1%E2%91%A6.1/", "127.0.0.1"),
    ("http://0x7f.1%2e/", "127.0.0.1"),
    ("http://localhost./", "localhost"),
    ("http://LOCALHOST/", "localhost"),
    ("http://localhost%2E/", "localhost"),
    ("http://ｌｏｃａｌｈｏｓｔ/", "localhost"),
    ("http://metadata.google.internal./computeMetadata/v1/", "metadata.google.internal"),
    ("http://app.localhost./", "app.localhost"),
    ("http://[::1]/", "::1"),
    ("http://[0:0:0:0:0:0:0:1]/", "::1"),
    ("http://[::]/", "::"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
    ("http://[::ffff:7f00:1]/", "::ffff:7f00:1"),
    ("http://[::ffff:169.254.169.254]/", "::ffff:a9fe:a9fe"),
    ("http://[::127.0.0.1]/", "::7f00:1"),
    ("http://[::10.0.0.1]/", "::a00:1"),
    ("http://[::ffff:0:127.0.0.1]/", "::ffff:0:7f00:1"),
    ("http://[64:ff9b::169.254.169.254]/", "64:ff9b::a9fe:a9fe"),
    ("http://[64:ff9b:1::a00:1]/", "64:ff9b:1::a00:1"),
    ("http://[2002:7f00:1::]/", "2002:7f00:1::"),
    ("http://[2002:a9fe:a9fe::1]/", "2002:a9fe:a9fe::1"),
    ("http://[fe80::1%25eth0]/", None),
    ("http://[fe80::1%25lo]:8080/", None),
    ("http://[fe80::1]/", "fe80::1"),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254"),
    ("http://[FD00:EC2::254]/", "fd00:ec2::254"),
    ("http://[ff02::1]/", "ff02::1"),
]

# Spellings that are no host at all: refused as such, never looked up.
NOT_HOSTS = ["http://a%2fb.example.com/", "http://a%00b.example.com/", "http://127.0.0.1%00.example.com/",
             "http://exa mple.com/", "http://0x/", "http://256.1/", "http://1.2.3.256/", "http://0x100000000/",
             "http://[::1%25]/", "http://bad..example.com/", "http://-bad.example.com/"]


def create(http, tenant, url):
    return http.post(f"/api/v1/webhooks/{tenant.bot_id}", json={"url": url}, headers=tenant.headers)


@pytest.mark.parametrize("url,address", LOCAL_SPELLINGS)
def test_every_spelling_of_a_local_address_is_read_as_the_resolver_reads_it(url, address):
    if address is None:
        with pytest.raises(UnsafeUrl, match="zone index"):
            parse_target(url)
    else:
        assert parse_target(url).host == address


@pytest.mark.parametrize("url", [url for url, _ in LOCAL_SPELLINGS] + NOT_HOSTS)
def test_every_spelling_of_a_local_address_is_refused_on_create_and_patch(app, http, tenant, url):
    created = create(http, tenant, url)
    assert created.status_code == 422, (url, created.get_json())
    assert created.content_type == "application/problem+json" and created.get_json()["errors"]["url"]
    webhook_id, _ = make_webhook(app, tenant.bot_id)
    path = f"/api/v1/webhooks/{tenant.bot_id}/{webhook_id}"
    patched = http.patch(path, json={"url": url}, headers=tenant.headers)
    assert patched.status_code == 422, (url, patched.get_json())
    assert patched.get_json()["errors"]["url"]
    assert http.get(path, headers=tenant.headers).get_json()["url"] == "https://hooks.example.com/tracker"


@pytest.mark.parametrize("url", [url for url, _ in LOCAL_SPELLINGS] + NOT_HOSTS)
def test_the_worker_refuses_what_creation_refuses(url, monkeypatch):
    """One rule: a URL saved before this fix (or written by hand) is refused at delivery with the same reason,
    and no connection is made (resolve would be the only way out; it is never reached)."""
    monkeypatch.setattr(addresses, "resolve", lambda host, port: pytest.fail(f"{host} was looked up"))
    with pytest.raises(UnsafeUrl) as at_creation:
        check_url(url)
    outcome = post(url, b"{}", {}, {"WEBHOOK_ALLOWED_HOSTS": ()})
    assert outcome.status_code is None and outcome.error == str(at_creation.value)


@pytest.mark.parametrize("url,host", [
    ("https://hooks.example.com/tracker", "hooks.example.com"),
    ("https://HOOKS.Example.COM./tracker", "hooks.example.com"),
    ("https://bücher.example/hooks", "xn--bcher-kva.example"),
    ("https://xn--bcher-kva.example/hooks", "xn--bcher-kva.example"),
    ("https://ｈｏｏｋｓ．example.com/", "hooks.example.com"),
    ("https://hooks%2Eexample.com/", "hooks.example.com"),
    ("https://my_hooks.example.com/", "my_hooks.example.com"),
    ("http://8.8.8.8/", "8.8.8.8"),
    ("http://134744072/", "8.8.8.8"),
    ("http://0x08080808/", "8.8.8.8"),
    ("http://8.8.2056/", "8.8.8.8"),
    ("https://[2606:4700:4700::1111]/", "2606:4700:4700::1111"),
    ("https://[::ffff:8.8.8.8]/", "::ffff:808:808"),
    ("https://[64:ff9b::8.8.8.8]/", "64:ff9b::808:808"),
])
def test_public_hosts_are_accepted_in_their_canonical_form(app, http, tenant, url, host):
    assert check_url(url).host == host
    response = create(http, tenant, url)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["url"] == url  # stored as given; every check reads it the same way


def test_the_canonical_host_is_what_the_worker_connects_to_and_names(monkeypatch):
    looked_up = []
    monkeypatch.setattr(addresses, "resolve", lambda host, port: looked_up.append(host) or ["93.184.216.34"])
    target = parse_target("https://BÜCHER.example./hooks")
    assert address_to_connect(target) == "93.184.216.34" and looked_up == ["xn--bcher-kva.example"]
    assert target.host_header == "xn--bcher-kva.example"


@pytest.mark.parametrize("allowed,url", [
    ("127.0.0.1", "http://127.1:{port}/hooks"),
    ("127.0.0.1", "http://0x7f.0.0.1:{port}/hooks"),
    ("127.0.0.1", "http://2130706433:{port}/hooks"),
    ("127.1", "http://127.0.0.1:{port}/hooks"),
    ("127.0.0.1", "http://127.0.0.1.:{port}/hooks"),
])
def test_the_operators_allowance_covers_every_spelling_of_the_allowed_host(app, http, tenant, monkeypatch,
                                                                          allowed, url):
    """WEBHOOK_ALLOWED_HOSTS still exempts a host, compared in canonical form: creation and delivery agree."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", (allowed,))
    receiver = Receiver()
    try:
        response = create(http, tenant, url.format(port=receiver.port))
        assert response.status_code == 201, response.get_json()
        test_event = http.post(f"/api/v1/webhooks/{tenant.bot_id}/{response.get_json()['id']}/test",
                               headers=tenant.headers)
        assert test_event.status_code == 202, test_event.get_json()
        in_app(app, run_worker, once=True)
        [request] = receiver.requests
        assert request.event_type == "webhook.test" and request.path == "/hooks"
    finally:
        receiver.stop()


def test_without_the_allowance_a_short_loopback_spelling_is_refused_at_delivery(app, http, tenant, monkeypatch):
    """The outside test's case: saved while allowed, then the operator withdraws the allowance."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ("127.0.0.1",))
    receiver = Receiver()
    try:
        webhook = create(http, tenant, f"http://127.1:{receiver.port}/").get_json()
        monkeypatch.setitem(app.config, "WEBHOOK_ALLOWED_HOSTS", ())
        http.post(f"/api/v1/webhooks/{tenant.bot_id}/{webhook['id']}/test", headers=tenant.headers)
        in_app(app, run_worker, once=True)
        assert receiver.requests == []
        log = http.get(f"/api/v1/webhooks/{tenant.bot_id}/{webhook['id']}/deliveries",
                       headers=tenant.headers).get_json()
        assert "not a loopback one (127.0.0.1)" in log["deliveries"][0]["last_error"]
    finally:
        receiver.stop()


@pytest.mark.parametrize("host", ["", ".", "%", "%zz.example.com", "xn--.example"])
def test_a_host_that_cannot_be_read_is_refused_not_guessed(host):
    with pytest.raises(UnsafeUrl):
        canonical_host(host)
