"""REDIS_URL naming Redis Sentinel or Redis Cluster, with real servers: private redis-server processes on free
ports (a primary, a replica and a sentinel; three cluster nodes), never the machine's shared Redis.

Two apps on one database stand for two workers: the rate limit, the usage counters and /readyz must work
through either topology, and through Sentinel they must follow the primary when it fails over."""
import shutil
import subprocess
import time

import pytest
import redis

from conftest import dispose_app, make_app_like, make_tenant, require_service
from servers import PrivateRedis, free_port
from tracker_api.access.shared_store import redis_client

SERVICE = "tracker"
BUDGET = 4


class RedisServers:
    """Private redis-servers (tests/servers.py's PrivateRedis) in one directory, each with its own config file."""

    def __init__(self, directory):
        if shutil.which("redis-server") is None:
            require_service("redis-server is not installed")
        self.directory = directory
        self.servers = []

    def start(self, *config_lines, sentinel=False):
        port = free_port()
        config = self.directory / f"{port}.conf"  # Sentinel rewrites its config file, so each gets one
        config.write_text("\n".join((f"logfile {self.directory / f'{port}.log'}", *config_lines)) + "\n")
        self.servers.append(PrivateRedis(self.directory, port, config_file=config,
                                         options=["--sentinel"] if sentinel else []))
        return port

    def stop_all(self):
        for server in self.servers:
            server.stop()


def wait_until(condition, what, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    servers = RedisServers(tmp_path_factory.mktemp("redis"))
    yield servers
    servers.stop_all()


@pytest.fixture(scope="module")
def sentinel_setup(servers):
    """A primary, one replica, and a sentinel watching them; returns (REDIS_URL, sentinel port)."""
    primary = servers.start()
    replica = servers.start(f"replicaof 127.0.0.1 {primary}")
    wait_until(lambda: redis.Redis(port=replica).info("replication")["master_link_status"] == "up", "replication")
    sentinel = servers.start(f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 1",
                             f"sentinel down-after-milliseconds {SERVICE} 1000",
                             f"sentinel failover-timeout {SERVICE} 5000", sentinel=True)
    wait_until(lambda: redis.Redis(port=sentinel).sentinel_slaves(SERVICE), "the sentinel to see the replica")
    return f"redis+sentinel://127.0.0.1:{sentinel}/{SERVICE}", sentinel


@pytest.fixture(scope="module")
def cluster_url(servers):
    """Three primaries sharing the 16,384 slots; returns a REDIS_URL naming two of them as start-up nodes."""
    # Each node's cluster bus gets its own free port: the default, port + 10000, may not exist.
    ports = [servers.start("cluster-enabled yes", f"cluster-config-file nodes-{index}.conf",
                           f"cluster-port {free_port()}") for index in range(3)]
    created = subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports),
                              "--cluster-yes"], capture_output=True, text=True, timeout=30)
    assert created.returncode == 0, created.stdout + created.stderr
    for port in ports:
        wait_until(lambda port=port: redis.Redis(port=port).cluster("info")["cluster_state"] == "ok",
                   f"cluster node {port} to be ok")
    return f"redis+cluster://127.0.0.1:{ports[0]},127.0.0.1:{ports[1]}"


@pytest.fixture
def two_workers(postgresql_only_app):
    """A factory of two apps on the same database and REDIS_URL, and a key with a budget of BUDGET."""
    apps = []

    def build(url):
        redis_client(url, {"REDIS_TIMEOUT_SECONDS": 2}).flushall()  # the servers outlive each test
        apps.extend(make_app_like(postgresql_only_app, REDIS_URL=url, RATE_LIMIT_PER_MINUTE=BUDGET)
                    for _ in range(2))
        return apps, make_tenant(postgresql_only_app, 123)
    yield build
    for app in apps:
        dispose_app(app)


def alternate_requests(apps, tenant, count):
    """`count` requests for the bot, worker by worker in turn; their statuses."""
    return [apps[index % 2].test_client().get(f"/api/v1/bots/{tenant.bot_id}", headers=tenant.headers).status_code
            for index in range(count)]


def assert_shared_through(url, two_workers):
    apps, tenant = two_workers(url)
    assert alternate_requests(apps, tenant, BUDGET + 2) == [200] * BUDGET + [429] * 2
    usage = apps[1].test_client().get(f"/api/v1/bots/{tenant.bot_id}/usage", headers=tenant.headers)
    assert usage.status_code == 429  # the budget is spent for both workers, usage reads included
    for app in apps:  # each worker writes the usage it summed (every SHARED_STORE_FLUSH_SECONDS, and at exit)
        app.extensions["shared_store"].flush()
    with apps[0].app_context():
        store = apps[0].extensions["shared_store"]
        days = store.hashes([key for key in store_keys(store) if key.startswith("usage:")])
    assert sum(int(day.get("success", 0)) for day in days) == BUDGET
    assert sum(int(day.get("rate_limited", 0)) for day in days) == 3
    ready = apps[0].test_client().get("/readyz").get_json()
    assert ready["redis"] == "ok" and ready["status"] == "ok"


def store_keys(store):
    """The shared store's keys, without its namespace, from whichever node holds them."""
    prefix = "tracker_api:"
    return [key[len(prefix):] for key in store.client.scan_iter(match=prefix + "*")]


def test_sentinel_url_shares_limits_and_usage_through_the_primary(sentinel_setup, two_workers):
    url, _ = sentinel_setup
    assert_shared_through(url, two_workers)


def test_sentinel_url_follows_the_primary_through_a_failover(sentinel_setup, two_workers):
    url, sentinel_port = sentinel_setup
    sentinel = redis.Redis(port=sentinel_port, decode_responses=True)
    old_primary = sentinel.sentinel_get_master_addr_by_name(SERVICE)
    apps, tenant = two_workers(url)
    assert alternate_requests(apps, tenant, 2) == [200, 200]

    sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)
    wait_until(lambda: sentinel.sentinel_get_master_addr_by_name(SERVICE) != old_primary, "the failover")
    new_primary = redis.Redis(port=int(sentinel.sentinel_get_master_addr_by_name(SERVICE)[1]))
    wait_until(lambda: new_primary.info("replication")["role"] == "master", "the new primary to take writes")
    assert int(new_primary.get(limiter_key(new_primary))) == 2  # replicated before the failover

    # While the old primary turns replica, requests are answered anyway (the outage policy); then counting
    # resumes on the new primary from the replicated count, so the budget is not renewed by a failover.
    def counted_on_new_primary():
        alternate_requests(apps, tenant, 1)
        return int(new_primary.get(limiter_key(new_primary)) or 0) >= 3
    wait_until(counted_on_new_primary, "counting on the new primary")
    already_counted = int(new_primary.get(limiter_key(new_primary)))
    left = max(0, BUDGET - already_counted)
    assert alternate_requests(apps, tenant, BUDGET + 1) == [200] * left + [429] * (BUDGET + 1 - left)
    assert apps[1].test_client().get("/readyz").get_json()["redis"] == "ok"


def limiter_key(client):
    keys = list(client.scan_iter(match="LIMITS*"))
    assert len(keys) == 1, keys
    return keys[0]


def test_cluster_url_shares_limits_and_usage_across_nodes(cluster_url, two_workers):
    assert_shared_through(cluster_url, two_workers)


def test_cluster_url_reaches_the_nodes_not_named_in_it(cluster_url, two_workers, postgresql_only_app):
    apps, tenant = two_workers(cluster_url)
    alternate_requests(apps, tenant, 1)
    with apps[0].app_context():
        client = apps[0].extensions["shared_store"].client
    assert len(client.get_primaries()) == 3  # discovered from the two start-up nodes
    holders = {client.get_node_from_key(key).port for key in client.scan_iter(match="*")}
    assert len(holders) >= 2  # the limiter's and the store's keys are spread over the cluster


@pytest.mark.parametrize("url, message", [
    ("redis+sentinel://127.0.0.1:26379", "service name"),
    ("redis+sentinel://127.0.0.1/tracker", "host and a port"),
    ("redis+cluster://:secret@127.0.0.1", "host and a port"),
])
def test_malformed_topology_urls_are_refused_at_start_up(url, message):
    config = {"REDIS_TIMEOUT_SECONDS": 0.25}
    with pytest.raises(ValueError, match=message):
        redis_client(url, config)
