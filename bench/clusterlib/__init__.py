# bench/clusterlib: what bench/run's cluster_relay workload (issue 14) needs beside its own code:
# a redis-server of the benchmark's own (redis.py) and the nodes' configuration and admin /metrics
# (nodes.py). Python 3 standard library only; loopback only; every wait is bounded.
