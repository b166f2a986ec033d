"""The load: the four plugins driven at once, with connections churning, every wait bounded.

Each driver runs a fixed number of workers; a worker repeats one *session* (connect, a randomised
number of exchanges, a clean goodbye, close) until the run stops, so the connection count stays
steady while connections come and go. Every reply or relayed message a session waits for has a
deadline; a failure (a deadline passed, an error reply, an unexpected close, a frame that differs
from what the protocol says) counts as one error of that plugin, ends the session, and the worker
starts a new one after a pause.

Counters: for each plugin, data frames sent (plus HTTP requests: REST posts, publishes) and data
frames received, WebSocket connections opened and closed, and errors by kind."""

import asyncio
import base64
import bisect
import collections
import json
import os
import random
import re
import time
import traceback

from . import net
from .net import compact

PLUGINS = ("peerjs", "govpn", "together", "peervault")
UUID = re.compile(rb"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
REPLY_TIMEOUT = 15.0  # seconds a reply or a relayed message may take (the machine is shared)


def now():
    return time.monotonic()


class SoakError(Exception):
    """A protocol failure: kind is a stable category (counted), detail says what happened."""

    def __init__(self, kind, detail=""):
        super().__init__("%s: %s" % (kind, detail) if detail else kind)
        self.kind = kind
        self.detail = detail


class Counted(Exception):
    """A failure already counted (the error reply or the close was counted when it arrived)."""


def kind_of(message):
    """An error message made into a category: long numbers and ids are elided."""
    text = re.sub(r"[0-9a-fA-F-]{12,}|\d{4,}", "#", str(message))
    return text.splitlines()[0][:110] if text else "?"


class PluginStats:
    def __init__(self):
        self.sent = 0
        self.received = 0
        self.http_requests = 0
        self.ws_opened = 0
        self.ws_closed = 0
        self.ws_open = 0
        self.http_open = 0
        self.sessions = 0
        self.checked = 0  # relayed messages and deliveries checked against the protocol
        self.events = collections.Counter()  # notable paths taken (reattach, rejoin, refresh...)
        self.errors = collections.Counter()
        self.examples = {}

    @property
    def error_count(self):
        return sum(self.errors.values())


class Hooks:
    """Counts one plugin's traffic for the WebSocket and HTTP clients."""

    def __init__(self, ctx, plugin):
        self.ctx = ctx
        self.plugin = plugin
        self.stats = ctx.stats[plugin]

    def ws_opened(self, ws):
        self.stats.ws_opened += 1
        self.stats.ws_open += 1
        self.ctx.sockets.add(ws)

    def ws_closed(self, ws):
        self.stats.ws_closed += 1
        self.stats.ws_open -= 1
        self.ctx.sockets.discard(ws)
        if not ws.we_closed and not ws.expected_close:
            self.ctx.error(self.plugin, "unexpected close by the server (code %s %s)" % (ws.close_code, ws.close_reason),
                           ws.name)
        if ws.protocol_error:
            self.ctx.error(self.plugin, "WebSocket problem: " + ws.protocol_error, ws.name)
        if ws.dropped:
            self.ctx.error(self.plugin, "messages nobody waited for (inbox overflow)", "%d on %s" % (ws.dropped, ws.name))

    def ws_sent(self, ws):
        self.stats.sent += 1

    def ws_received(self, ws):
        self.stats.received += 1

    def http_opened(self, client):
        self.stats.http_open += 1

    def http_closed(self, client):
        self.stats.http_open -= 1

    def http_request(self, client):
        self.stats.sent += 1
        self.stats.http_requests += 1


class Ctx:
    def __init__(self, ports, seed, peervault_token):
        self.host = "127.0.0.1"
        self.ports = ports
        self.rng = random.Random(seed)
        self.stop = asyncio.Event()
        self.stats = {p: PluginStats() for p in PLUGINS}
        self.hooks = {p: Hooks(self, p) for p in PLUGINS}
        self.sockets = set()
        self.http_clients = []
        self.peervault_token = peervault_token
        self.pending = set()  # (plugin, worker) that have not completed a first session set-up yet
        self.setup_done_at = None

    def expect_up(self, plugin, count):
        self.pending.update((plugin, i) for i in range(count))

    def up(self, plugin, worker):
        if self.pending:
            self.pending.discard((plugin, worker))
            if not self.pending:
                self.setup_done_at = now()

    @property
    def setup_done(self):
        """Every worker has set up its first session (rooms created, users registered, peers open)."""
        return not self.pending

    @property
    def stopping(self):
        return self.stop.is_set()

    async def sleep(self, seconds):
        """Sleeps; True (at once) when the run is stopping."""
        if self.stop.is_set():
            return True
        if seconds <= 0:
            return False
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
            return True
        except TimeoutError:
            return False

    def error(self, plugin, kind, detail="", count=1):
        stats = self.stats[plugin]
        stats.errors[kind] += count
        examples = stats.examples.setdefault(kind, [])
        if len(examples) < 3 and detail:
            examples.append(detail[:300])

    async def ws(self, plugin, listener, path, headers=None, on_message=None, name=""):
        ws = net.WebSocket(self.hooks[plugin], on_message, name or plugin)
        await ws.connect(self.host, self.ports[listener], path, headers, timeout=REPLY_TIMEOUT)
        return ws

    def http(self, plugin, listener):
        client = net.HttpClient(self.host, self.ports[listener], self.hooks[plugin])
        self.http_clients.append(client)
        return client

    def client_connections(self):
        ws = sum(s.ws_open for s in self.stats.values())
        http = sum(s.http_open for s in self.stats.values())
        return ws, http

    def abort_all(self):
        for ws in list(self.sockets):
            ws.expected_close = True
            ws.abort()
        for client in self.http_clients:
            client.close()


def send(ws, data):
    """Sends one message; a socket the server has closed is a failure its close hook already counted."""
    if not ws.send(data):
        if ws.closed and not ws.we_closed and not ws.expected_close:
            raise Counted()
        raise SoakError("send on a socket that is closed", ws.name)


async def close_all(sockets, timeout=5.0):
    live = [ws for ws in sockets if ws is not None and not ws.closed]
    if live:
        await asyncio.gather(*(ws.close(timeout=timeout) for ws in live), return_exceptions=True)


async def wait_closed(ws, timeout):
    deadline = now() + timeout
    while not ws.closed and now() < deadline:
        await asyncio.sleep(0.05)
    return ws.closed


async def repeat(ctx, plugin, session, pause=(1.0, 3.0)):
    """Runs session() until the run stops; each failure is one error and a pause."""
    while not ctx.stopping:
        ctx.stats[plugin].sessions += 1
        try:
            await session()
        except asyncio.CancelledError:
            raise
        except Counted:
            pass
        except net.Closed:
            pass  # the close hook counted it (if the server closed it unexpectedly)
        except SoakError as e:
            ctx.error(plugin, e.kind, e.detail)
        except TimeoutError as e:
            ctx.error(plugin, "timeout: " + kind_of(e), str(e))
        except net.NetError as e:
            ctx.error(plugin, kind_of(e), str(e))
        except Exception as e:  # a bug of this script: counted and shown, never silent
            ctx.error(plugin, "client exception %s" % type(e).__name__, traceback.format_exc()[-600:])
        if await ctx.sleep(ctx.rng.uniform(*pause)):
            break


def pace(next_at, period):
    """The next time of a fixed-rate schedule that never bursts to catch up."""
    t = now()
    next_at += period
    return next_at if next_at > t - period else t


# ---------------------------------------------------------------------------------------------
# PeerJS: pairs of peers. Per session: A gets an id over HTTP (GET /peerjs/peerjs/id) and connects,
# sends an OFFER to B before B is online (queued, §9), B connects and gets OPEN then that OFFER;
# rounds of OFFER, ANSWER and three CANDIDATEs relayed between them (each checked byte for byte
# against §6.2), HEARTBEATs every 5 s as the real client sends them, sometimes a reattach of B (the
# same id and token on a new socket: OPEN there, close 4000 on the old one, §5.3); at the end a
# LEAVE from A to B and both close.


class PeerJs:
    PATH = "/peerjs/peerjs?key=peerjs&id=%s&token=%s&version=1.5.5"
    OPEN = b'{"type":"OPEN"}'
    HEARTBEAT = b'{"type":"HEARTBEAT"}'

    def __init__(self, ctx, pairs, round_interval=2.0, session_s=(20.0, 60.0), reattach_p=0.01):
        self.ctx = ctx
        self.pairs = pairs
        self.round_interval = round_interval
        self.session_s = session_s
        self.reattach_p = reattach_p
        self.http = [ctx.http("peerjs", "main") for _ in range(2)]
        self.connections = 2 * pairs
        ctx.expect_up("peerjs", pairs)

    def tasks(self):
        return [repeat(self.ctx, "peerjs", lambda i=i: self.session(i)) for i in range(self.pairs)]

    async def connect(self, peer_id, token, name):
        return await self.ctx.ws("peerjs", "main", self.PATH % (peer_id, token), name=name)

    @staticmethod
    async def expect_exact(ws, expected, what):
        got = await ws.expect(None, REPLY_TIMEOUT, what)
        if got != expected:
            raise SoakError("PeerJS frame differs from the protocol (%s)" % what,
                            "expected %r, got %r" % (expected[:200], got[:200]))

    async def relay(self, src, src_id, dst, dst_id, kind, payload):
        message = {"type": kind, "dst": dst_id}
        relayed = {"type": kind, "src": src_id, "dst": dst_id}
        if payload is not None:
            message["payload"] = relayed["payload"] = payload
        send(src, compact(message))
        await self.expect_exact(dst, compact(relayed).encode(), "relayed " + kind)
        self.ctx.stats["peerjs"].checked += 1

    async def session(self, idx):
        ctx = self.ctx
        rng = ctx.rng
        sockets = []
        try:
            status, _, body = await self.http[idx % 2].request(
                "GET", "/peerjs/peerjs/id?ts=%d%s&version=1.5.5" % (time.time() * 1000, rng.random()))
            if status != 200 or not UUID.match(body):
                raise SoakError("GET /peerjs/peerjs/id: not 200 with a UUID", "%d %r" % (status, body[:100]))
            id_a = body.decode()
            id_b = "soak-%d-%s" % (idx, os.urandom(6).hex())
            token_a, token_b = os.urandom(6).hex(), os.urandom(6).hex()
            a = await self.connect(id_a, token_a, "peerjs A%d" % idx)
            sockets.append(a)
            await self.expect_exact(a, self.OPEN, "OPEN")
            queued = {"sdp": {"type": "offer", "sdp": "v=0 queued %d" % idx}, "type": "data",
                      "connectionId": "dc_q%s" % os.urandom(4).hex()}
            send(a, compact({"type": "OFFER", "dst": id_b, "payload": queued}))
            # The OFFER must be queued before B registers: a HEARTBEAT behind it on the same socket cannot
            # prove that (no answer), so give the server a moment; a late OFFER would then come live, which
            # is equally correct and yields the same bytes.
            await asyncio.sleep(0.05)
            b = await self.connect(id_b, token_b, "peerjs B%d" % idx)
            sockets.append(b)
            await self.expect_exact(b, self.OPEN, "OPEN")
            await self.expect_exact(b, compact({"type": "OFFER", "src": id_a, "dst": id_b, "payload": queued}).encode(),
                                    "queued OFFER")
            ctx.up("peerjs", idx)
            end = now() + rng.uniform(*self.session_s)
            last_heartbeat = now()
            n = 0
            while not ctx.stopping and now() < end:
                n += 1
                cid = "dc_%d_%d" % (idx, n)
                await self.relay(a, id_a, b, id_b, "OFFER",
                                 {"sdp": {"type": "offer", "sdp": "v=0\r\no=- %d 2 IN IP4 127.0.0.1" % n},
                                  "type": "data", "connectionId": cid, "label": cid, "reliable": True,
                                  "serialization": "json"})
                await self.relay(b, id_b, a, id_a, "ANSWER",
                                 {"sdp": {"type": "answer", "sdp": "v=0 answer %d" % n}, "type": "data",
                                  "connectionId": cid})
                for src, sid, dst, did, k in ((a, id_a, b, id_b, 1), (a, id_a, b, id_b, 2), (b, id_b, a, id_a, 3)):
                    await self.relay(src, sid, dst, did, "CANDIDATE",
                                     {"candidate": {"candidate": "candidate:%d 1 udp 2122260223 127.0.0.1 %d typ host" %
                                                    (k, 50000 + n % 10000), "sdpMid": "0", "sdpMLineIndex": 0},
                                      "type": "data", "connectionId": cid})
                if now() - last_heartbeat >= 5.0:
                    send(a, self.HEARTBEAT)
                    send(b, self.HEARTBEAT)
                    last_heartbeat = now()
                if rng.random() < self.reattach_p:
                    # peer.reconnect(): the same id and token on a new socket while the old one is open.
                    b.expected_close = True
                    b2 = await self.connect(id_b, token_b, "peerjs B%d'" % idx)
                    sockets.append(b2)
                    await self.expect_exact(b2, self.OPEN, "OPEN after a reattach")
                    if not await wait_closed(b, REPLY_TIMEOUT):
                        raise SoakError("PeerJS reattach: the old socket was not closed")
                    if b.close_code != 4000:
                        raise SoakError("PeerJS reattach: the old socket was closed with %s, not 4000" % b.close_code)
                    b = b2
                    ctx.stats["peerjs"].events["reattach"] += 1
                if await ctx.sleep(rng.uniform(0.5, 1.5) * self.round_interval):
                    break
            await self.relay(a, id_a, b, id_b, "LEAVE", None)
        finally:
            await close_all(sockets)


# ---------------------------------------------------------------------------------------------
# GoVPN: rooms of an owner and members, every client connecting with X-Client-ID (UserRooms and
# ClientIPInfo pushed first, §5). Per session (a room's life, 45 to 180 s): CreateRoom, the members'
# JoinRoom; then rounds of Offer, Answer and Candidate between two online members (base64 payload
# form, checked fields of §7.2), Pings, members dropping and reconnecting (ConnectRoom), sometimes a
# member leaving and joining again; at the end the owner leaves, which deletes the room (RoomDeleted
# to the members online).


def random_key():
    return base64.b64encode(os.urandom(32)).decode()


def govpn_frame(kind, payload):
    mid = os.urandom(4).hex()
    body = base64.b64encode(compact(payload).encode()).decode()
    return mid, compact({"message_id": mid, "type": kind, "payload": body})


class Member:
    def __init__(self, name):
        self.name = name
        self.key = random_key()
        self.ws = None
        self.online = False
        self.back_at = 0.0
        self.last_ping = 0.0


class Govpn:
    NOTIFICATIONS = frozenset(("PeerJoined", "PeerConnected", "PeerDisconnected", "PeerLeft", "RoomRenamed"))
    PIN = "4711"

    def __init__(self, ctx, rooms, members=4, round_interval=1.0, room_s=(45.0, 180.0), drop_p=0.02,
                 rejoin_p=0.005):
        self.ctx = ctx
        self.rooms = rooms
        self.members = members
        self.round_interval = round_interval
        self.room_s = room_s
        self.drop_p = drop_p
        self.rejoin_p = rejoin_p
        self.connections = rooms * members
        ctx.expect_up("govpn", rooms)

    def tasks(self):
        return [repeat(self.ctx, "govpn", lambda i=i: self.room(i), pause=(1.0, 4.0)) for i in range(self.rooms)]

    def on_message(self, ws, opcode, data):
        try:
            frame = json.loads(data)
            kind, mid, payload = frame["type"], frame["message_id"], frame["payload"]
            if isinstance(payload, str):
                payload = json.loads(base64.b64decode(payload, validate=True)) if payload else None
        except (ValueError, KeyError, TypeError) as e:
            self.ctx.error("govpn", "GoVPN frame not in the protocol's form", "%s: %r" % (e, data[:200]))
            return None
        if kind == "Error":
            self.ctx.error("govpn", "Error reply: " + str((payload or {}).get("error")), ws.name)
        if kind in self.NOTIFICATIONS:
            return None
        return kind, mid, payload

    async def connect(self, member, room_id=None):
        ws = await self.ctx.ws("govpn", "govpn", "/ws", {"X-Client-ID": member.key}, self.on_message,
                               "govpn " + member.name)
        member.ws = ws
        kind, _, payload = await ws.expect(None, REPLY_TIMEOUT, "the UserRooms push")
        if kind != "UserRooms":
            raise SoakError("GoVPN: first frame is not the UserRooms push", kind)
        if room_id is not None and room_id not in [r.get("room_id") for r in (payload or {}).get("rooms", [])]:
            raise SoakError("GoVPN: UserRooms push lacks a room the key is a member of")
        kind, _, _ = await ws.expect(None, REPLY_TIMEOUT, "the ClientIPInfo push")
        if kind != "ClientIPInfo":
            raise SoakError("GoVPN: second frame is not the ClientIPInfo push", kind)

    async def request(self, member, kind, payload, reply):
        mid, frame = govpn_frame(kind, payload)
        send(member.ws, frame)
        got, _, body = await member.ws.expect(lambda m: m[1] == mid, REPLY_TIMEOUT, "the %s reply" % kind)
        if got == "Error":
            raise Counted()
        if got != reply:
            raise SoakError("GoVPN: %s answered %s, not %s" % (kind, got, reply))
        return body or {}

    async def signal(self, a, b, room_id, n):
        for src, dst, kind, field in ((a, b, "Offer", "offer"), (b, a, "Answer", "answer"), (a, b, "Candidate", "candidate")):
            body = "%s %d from %s: v=0 o=- %s" % (field, n, src.name, os.urandom(8).hex())
            _, frame = govpn_frame(kind, {"destination_id": dst.key, field: body, "room_id": room_id,
                                          "public_key": src.key})
            send(src.ws, frame)
            got, mid, p = await dst.ws.expect(lambda m: m[0] == kind, REPLY_TIMEOUT, "relayed " + kind)
            if (mid != "" or p.get(field) != body or p.get("public_key") != src.key or p.get("destination_id") != dst.key
                    or p.get("room_id") != room_id or not str(p.get("source_id", "")).startswith("c-")):
                raise SoakError("GoVPN: relayed %s differs from the protocol" % kind, repr(p)[:200])
            self.ctx.stats["govpn"].checked += 1

    async def ping(self, member):
        stamp = "%d" % time.time_ns()
        p = await self.request(member, "Ping", {"timestamp": stamp}, "Ping")
        if p.get("client_timestamp") != stamp or p.get("status") != "ok":
            raise SoakError("GoVPN: Ping reply differs", repr(p)[:200])
        member.last_ping = now()

    async def room(self, idx):
        ctx = self.ctx
        rng = ctx.rng
        members = [Member("r%d-owner" % idx)] + [Member("r%d-m%d" % (idx, i)) for i in range(1, self.members)]
        owner = members[0]
        try:
            for m in members:
                await self.connect(m)
            room = await self.request(owner, "CreateRoom", {"room_name": "soak room %d" % idx, "password": self.PIN,
                                                            "public_key": owner.key}, "RoomCreated")
            room_id = room.get("room_id")
            owner.online = True
            for m in members[1:]:
                await self.request(m, "JoinRoom", {"room_id": room_id, "password": self.PIN, "public_key": m.key,
                                                   "username": m.name}, "RoomJoined")
                m.online = True
            ctx.up("govpn", idx)
            end = now() + rng.uniform(*self.room_s)
            n = 0
            while not ctx.stopping and now() < end:
                n += 1
                online = [m for m in members if m.online]
                if len(online) >= 2:
                    a, b = rng.sample(online, 2)
                    await self.signal(a, b, room_id, n)
                for m in online:
                    if now() - m.last_ping > 20.0:
                        await self.ping(m)
                for m in members[1:]:
                    if m.online and rng.random() < self.drop_p:
                        m.online = False
                        await m.ws.close()
                        m.back_at = now() + rng.uniform(1.0, 4.0)
                    elif not m.online and now() >= m.back_at:
                        await self.connect(m, room_id)
                        await self.request(m, "ConnectRoom", {"room_id": room_id, "public_key": m.key,
                                                              "username": "User"}, "RoomConnected")
                        m.online = True
                        ctx.stats["govpn"].events["reconnect"] += 1
                if rng.random() < self.rejoin_p:
                    candidates = [m for m in members[1:] if m.online]
                    if candidates:
                        m = rng.choice(candidates)
                        await self.request(m, "LeaveRoom", {"room_id": room_id, "public_key": m.key}, "LeaveRoom")
                        ctx.stats["govpn"].events["leave+join"] += 1
                        await self.request(m, "JoinRoom", {"room_id": room_id, "password": self.PIN,
                                                           "public_key": m.key, "username": m.name}, "RoomJoined")
                if await ctx.sleep(rng.uniform(0.5, 1.5) * self.round_interval):
                    break
            # The owner leaves: the room is deleted, RoomDeleted to every member online.
            await self.request(owner, "LeaveRoom", {"room_id": room_id, "public_key": owner.key}, "LeaveRoom")
            for m in members[1:]:
                if m.online:
                    await m.ws.expect(lambda f: f[0] == "RoomDeleted", REPLY_TIMEOUT, "RoomDeleted")
            ctx.stats["govpn"].events["room deleted"] += 1
        finally:
            await close_all([m.ws for m in members])


# ---------------------------------------------------------------------------------------------
# Together: users registered and logged in over REST once (tokens refreshed before the access token's
# 15 minutes run out), one owner's server with a text channel that every user joined. Gateway sessions
# (K per user) open, read READY first, send HEARTBEATs (HEARTBEAT_ACK expected), and close after 15 to
# 60 s; a poster sends messages over REST (POST /channels/:id/messages) at a fixed rate, and every
# session must receive the MESSAGE_CREATE of every message posted after its READY and answered 201
# before its closing barrier (a HEARTBEAT round trip): the session is registered before READY, the
# event is published before the 201 (docs/protocols/together.md §6). History is read now and then.


class User:
    def __init__(self, name):
        self.name = name
        self.id = None
        self.access = None
        self.refresh = None
        self.tokens_at = 0.0

    def auth(self):
        return {"Authorization": "Bearer " + self.access}


class Posts:
    """What a publisher sent and had acknowledged, in send order: the expected deliveries of a window."""

    def __init__(self):
        self.sent_at = []
        self.acked_at = []
        self.seqs = []
        self.keys = []

    def add(self, sent_at, acked_at, seq, key=None):
        self.sent_at.append(sent_at)
        self.acked_at.append(acked_at)
        self.seqs.append(seq)
        self.keys.append(key)

    def expected(self, since, until, key=None):
        """Seqs sent at or after `since` and acknowledged at or before `until` (with this key)."""
        out = []
        for i in range(bisect.bisect_left(self.sent_at, since), len(self.seqs)):
            if self.sent_at[i] > until:
                break
            if self.acked_at[i] <= until and (key is None or self.keys[i] == key):
                out.append(self.seqs[i])
        return out


class Together:
    PASSWORD = "soak-password-123"
    HEARTBEAT = b'{"op":"HEARTBEAT","t":null,"d":null}'
    ACK = b'{"op":"HEARTBEAT_ACK"}'

    def __init__(self, ctx, users, sessions_per_user=2, post_rate=3.0, session_s=(15.0, 60.0),
                 refresh_after_s=600.0, run_tag=None):
        self.ctx = ctx
        self.user_count = users
        self.sessions_per_user = sessions_per_user
        self.post_rate = post_rate
        self.session_s = session_s
        self.refresh_after_s = refresh_after_s
        self.tag = run_tag or os.urandom(3).hex()
        self.users = []
        self.channel_id = None
        self.ready = asyncio.Event()
        self.posts = Posts()
        self.connections = users * sessions_per_user
        ctx.expect_up("together", self.connections + 1)

    def tasks(self):
        out = [self.setup_then(self.poster), self.setup_then(self.history), self.setup_then(self.refresher)]
        for i in range(self.user_count):
            for k in range(self.sessions_per_user):
                out.append(self.setup_then(lambda i=i, k=k: repeat(self.ctx, "together",
                                                                   lambda: self.session(i, k))))
        out.append(self.setup_loop())
        return out

    async def setup_then(self, work):
        while not self.ready.is_set():
            if self.ctx.stopping:
                return
            try:
                await asyncio.wait_for(self.ready.wait(), 1.0)
            except TimeoutError:
                pass
        await work()

    async def call(self, http, method, path, body=None, user=None, status=200):
        headers = user.auth() if user else None
        got, _, payload = await http.request(method, path, body, headers)
        if got != status:
            raise SoakError("Together %s %s answered %d, not %d" % (method, re.sub(r"[0-9a-f-]{36}", ":id", path),
                                                                    got, status), payload[:200].decode("utf-8", "replace"))
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            raise SoakError("Together %s %s: answer is not JSON" % (method, path), payload[:200])

    async def setup_loop(self):
        """Registers and logs in the users, creates the server and channel; retried (bounded pauses)."""
        ctx = self.ctx
        http = ctx.http("together", "together")
        helpers = [ctx.http("together", "together") for _ in range(2)]
        attempt = 0

        async def account(client, users):
            # Two at a time: the server hashes at most one password per core (Argon2id, the default cost).
            for u in users:
                await self.call(client, "POST", "/auth/register", {"username": u.name, "password": self.PASSWORD},
                                status=201)
                r = await self.call(client, "POST", "/api/auth/login", {"username": u.name, "password": self.PASSWORD})
                u.id, u.access, u.refresh, u.tokens_at = r["user"]["id"], r["access_token"], r["refresh_token"], now()

        while not ctx.stopping and not self.ready.is_set():
            attempt += 1
            try:
                users = [User("soak_%s_%d_%d" % (self.tag, attempt, i)) for i in range(self.user_count)]
                results = await asyncio.gather(*(account(c, users[j::len(helpers)]) for j, c in enumerate(helpers)),
                                               return_exceptions=True)
                for r in results:
                    if isinstance(r, BaseException):
                        raise r
                owner = users[0]
                server = await self.call(http, "POST", "/servers", {"name": "soak %s" % self.tag}, owner, 201)
                channel = await self.call(http, "POST", "/servers/%s/channels" % server["id"],
                                          {"name": "soak", "type": "text"}, owner, 201)
                for u in users[1:]:
                    await self.call(http, "POST", "/servers/%s/join" % server["id"], None, u, 201)
                self.users = users
                self.channel_id = channel["id"]
                self.ready.set()
                ctx.up("together", self.connections)
            except (SoakError, net.NetError, KeyError, TypeError) as e:
                ctx.error("together", "set-up failed: " + kind_of(e), str(e))
                if await ctx.sleep(5.0):
                    break
        for client in [http] + helpers:
            client.close()

    async def poster(self):
        ctx = self.ctx
        http = ctx.http("together", "together")
        seq = 0
        next_at = now()
        while not ctx.stopping:
            seq += 1
            user = ctx.rng.choice(self.users)
            sent = now()
            try:
                await self.call(http, "POST", "/channels/%s/messages" % self.channel_id, {"content": "soak:%d" % seq},
                                user, 201)
                self.posts.add(sent, now(), seq)
            except (SoakError, net.NetError) as e:
                ctx.error("together", kind_of(e), str(e))
            next_at = pace(next_at, 1.0 / self.post_rate)
            if await ctx.sleep(next_at - now()):
                break
        http.close()

    async def history(self):
        ctx = self.ctx
        http = ctx.http("together", "together")
        while not await ctx.sleep(ctx.rng.uniform(5.0, 15.0)):
            try:
                page = await self.call(http, "GET", "/api/channels/%s/messages?limit=20" % self.channel_id, None,
                                       ctx.rng.choice(self.users))
                if not isinstance(page, list):
                    raise SoakError("Together history is not a list")
            except (SoakError, net.NetError) as e:
                ctx.error("together", kind_of(e), str(e))
        http.close()

    async def refresher(self):
        """Rotates each user's tokens (POST /auth/refresh) before the access token expires."""
        ctx = self.ctx
        http = ctx.http("together", "together")
        while not await ctx.sleep(10.0):
            for u in self.users:
                if ctx.stopping or now() - u.tokens_at < self.refresh_after_s:
                    continue
                try:
                    r = await self.call(http, "POST", "/auth/refresh", {"refresh_token": u.refresh})
                    u.access, u.refresh, u.tokens_at = r["access_token"], r["refresh_token"], now()
                    ctx.stats["together"].events["token refresh"] += 1
                except (SoakError, net.NetError, KeyError, TypeError) as e:
                    ctx.error("together", "token refresh failed: " + kind_of(e), str(e))
        http.close()

    def on_message(self, state, ws, opcode, data):
        if data == self.ACK:
            return "ACK"
        try:
            frame = json.loads(data)
            kind = frame.get("t")
        except (ValueError, AttributeError):
            self.ctx.error("together", "gateway frame is not a JSON object", repr(data[:200]))
            return None
        if kind == "READY":
            state["ready"] = True
            return frame
        if not state["ready"]:
            self.ctx.error("together", "gateway event before READY", repr(data[:200]))
        if kind == "MESSAGE_CREATE":
            content = (frame.get("d") or {}).get("content", "")
            if content.startswith("soak:"):
                seq = int(content[5:])
                if seq in state["received"]:
                    self.ctx.error("together", "MESSAGE_CREATE delivered twice to a session", ws.name)
                state["received"].add(seq)
        return None

    async def heartbeat(self, ws):
        send(ws, self.HEARTBEAT)
        await ws.expect(lambda m: m == "ACK", REPLY_TIMEOUT, "HEARTBEAT_ACK")

    async def session(self, i, k):
        ctx = self.ctx
        user = self.users[i]
        state = {"ready": False, "received": set()}
        ws = await ctx.ws("together", "together", "/ws?token=" + user.access,
                          on_message=lambda w, op, d: self.on_message(state, w, op, d), name="together %s/%d" % (i, k))
        try:
            ready = await ws.expect(None, REPLY_TIMEOUT, "READY")
            if not isinstance(ready, dict) or (ready.get("d") or {}).get("user", {}).get("id") != user.id:
                raise SoakError("Together: the first gateway frame is not this user's READY", repr(ready)[:200])
            ready_at = now()
            ctx.up("together", i * self.sessions_per_user + k)
            end = ready_at + ctx.rng.uniform(*self.session_s)
            while not ctx.stopping and now() < end:
                if await ctx.sleep(min(end - now(), ctx.rng.uniform(10.0, 25.0))):
                    break
                await self.heartbeat(ws)
            barrier = now()
            await self.heartbeat(ws)
            expected = self.posts.expected(ready_at, barrier)
            deadline = now() + 3.0
            missing = [s for s in expected if s not in state["received"]]
            while missing and now() < deadline:
                await asyncio.sleep(0.1)
                missing = [s for s in missing if s not in state["received"]]
            ctx.stats["together"].checked += len(expected) - len(missing)
            if missing:
                ctx.error("together", "MESSAGE_CREATE not delivered to an open session",
                          "%s: %d of %d, e.g. soak:%d" % (ws.name, len(missing), len(expected), missing[0]),
                          count=len(missing))
        finally:
            await ws.close()


# ---------------------------------------------------------------------------------------------
# PeerVault: subscribers on /ws (auth mode off, the default) subscribe to one or two of the four
# topics (the three subscribe forms of §4 in turn), confirm with ping/pong (messages are handled in
# order), move between topics every 5 to 15 s and reconnect after 30 to 90 s. A publisher POSTs
# events to /ws/publish with the Bearer token (202 expected) at a fixed rate, round-robin over the
# three topics clients may publish to; "system" carries the server's own metrics ticker. Checks: an
# event published (202) after a subscription's confirming pong and before the unsubscribe was sent
# must arrive, once; no event arrives for a topic after its unsubscribe was confirmed.


class PeerVault:
    TOPICS = ("file_operations", "peer_network", "alerts", "system")
    PUBLISHED = ("file_operations", "peer_network", "alerts")
    PING = b'{"type":"ping"}'

    def __init__(self, ctx, subscribers, publish_rate=8.0, session_s=(30.0, 90.0)):
        self.ctx = ctx
        self.subscribers = subscribers
        self.publish_rate = publish_rate
        self.session_s = session_s
        self.posts = Posts()
        self.connections = subscribers
        self.forms = 0
        ctx.expect_up("peervault", subscribers)

    def tasks(self):
        return [self.publisher()] + [repeat(self.ctx, "peervault", lambda i=i: self.subscriber(i))
                                     for i in range(self.subscribers)]

    @staticmethod
    def event(topic, seq):
        if topic == "file_operations":
            return {"type": "file_uploaded", "topic": topic,
                    "data": {"key": "soak-%d" % seq, "size": 1024 + seq % 4096, "node": "soak-node", "soakSeq": seq}}
        if topic == "peer_network":
            return {"type": "peer_health_changed", "topic": topic,
                    "data": {"id": "peer-%d" % (seq % 50), "status": "healthy", "latencyMs": seq % 100, "soakSeq": seq}}
        return {"type": "storage_alert", "topic": topic,
                "data": {"level": "info", "message": "soak event %d" % seq, "node": "soak-node", "soakSeq": seq}}

    async def publisher(self):
        ctx = self.ctx
        http = ctx.http("peervault", "peervault")
        headers = {"Authorization": "Bearer " + ctx.peervault_token}
        seq = 0
        next_at = now()
        while not ctx.stopping:
            seq += 1
            topic = self.PUBLISHED[seq % len(self.PUBLISHED)]
            sent = now()
            try:
                status, _, body = await http.request("POST", "/ws/publish", self.event(topic, seq), headers)
                if status != 202:
                    raise SoakError("PeerVault publish answered %d, not 202" % status, body[:200].decode("utf-8", "replace"))
                answer = json.loads(body)
                if answer.get("status") != "accepted" or not isinstance(answer.get("delivered"), int):
                    raise SoakError("PeerVault publish answer differs", body[:200].decode("utf-8", "replace"))
                self.posts.add(sent, now(), seq, topic)
            except (SoakError, net.NetError, ValueError) as e:
                ctx.error("peervault", getattr(e, "kind", None) or kind_of(e), str(e))
            next_at = pace(next_at, 1.0 / self.publish_rate)
            if await ctx.sleep(next_at - now()):
                break
        http.close()

    def on_message(self, topics, ws, opcode, data):
        try:
            frame = json.loads(data)
            kind = frame["type"]
        except (ValueError, KeyError, TypeError):
            self.ctx.error("peervault", "frame is not a protocol envelope", repr(data[:200]))
            return None
        if kind == "pong":
            if not re.fullmatch(r"[0-9a-f]{32}", str(frame.get("clientId", ""))):
                self.ctx.error("peervault", "pong without a 32-hex clientId", repr(data[:200]))
            return "PONG"
        if kind == "error":
            d = frame.get("data") or {}
            self.ctx.error("peervault", "error message: %s %s" % (d.get("code"), d.get("message")), ws.name)
            return None
        d = frame.get("data")
        if isinstance(d, dict) and "soakSeq" in d:
            topic = frame.get("topic")
            state = topics.get(topic)
            if state is None or state["state"] == "off":
                self.ctx.error("peervault", "event for a topic not subscribed", "%s %s" % (ws.name, topic))
            elif d["soakSeq"] in state["received"]:
                self.ctx.error("peervault", "event delivered twice", "%s %s" % (ws.name, topic))
            else:
                state["received"].add(d["soakSeq"])
        return None

    def subscribe_frame(self, kind, topic):
        self.forms += 1
        form = self.forms % 3
        if form == 0:
            return compact({"type": kind, "topic": topic})
        if form == 1:
            return compact({"type": kind, "data": topic})
        return compact({"type": kind, "data": {"topic": topic}})

    async def barrier(self, ws):
        send(ws, self.PING)
        await ws.expect(lambda m: m == "PONG", REPLY_TIMEOUT, "pong")

    async def check(self, ws, topic, state, until):
        if topic == "system":
            return
        expected = self.posts.expected(state["since"], until, topic)
        deadline = now() + 2.0
        missing = [s for s in expected if s not in state["received"]]
        while missing and now() < deadline:
            await asyncio.sleep(0.1)
            missing = [s for s in missing if s not in state["received"]]
        self.ctx.stats["peervault"].checked += len(expected) - len(missing)
        if missing:
            self.ctx.error("peervault", "published event not delivered to a subscriber",
                           "%s %s: %d of %d" % (ws.name, topic, len(missing), len(expected)), count=len(missing))

    async def subscriber(self, idx):
        ctx = self.ctx
        rng = ctx.rng
        topics = {}
        ws = await ctx.ws("peervault", "peervault", "/ws", on_message=lambda w, op, d: self.on_message(topics, w, op, d),
                          name="peervault %d" % idx)
        try:
            for topic in rng.sample(self.TOPICS, rng.choice((1, 1, 2))):
                topics[topic] = {"state": "pending", "received": set(), "since": None}
                send(ws, self.subscribe_frame("subscribe", topic))
            await self.barrier(ws)
            for state in topics.values():
                state["state"], state["since"] = "on", now()
            ctx.up("peervault", idx)
            end = now() + rng.uniform(*self.session_s)
            while not ctx.stopping and now() < end:
                if await ctx.sleep(min(end - now(), rng.uniform(5.0, 15.0))):
                    break
                on = [t for t, s in topics.items() if s["state"] == "on"]
                off = [t for t in self.TOPICS if t not in on]
                if on and off and rng.random() < 0.5:
                    old, new = rng.choice(on), rng.choice(off)
                    until = now()
                    send(ws, self.subscribe_frame("unsubscribe", old))
                    topics[new] = {"state": "pending", "received": set(), "since": None}
                    send(ws, self.subscribe_frame("subscribe", new))
                    await self.barrier(ws)
                    topics[old]["state"] = "off"
                    topics[new]["state"], topics[new]["since"] = "on", now()
                    await self.check(ws, old, topics[old], until)
                    ctx.stats["peervault"].events["topic switch"] += 1
                else:
                    await self.barrier(ws)
            until = now()
            await self.barrier(ws)
            for topic, state in topics.items():
                if state["state"] == "on":
                    await self.check(ws, topic, state, until)
        finally:
            await ws.close()
