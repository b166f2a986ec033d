# bench/clusterlib/nodes.py: the cluster_relay workload's Switchboard configuration and the nodes'
# admin /metrics.
#
# node_config() turns bench/run's PeerJS relay configuration (SWITCHBOARD_INI, the one the
# saturation workload uses) into a node's: the admin listener on, on 127.0.0.1 and a port of its
# own (for /metrics), and, for a clustered node, a [cluster] section pointing at the benchmark's
# redis-server. Every other line stays as it is.

import urllib.error
import urllib.request

ADMIN_OFF = "[admin]\nenabled = false\n"

# The node metrics the workload reads before and after each window (docs/operations.md, /metrics).
CLUSTER_COUNTERS = ("switchboard_cluster_redis_commands_total", "switchboard_cluster_published_total",
                    "switchboard_cluster_received_total", "switchboard_cluster_dropped_total",
                    "switchboard_cluster_redis_reconnects_total")


class MetricsError(Exception):
    """/metrics did not answer, or not with Prometheus text."""


def node_config(relay_ini, admin_port, cluster=None):
    """relay_ini: bench/run's SWITCHBOARD_INI (a str.format template with {port}, {data}, {loops});
    cluster: None for a lone node, else {"node_id", "redis_port", "key_prefix"}. Returns a template of
    the same form."""
    if relay_ini.count(ADMIN_OFF) != 1:
        raise ValueError("the relay configuration has no '[admin] enabled = false' section to replace")
    text = relay_ini.replace(ADMIN_OFF, "[admin]\nenabled = true\naddress = 127.0.0.1\nport = %d\n" % admin_port)
    if cluster:
        text += ("[cluster]\nenabled = true\nnode_id = %s\nredis_host = 127.0.0.1\nredis_port = %d\n"
                 "key_prefix = %s\n" % (cluster["node_id"], cluster["redis_port"], cluster["key_prefix"]))
    return text


def parse_metrics(text):
    """Prometheus text: {"name{labels}": value} for every sample line."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            values[name] = float(value)
        except ValueError:
            continue
    return values


def scrape(admin_port, timeout=5.0):
    """GET http://127.0.0.1:<admin_port>/metrics, parsed."""
    url = "http://127.0.0.1:%d/metrics" % admin_port
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return parse_metrics(response.read().decode(errors="replace"))
    except (OSError, urllib.error.URLError, ValueError) as e:
        raise MetricsError("%s: %s" % (url, e))


def total(metrics, name):
    """The sum of every sample of a metric (all label sets); None when the node does not export it."""
    found = [v for k, v in metrics.items() if k == name or k.startswith(name + "{")]
    return sum(found) if found else None


def delta(a, b, name):
    x, y = total(a, name), total(b, name)
    return None if x is None or y is None else y - x
