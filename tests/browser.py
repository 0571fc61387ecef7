"""Debian's headless Chromium, driven by Selenium through Debian's chromedriver, cut off from every network but
this machine's loopback — so a docs page that works here works offline, and what it asks for is on record.

Nothing is downloaded: the browser and its driver are Debian's packages (`make browser-deps`), Selenium is
given the driver's path (so Selenium Manager is skipped) and SE_OFFLINE is set in case it runs anyway.
Isolation has three layers: every host name but LOCAL_HOST_NAME resolves to nothing; a URL with an address
in it goes to a proxy that is not there; and Chromium's own background services are switched off. The page's
requests (DevTools performance log) and the browser's every socket (its NetLog) are kept for the test to read.
"""
import contextlib
import ipaddress
import json
import os
import shutil
import tempfile
from pathlib import Path

# The real binary, not Debian's /usr/bin/chromium wrapper, which adds flags of its own (extensions, API keys).
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMEDRIVER = "/usr/bin/chromedriver"
# The site under test is opened by this name, not 127.0.0.1: Swagger UI and ReDoc behave differently on
# localhost addresses, and a deployment is reached by a name.
LOCAL_HOST_NAME = "docs.tracker.test"
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, so a proxied request fails at once
WINDOW = "1280,1400"
ISOLATION_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-dev-shm-usage", "--no-default-browser-check",
    f"--host-resolver-rules=MAP {LOCAL_HOST_NAME} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost",
    f"--proxy-server={DEAD_PROXY}", f"--proxy-bypass-list={LOCAL_HOST_NAME}",
)
WEB_SCHEMES = ("http://", "https://", "ws://", "wss://")


def chromium_binary():
    return next((path for path in CHROMIUM_CANDIDATES if os.access(path, os.X_OK)), None)


def missing_browser():
    """Why the browser tests cannot run here (a sentence naming the fix), or None."""
    if chromium_binary() is None or not os.access(CHROMEDRIVER, os.X_OK):
        return "Chromium and its driver are not installed (Debian: chromium chromium-driver; `make browser-deps`)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (requirements.txt; `make install`)"
    return None


class LocalChromium:
    """One headless Chromium with a fresh profile; `requested_urls()` and, after `quit()`, `outside_sockets()`."""

    def __init__(self, directory):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.directory = Path(directory)
        self.netlog = self.directory / "netlog.json"
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=self.directory)
        self._requests = []
        self._console = []
        options = webdriver.ChromeOptions()
        options.binary_location = chromium_binary()
        for flag in (*ISOLATION_FLAGS, f"--user-data-dir={self.profile}", f"--log-net-log={self.netlog}",
                     f"--window-size={WINDOW}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        os.environ.setdefault("SE_OFFLINE", "true")
        service = Service(CHROMEDRIVER, log_output=str(self.directory / "chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=options)

    def _drain_logs(self):
        """DevTools logs are handed over once: keep what arrived since the last look."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self._requests.append(message["params"]["request"]["url"])
        self._console.extend(self.driver.get_log("browser"))

    def requested_urls(self):
        """Every http(s)/ws(s) URL a page of this browser asked for (data:, blob: and chrome: stay inside)."""
        self._drain_logs()
        return [url for url in self._requests if url.startswith(WEB_SCHEMES)]

    def console_errors(self):
        self._drain_logs()
        return [entry["message"] for entry in self._console if entry["level"] == "SEVERE"]

    def quit(self):
        """Close the browser (again: a no-op), which also completes its NetLog."""
        if self.driver is not None:
            self.driver.quit()
            self.driver = None
            shutil.rmtree(self.profile, ignore_errors=True)

    def outside_sockets(self):
        """TCP connections tried, and UDP datagrams sent, to anything but loopback (read from the NetLog after
        quit()). A UDP socket's connect() alone sends nothing: Chromium uses it to look up routes."""
        return [address for address in socket_addresses(read_netlog(self.netlog)) if not is_loopback(address)]


@contextlib.contextmanager
def local_chromium(directory):
    browser = LocalChromium(directory)
    try:
        yield browser
    finally:
        browser.quit()


def artifacts_directory(repository, name):
    """$ARTIFACTS_DIR/NAME (a relative one is taken from the repository), else test-artifacts/NAME, which git
    ignores; created if missing."""
    directory = Path(repository) / os.environ.get("ARTIFACTS_DIR", "test-artifacts") / name
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def screenshot_saver(browser, directory, capsys):
    """A function that saves the browser's viewport as NAME.png in `directory` and says where."""
    def save(name):
        path = directory / f"{name}.png"
        browser.driver.save_screenshot(str(path))
        with capsys.disabled():
            print(f"\n  screenshot: {path}")
        return path
    return save


def by_css(selector):
    from selenium.webdriver.common.by import By
    return By.CSS_SELECTOR, selector


def read_netlog(path):
    """The NetLog as JSON; a log whose writer was cut short lacks its closing brackets, which are restored."""
    text = Path(path).read_text().rstrip().rstrip(",")
    if not text.endswith("}"):
        text += "]}"
    return json.loads(text)


def socket_addresses(netlog):
    """The remote address of every TCP connection attempt and every UDP datagram sent, as 'host:port'."""
    names = {number: name for name, number in netlog["constants"]["logEventTypes"].items()}
    udp_peers = {}
    for event in netlog["events"]:
        name, params = names.get(event["type"]), event.get("params") or {}
        if name == "TCP_CONNECT_ATTEMPT" and "address" in params:  # its end event has none
            yield params["address"]
        elif name == "UDP_CONNECT" and "address" in params:
            udp_peers[event["source"]["id"]] = params["address"]
        elif name == "UDP_BYTES_SENT":
            yield params.get("address") or udp_peers.get(event["source"]["id"], "unknown UDP peer")


def is_loopback(address):
    host = address.rsplit(":", 1)[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
