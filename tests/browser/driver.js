// driver.js: drives headless Chromium through the PeerJS end-to-end cases of docs/protocols/peerjs.md §18.8 and
// writes what it observed (HTTP, WebSocket frames from the DevTools protocol, client events) to a
// JSON file. It judges nothing itself beyond a printed summary: PeerJsBrowserTest.cpp asserts.
//
// Usage: node driver.js --cache <dir> --signal-port <port> --page-port <port> --out <file>
//                       --user-data-dir <fresh dir> [--label <server name>] [--budget-ms <ms>]
// It serves the test page itself on 127.0.0.1:<page-port>, a different origin from the signaling
// server at 127.0.0.1:<signal-port>. Every wait is bounded; --budget-ms bounds the whole run.
"use strict";

const fs = require("fs");
const path = require("path");
const { startPageServer } = require("./page-server");

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-features=WebRtcHideLocalIpsWithMdns",
	"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SIGNAL_HOST = "127.0.0.1";
const PATH = "/myapp";
const KEY = "peerjs";
const NOBODY = "nobody-here";
const RELAY_TYPES = ["OFFER", "ANSWER", "CANDIDATE"];

function parseArgs(argv) {
	const args = { label: "server", budgetMs: 100000 };
	for (let i = 2; i < argv.length; i += 2) {
		const name = argv[i];
		const value = argv[i + 1];
		if (value === undefined)
			throw new Error("missing value for " + name);
		switch (name) {
		case "--cache": args.cache = value; break;
		case "--signal-port": args.signalPort = Number(value); break;
		case "--page-port": args.pagePort = Number(value); break;
		case "--out": args.out = value; break;
		case "--user-data-dir": args.userDataDir = value; break;
		case "--label": args.label = value; break;
		case "--budget-ms": args.budgetMs = Number(value); break;
		default: throw new Error("unknown argument " + name);
		}
	}
	for (const required of ["cache", "signalPort", "pagePort", "out", "userDataDir"])
		if (!args[required])
			throw new Error("missing --" + required.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()));
	return args;
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function randomSuffix() {
	let s = "";
	while (s.length < 6)
		s += Math.random().toString(36).slice(2);
	return s.slice(0, 6);
}

function tryParse(text) {
	try {
		return JSON.parse(text);
	} catch (e) {
		return null;
	}
}

// Records HTTP requests and WebSocket traffic from the DevTools protocol's Network domain.
class NetworkLog {
	constructor() {
		this.requests = new Map();
		this.sockets = new Map();
		this.order = [];
	}

	attach(cdp) {
		cdp.on("Network.requestWillBeSent", (p) => {
			this.requests.set(p.requestId, { url: p.request.url, method: p.request.method, type: p.type || null, t: p.timestamp,
				requestHeaders: p.request.headers, status: null, headers: null, body: null });
		});
		cdp.on("Network.responseReceived", (p) => {
			const r = this.requests.get(p.requestId);
			if (r) {
				r.status = p.response.status;
				r.headers = lowerKeys(p.response.headers);
			}
		});
		cdp.on("Network.loadingFinished", (p) => {
			const r = this.requests.get(p.requestId);
			if (r && r.url.indexOf(PATH + "/") >= 0)
				cdp.send("Network.getResponseBody", { requestId: p.requestId })
					.then((b) => { r.body = b.base64Encoded ? Buffer.from(b.body, "base64").toString("utf8") : b.body; })
					.catch(() => {});
		});
		cdp.on("Network.webSocketCreated", (p) => {
			const url = new URL(p.url);
			const s = { requestId: p.requestId, url: p.url, id: url.searchParams.get("id"), token: url.searchParams.get("token"),
				createdAt: null, handshakeStatus: null, openedAt: null, closedAt: null, frames: [], errors: [] };
			this.sockets.set(p.requestId, s);
			this.order.push(p.requestId);
		});
		cdp.on("Network.webSocketWillSendHandshakeRequest", (p) => {
			const s = this.sockets.get(p.requestId);
			if (s)
				s.createdAt = p.timestamp;
		});
		cdp.on("Network.webSocketHandshakeResponseReceived", (p) => {
			const s = this.sockets.get(p.requestId);
			if (s) {
				s.handshakeStatus = p.response.status;
				s.openedAt = p.timestamp;
			}
		});
		const frame = (dir) => (p) => {
			const s = this.sockets.get(p.requestId);
			if (s)
				s.frames.push({ dir: dir, t: p.timestamp, opcode: p.response.opcode, text: p.response.payloadData });
		};
		cdp.on("Network.webSocketFrameSent", frame("sent"));
		cdp.on("Network.webSocketFrameReceived", frame("received"));
		cdp.on("Network.webSocketFrameError", (p) => {
			const s = this.sockets.get(p.requestId);
			if (s)
				s.errors.push(p.errorMessage);
		});
		cdp.on("Network.webSocketClosed", (p) => {
			const s = this.sockets.get(p.requestId);
			if (s)
				s.closedAt = p.timestamp;
		});
	}

	idRequests() {
		return [...this.requests.values()].filter((r) => new URL(r.url).pathname === PATH + "/" + KEY + "/id");
	}

	socketsOf(token) {
		return this.order.map((id) => this.sockets.get(id)).filter((s) => s.token === token);
	}

	allSockets() {
		return this.order.map((id) => this.sockets.get(id));
	}
}

function lowerKeys(headers) {
	const out = {};
	for (const k of Object.keys(headers || {}))
		out[k.toLowerCase()] = headers[k];
	return out;
}

// The payload text of a frame as the client writes it: JSON.stringify({type, payload, dst}).
function sentPayloadText(text, type, dst) {
	const prefix = '{"type":' + JSON.stringify(type) + ',"payload":';
	const suffix = ',"dst":' + JSON.stringify(dst) + "}";
	if (text.startsWith(prefix) && text.endsWith(suffix))
		return text.slice(prefix.length, text.length - suffix.length);
	return null;
}

// The payload text of a relayed frame as peerjs.md §6.2 shapes it: {type, src, dst, payload}.
function relayedPayloadText(text, type, src, dst) {
	const prefix = '{"type":' + JSON.stringify(type) + ',"src":' + JSON.stringify(src) + ',"dst":' + JSON.stringify(dst) + ',"payload":';
	if (text.startsWith(prefix) && text.endsWith("}"))
		return text.slice(prefix.length, text.length - 1);
	return null;
}

// Pairs every OFFER/ANSWER/CANDIDATE that one peer sent the other for a connection with the
// frame the other received, in order, and shows the sent payload, the expected relayed frame
// and the received frame.
function relayPairs(fromSockets, fromId, toSockets, toId, connectionId) {
	const sent = [];
	for (const s of fromSockets)
		for (const f of s.frames) {
			const m = f.dir === "sent" ? tryParse(f.text) : null;
			if (m && RELAY_TYPES.includes(m.type) && m.dst === toId && m.payload && m.payload.connectionId === connectionId)
				sent.push({ f: f, m: m });
		}
	const received = [];
	for (const s of toSockets)
		for (const f of s.frames) {
			const m = f.dir === "received" ? tryParse(f.text) : null;
			if (m && RELAY_TYPES.includes(m.type) && m.src === fromId && m.payload && m.payload.connectionId === connectionId)
				received.push({ f: f, m: m });
		}
	const pairs = [];
	const n = Math.max(sent.length, received.length);
	for (let i = 0; i < n; ++i) {
		const s = sent[i];
		const r = received[i];
		const type = s ? s.m.type : r.m.type;
		const payload = s ? sentPayloadText(s.f.text, type, toId) : null;
		const expected = payload === null ? null : '{"type":' + JSON.stringify(type) + ',"src":' + JSON.stringify(fromId) + ',"dst":' +
			JSON.stringify(toId) + ',"payload":' + payload + "}";
		pairs.push({
			type: type,
			from: fromId,
			to: toId,
			sent: s ? s.f.text : null,
			sentPayload: payload,
			expected: expected,
			received: r ? r.f.text : null,
			receivedType: r ? r.m.type : null,
			receivedPayload: r ? relayedPayloadText(r.f.text, r.m.type, fromId, toId) : null,
			receivedOpcode: r ? r.f.opcode : null,
			delayMs: s && r ? Math.round((r.f.t - s.f.t) * 1000) : null,
		});
	}
	return pairs;
}

function frameList(sockets, dir) {
	const out = [];
	for (const s of sockets)
		for (const f of s.frames)
			if (f.dir === dir)
				out.push({ t: f.t, text: f.text, opcode: f.opcode });
	return out;
}

async function main() {
	const args = parseArgs(process.argv);
	const started = Date.now();
	const result = { label: args.label, completed: false, fatal: null, steps: [], cases: {}, console: [], pageErrors: [] };
	const step = (name) => {
		result.steps.push({ name: name, ms: Date.now() - started });
		process.stderr.write("[driver " + ((Date.now() - started) / 1000).toFixed(1) + "s] " + name + "\n");
	};
	const write = () => fs.writeFileSync(args.out, JSON.stringify(result, null, 1));
	let context = null;
	let pageServer = null;
	const watchdog = setTimeout(() => {
		result.fatal = "driver budget of " + args.budgetMs + " ms exceeded";
		write();
		process.stderr.write("driver: " + result.fatal + "\n");
		process.exit(3);
	}, args.budgetMs);

	const net = new NetworkLog();
	try {
		const { chromium } = require(path.join(args.cache, "node_modules", "playwright-core"));
		pageServer = await startPageServer(args.cache, args.pagePort);
		const pageOrigin = "http://127.0.0.1:" + args.pagePort;
		result.pageOrigin = pageOrigin;
		result.signaling = "http://" + SIGNAL_HOST + ":" + args.signalPort + PATH;
		step("page server on " + pageOrigin);

		context = await chromium.launchPersistentContext(args.userDataDir, { executablePath: CHROMIUM, headless: true,
			args: CHROMIUM_FLAGS, timeout: 30000 });
		const page = context.pages()[0] || (await context.newPage());
		page.setDefaultTimeout(15000);
		page.on("console", (m) => result.console.push(m.type() + ": " + m.text()));
		page.on("pageerror", (e) => result.pageErrors.push(String(e)));
		const cdp = await context.newCDPSession(page);
		net.attach(cdp);
		await cdp.send("Network.enable");
		result.browser = (await cdp.send("Browser.getVersion")).product;
		step("launched " + result.browser);

		await page.goto(pageOrigin + "/", { timeout: 15000 });
		const hasPeer = await page.evaluate(([p, k, port]) => window.T.configure("127.0.0.1", port, p, k), [PATH, KEY, args.signalPort]);
		if (!hasPeer)
			throw new Error("window.peerjs.Peer missing after loading peerjs.min.js");

		const waitEvent = async (name, kinds, afterIndex, timeoutMs) => {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const evs = await page.evaluate(([n, ks]) => window.T.events.map((e, i) => Object.assign({ index: i }, e))
					.filter((e) => e.peer === n && ks.includes(e.kind)), [name, kinds]);
				const hit = evs.find((e) => e.index > afterIndex);
				if (hit)
					return hit;
				if (Date.now() >= deadline)
					return null;
				await sleep(50);
			}
		};
		const eventCount = () => page.evaluate(() => window.T.events.length - 1);
		const tokenOf = (name) => page.evaluate((n) => window.T.peers[n].options.token, name);
		const eventsOf = (name) => page.evaluate((n) => window.T.eventsOf(n), name);

		// Carol stays idle for the heartbeat case (7); she exists from the start.
		const carolId = "carol-" + randomSuffix();
		await page.evaluate(([n, id]) => window.T.createPeer(n, id), ["carol", carolId]);

		// Case 1: Bob without an id fetches one over HTTP, then opens the WebSocket.
		step("case 1: bob without id");
		{
			const before = net.idRequests().length;
			await page.evaluate(() => window.T.createPeer("bob", null));
			const open = await waitEvent("bob", ["open", "error"], -1, 10000);
			await sleep(200);
			const bobToken = await tokenOf("bob");
			const sockets = net.socketsOf(bobToken);
			const received = frameList(sockets, "received");
			const reqs = net.idRequests().slice(before);
			result.cases.bob = {
				idRequests: reqs.map((r) => ({ url: r.url, method: r.method, status: r.status, acao: r.headers ? r.headers["access-control-allow-origin"] || null : null,
					contentType: r.headers ? r.headers["content-type"] || null : null, body: r.body })),
				event: open,
				id: await page.evaluate(() => window.T.peerId("bob")),
				socketUrl: sockets.length ? sockets[0].url : null,
				handshakeStatus: sockets.length ? sockets[0].handshakeStatus : null,
				firstFrame: received.length ? received[0].text : null,
			};
		}
		const bobId = result.cases.bob.id;

		// Case 2: Alice with her own id: no HTTP request.
		step("case 2: alice with id");
		const aliceId = "alice-" + randomSuffix();
		{
			const before = net.idRequests().length;
			await page.evaluate(([n, id]) => window.T.createPeer(n, id), ["alice", aliceId]);
			const open = await waitEvent("alice", ["open", "error"], -1, 10000);
			await sleep(200);
			const sockets = net.socketsOf(await tokenOf("alice"));
			const received = frameList(sockets, "received");
			result.cases.alice = {
				requestedId: aliceId,
				idRequestsDuring: net.idRequests().length - before,
				event: open,
				socketUrl: sockets.length ? sockets[0].url : null,
				firstFrame: received.length ? received[0].text : null,
			};
		}

		// Case 3: DataConnections with json and binary serialization, with an echo from Bob.
		step("case 3: alice connects to bob");
		result.cases.connect = { runs: [] };
		for (const serialization of ["json", "binary"]) {
			const run = await page.evaluate(([id, s]) => window.T.connectAndEcho("alice", id, s, 15000), [bobId, serialization]);
			const bobEvents = await eventsOf("bob");
			run.bobConnection = bobEvents.some((e) => e.kind === "connection" && e.connectionId === run.connectionId && e.from === aliceId);
			run.bobConnectionOpen = bobEvents.some((e) => e.kind === "connection-open" && e.connectionId === run.connectionId);
			run.bobEchoed = bobEvents.some((e) => e.kind === "echoed" && e.connectionId === run.connectionId);
			run.echoEqual = JSON.stringify(run.sent) === JSON.stringify(run.received);
			result.cases.connect.runs.push(run);
			step("case 3: " + serialization + " opened=" + run.opened + " echoed=" + run.echoed + " in " + run.echoMs + " ms");
		}

		// Case 4: a third Peer with Alice's id.
		step("case 4: alice's id taken");
		{
			await page.evaluate(([n, id]) => window.T.createPeer(n, id), ["alice2", aliceId]);
			const ev = await waitEvent("alice2", ["open", "error"], -1, 10000);
			await sleep(300);
			const sockets = net.socketsOf(await tokenOf("alice2"));
			result.cases.taken = {
				event: ev,
				received: frameList(sockets, "received").map((f) => f.text),
				sent: frameList(sockets, "sent").map((f) => f.text),
				socketClosed: sockets.length > 0 && sockets.every((s) => s.closedAt !== null),
				closes: await page.evaluate((t) => window.T.sockets.filter((s) => s.url.indexOf("&token=" + t + "&") >= 0), await tokenOf("alice2")),
				aliceState: await page.evaluate(() => window.T.peerState("alice")),
				aliceSocketOpen: net.socketsOf(await tokenOf("alice")).some((s) => s.closedAt === null),
			};
		}

		// Case 5: a connection to an id nobody has: EXPIRE and peer-unavailable after expire_timeout.
		step("case 5: alice connects to " + NOBODY);
		{
			const mark = await eventCount();
			const calledAt = await page.evaluate(() => window.T.now());
			const connectionId = await page.evaluate(([n, id]) => window.T.connectOnly(n, id), ["alice", NOBODY]);
			const ev = await waitEvent("alice", ["error"], mark, 15000);
			// Time for a second, wrong EXPIRE to show up.
			await sleep(2500);
			const sockets = net.socketsOf(await tokenOf("alice"));
			const sentToNobody = frameList(sockets, "sent").filter((f) => { const m = tryParse(f.text); return m && m.dst === NOBODY; });
			const expires = frameList(sockets, "received").filter((f) => { const m = tryParse(f.text); return m && m.type === "EXPIRE"; });
			const errors = (await eventsOf("alice")).filter((e) => e.kind === "error" && e.t >= calledAt);
			result.cases.expire = {
				connectionId: connectionId,
				event: ev,
				errorAfterMs: ev ? ev.t - calledAt : null,
				errors: errors,
				sentToNobody: sentToNobody.map((f) => f.text.slice(0, 120)),
				sentTypes: sentToNobody.map((f) => tryParse(f.text).type),
				expireFrames: expires.map((f) => f.text),
				expireAfterFirstSendMs: expires.length && sentToNobody.length ? Math.round((expires[0].t - sentToNobody[0].t) * 1000) : null,
				expireAfterLastSendMs: expires.length && sentToNobody.length ? Math.round((expires[0].t - sentToNobody[sentToNobody.length - 1].t) * 1000) : null,
			};
		}

		// Case 6: disconnect() then reconnect() with the same id and token, twice: first as is (the
		// server normally sees the old socket close first), then with that close withheld, so
		// that the server must reattach (peerjs.md §5.3; the reference sends no OPEN there).
		const reconnectCase = async (withhold) => {
			const aliceToken = await tokenOf("alice");
			const socketsBefore = net.socketsOf(aliceToken).length;
			const mark = await eventCount();
			const withheld = withhold ? await page.evaluate(() => window.T.withholdClose("alice")) : null;
			await page.evaluate(() => window.T.disconnect("alice"));
			await page.evaluate(() => window.T.reconnect("alice"));
			const ev = await waitEvent("alice", ["open", "error"], mark, 8000);
			await sleep(300);
			const sockets = net.socketsOf(aliceToken);
			const fresh = sockets.slice(socketsBefore);
			const c = {
				closeWithheld: withheld,
				event: ev,
				reopened: !!(ev && ev.kind === "open"),
				state: await page.evaluate(() => window.T.peerState("alice")),
				newSockets: fresh.map((s) => ({ url: s.url, handshakeStatus: s.handshakeStatus, received: s.frames.filter((f) => f.dir === "received").map((f) => f.text) })),
				oldSocketClosed: sockets.slice(0, socketsBefore).every((s) => s.closedAt !== null),
			};
			if (withhold)
				c.oldSocket = await page.evaluate(() => window.T.withheld);
			// Traffic reaches the reconnected Alice: Bob connects to her.
			if (c.reopened) {
				const run = await page.evaluate(([id]) => window.T.connectAndEcho("bob", id, "json", 15000), [aliceId]);
				c.bobToAlice = { opened: run.opened, echoed: run.echoed, echoEqual: JSON.stringify(run.sent) === JSON.stringify(run.received), errors: run.errors };
			}
			return c;
		};
		step("case 6: alice disconnect + reconnect");
		result.cases.reconnect = await reconnectCase(false);
		step("case 6: alice disconnect + reconnect, close withheld (reattach)");
		result.cases.reattach = await reconnectCase(true);

		// Case 7: heartbeats. Carol has sent nothing else; wait until she has been open long enough for three.
		step("case 7: heartbeats");
		{
			const carolToken = await tokenOf("carol");
			const carolSocket = () => net.socketsOf(carolToken)[0];
			const deadline = Date.now() + 25000;
			while (Date.now() < deadline && carolSocket() && frameList([carolSocket()], "sent").length < 3)
				await sleep(200);
			// A reply, if any, would follow within a moment.
			await sleep(1000);
			const s = carolSocket();
			const sent = s ? frameList([s], "sent") : [];
			const received = s ? frameList([s], "received") : [];
			const times = sent.filter((f) => f.text === '{"type":"HEARTBEAT"}').map((f) => f.t);
			const intervals = [];
			for (let i = 1; i < times.length; ++i)
				intervals.push(Math.round((times[i] - times[i - 1]) * 1000));
			const heartbeatReplies = [];
			for (const sock of net.allSockets())
				for (const f of sock.frames) {
					const m = f.dir === "received" ? tryParse(f.text) : null;
					if (m && m.type === "HEARTBEAT")
						heartbeatReplies.push(f.text);
				}
			const allHeartbeats = net.allSockets().reduce((n, sock) => n + sock.frames.filter((f) => f.dir === "sent" && f.text === '{"type":"HEARTBEAT"}').length, 0);
			result.cases.heartbeat = {
				carolId: carolId,
				carolOpen: (await eventsOf("carol")).some((e) => e.kind === "open"),
				carolSocketOpen: !!s && s.closedAt === null,
				sent: sent.map((f) => f.text),
				received: received.map((f) => f.text),
				firstAfterOpenMs: s && s.openedAt && times.length ? Math.round((times[0] - s.openedAt) * 1000) : null,
				intervalsMs: intervals,
				heartbeatsSentByAllPeers: allHeartbeats,
				heartbeatTypedFramesReceived: heartbeatReplies,
			};
		}

		// Case 3's frames are analysed last, once every trickled candidate has been relayed.
		for (const run of result.cases.connect.runs) {
			const aliceSockets = net.socketsOf(await tokenOf("alice"));
			const bobSockets = net.socketsOf(await tokenOf("bob"));
			run.relays = relayPairs(aliceSockets, aliceId, bobSockets, bobId, run.connectionId)
				.concat(relayPairs(bobSockets, bobId, aliceSockets, aliceId, run.connectionId));
		}
		result.events = await page.evaluate(() => window.T.events);
		result.completed = true;
		step("done");
	} catch (e) {
		result.fatal = String(e && e.stack ? e.stack : e);
		process.stderr.write("driver: " + result.fatal + "\n");
	}
	result.sockets = net.allSockets();
	result.idRequests = net.idRequests();
	result.durationMs = Date.now() - started;
	write();
	printSummary(result);
	clearTimeout(watchdog);
	try {
		if (context)
			await Promise.race([context.close(), sleep(10000)]);
	} catch (e) {
		process.stderr.write("driver: closing the browser: " + e + "\n");
	}
	if (pageServer)
		pageServer.close();
	process.exit(result.completed ? 0 : 1);
}

// A short human summary on stdout; the assertions live in PeerJsBrowserTest.cpp.
function printSummary(r) {
	const c = r.cases;
	const line = (name, text) => process.stdout.write(name.padEnd(12) + text + "\n");
	process.stdout.write("PeerJS browser run against " + r.label + (r.browser ? " with " + r.browser : "") + ", " + r.durationMs + " ms\n");
	if (c.bob) {
		const q = c.bob.idRequests[0];
		line("1 bob", (q ? "GET " + q.url.replace(/^http:\/\/[^/]+/, "") + " -> " + q.status + " ACAO " + q.acao : "no /id request") +
			"; first frame " + c.bob.firstFrame + "; " + (c.bob.event ? c.bob.event.kind + " " + (c.bob.event.id || c.bob.event.type) : "no event"));
	}
	if (c.alice)
		line("2 alice", "/id requests " + c.alice.idRequestsDuring + "; first frame " + c.alice.firstFrame + "; " +
			(c.alice.event ? c.alice.event.kind + " " + (c.alice.event.id || c.alice.event.type) : "no event"));
	if (c.connect)
		for (const run of c.connect.runs) {
			const relays = run.relays || [];
			const bad = relays.filter((p) => p.received !== p.expected).length;
			line("3 " + run.serialization, "open " + run.opened + ", bob connection " + run.bobConnection + ", echo " + run.echoEqual + "; relayed " +
				relays.map((p) => p.type[0]).join("") + " (" + bad + " differ)");
		}
	if (c.taken)
		line("4 taken", (c.taken.event ? c.taken.event.kind + " " + c.taken.event.type + ": " + c.taken.event.message : "no event") +
			"; socket closed with " + (c.taken.closes || []).map((x) => x.closeCode).join(","));
	if (c.expire)
		line("5 expire", (c.expire.event ? c.expire.event.type + ": " + c.expire.event.message + " after " + c.expire.errorAfterMs + " ms" : "no error") +
			"; EXPIRE frames " + JSON.stringify(c.expire.expireFrames));
	for (const [name, r6] of [["6 reconnect", c.reconnect], ["6 reattach", c.reattach]])
		if (r6)
			line(name, "open again: " + r6.reopened + (r6.bobToAlice ? "; bob->alice echo " + r6.bobToAlice.echoEqual : "") +
				(r6.oldSocket ? "; old socket closed by server with " + r6.oldSocket.closeCode + " " + JSON.stringify(r6.oldSocket.closeReason) : ""));
	if (c.heartbeat)
		line("7 heartbeat", "intervals " + JSON.stringify(c.heartbeat.intervalsMs) + " ms, first after " + c.heartbeat.firstAfterOpenMs +
			" ms; carol received " + JSON.stringify(c.heartbeat.received));
	if (r.fatal)
		line("FATAL", r.fatal);
}

main().catch((e) => {
	process.stderr.write("driver: " + (e && e.stack ? e.stack : e) + "\n");
	process.exit(1);
});
