"""Helpers of bench/soak (issue 13): a small asyncio WebSocket and HTTP/1.1 client (net), the server
process and its readings (server), the four plugins' load drivers (load) and the growth rule (verdict).
Python 3 standard library only."""
