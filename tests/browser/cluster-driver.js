// cluster-driver.js: the official PeerJS client (peerjs 1.5.5, page/ as it is) in headless Chromium against two
// nodes of one Switchboard cluster. Two tabs of one browser: tab A's peer "alice" signals through node A, tab B's
// peer "bob" through node B. Alice opens DataConnections to Bob (json, then binary) and Bob one to Alice (json); the
// accepting side echoes what it receives, so messages go both ways on each. Then a second peer in tab B asks node B
// for Alice's id, which node A holds. Every WebSocket frame of both tabs is recorded over the DevTools protocol, so
// the runner can check that each OFFER, ANSWER and CANDIDATE crossed the two nodes unchanged.
//
// Usage: node cluster-driver.js --cache <dir> --port-a <port> --port-b <port> --page-port <port> --out <file>
//                               --user-data-dir <fresh dir> [--path /myapp] [--key peerjs] [--budget-ms <ms>]
// The page is served on 127.0.0.1:<page-port> (page-server.js); the nodes listen on 127.0.0.1. The driver judges
// nothing beyond a printed summary: tests/cluster/PeerJsBrowserClusterTest.cpp asserts on the JSON written to --out.
// Every wait is bounded; --budget-ms bounds the whole run.
"use strict";

const fs = require("fs");
const path = require("path");
const { startPageServer } = require("./page-server");

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
	"--disable-background-networking", "--disable-component-update", "--disable-features=WebRtcHideLocalIpsWithMdns"];
const HOST = "127.0.0.1";
const SIGNALING = ["OFFER", "ANSWER", "CANDIDATE"];

function readArguments(argv) {
	const names = { "--cache": "cache", "--port-a": "portA", "--port-b": "portB", "--page-port": "pagePort", "--out": "out",
		"--user-data-dir": "userDataDir", "--path": "path", "--key": "key", "--budget-ms": "budgetMs" };
	const options = { path: "/myapp", key: "peerjs", budgetMs: 90000 };
	for (let i = 2; i < argv.length; i += 2) {
		const name = names[argv[i]];
		if (!name || argv[i + 1] === undefined)
			throw new Error("bad argument " + argv[i]);
		options[name] = argv[i + 1];
	}
	for (const numeric of ["portA", "portB", "pagePort", "budgetMs"])
		options[numeric] = Number(options[numeric]);
	for (const required of ["cache", "portA", "portB", "pagePort", "out", "userDataDir"])
		if (!options[required])
			throw new Error("missing " + Object.keys(names).find((k) => names[k] === required));
	return options;
}

function pause(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function suffix() {
	return (Math.random().toString(36) + "000000").slice(2, 8);
}

function parsed(text) {
	try {
		return JSON.parse(text);
	} catch (e) {
		return null;
	}
}

// The WebSockets of one tab and their frames, from the DevTools protocol.
class SocketLog {
	constructor() {
		this.byRequest = new Map();
	}

	async attach(context, page) {
		const cdp = await context.newCDPSession(page);
		cdp.on("Network.webSocketCreated", (e) => {
			const query = new URL(e.url).searchParams;
			this.byRequest.set(e.requestId, { url: e.url, id: query.get("id"), token: query.get("token"), status: null,
				closed: false, frames: [] });
		});
		cdp.on("Network.webSocketHandshakeResponseReceived", (e) => {
			const socket = this.byRequest.get(e.requestId);
			if (socket)
				socket.status = e.response.status;
		});
		const frame = (direction) => (e) => {
			const socket = this.byRequest.get(e.requestId);
			if (socket)
				socket.frames.push({ direction: direction, t: e.timestamp, opcode: e.response.opcode, text: e.response.payloadData });
		};
		cdp.on("Network.webSocketFrameSent", frame("sent"));
		cdp.on("Network.webSocketFrameReceived", frame("received"));
		cdp.on("Network.webSocketClosed", (e) => {
			const socket = this.byRequest.get(e.requestId);
			if (socket)
				socket.closed = true;
		});
		await cdp.send("Network.enable");
		return cdp;
	}

	withToken(token) {
		return [...this.byRequest.values()].filter((s) => s.token === token);
	}

	frames(token, direction) {
		const out = [];
		for (const socket of this.withToken(token))
			for (const f of socket.frames)
				if (f.direction === direction)
					out.push(f);
		return out;
	}
}

// One tab with its own signaling node: T of page.js, configured for that node.
class Tab {
	constructor(name, port, page, log) {
		this.name = name;
		this.port = port;
		this.page = page;
		this.log = log;
	}

	call(fn, argument) {
		return this.page.evaluate(fn, argument);
	}

	events(peer) {
		return this.call((p) => window.T.eventsOf(p), peer);
	}

	token(peer) {
		return this.call((p) => window.T.peers[p].options.token, peer);
	}

	// The first event of peer of one of kinds, after the first `after` events of the tab; null after timeoutMs.
	async awaitEvent(peer, kinds, after, timeoutMs) {
		const end = Date.now() + timeoutMs;
		for (;;) {
			const found = await this.call(([p, ks, n]) => window.T.events.slice(n).find((e) => e.peer === p && ks.includes(e.kind)) || null,
				[peer, kinds, after]);
			if (found || Date.now() >= end)
				return found;
			await pause(50);
		}
	}
}

// The signaling frames one peer sent the other for one DataConnection, each beside the frame the other received in
// the same position; expected is the relayed form the protocol gives the sent frame: {type, src, dst, payload} with
// the payload's text unchanged.
function relays(fromTab, fromToken, fromId, toTab, toToken, toId, connectionId) {
	const concerns = (m) => m && SIGNALING.includes(m.type) && m.payload && m.payload.connectionId === connectionId;
	const sent = fromTab.log.frames(fromToken, "sent").filter((f) => { const m = parsed(f.text); return concerns(m) && m.dst === toId; });
	const received = toTab.log.frames(toToken, "received").filter((f) => { const m = parsed(f.text); return concerns(m) && m.src === fromId; });
	const out = [];
	for (let i = 0; i < Math.max(sent.length, received.length); ++i) {
		const s = sent[i] || null;
		const r = received[i] || null;
		const type = parsed((s || r).text).type;
		// The client writes {"type":..,"payload":..,"dst":..}; the payload text is what lies between.
		const head = '{"type":' + JSON.stringify(type) + ',"payload":';
		const tail = ',"dst":' + JSON.stringify(toId) + "}";
		let expected = null;
		if (s && s.text.startsWith(head) && s.text.endsWith(tail))
			expected = '{"type":' + JSON.stringify(type) + ',"src":' + JSON.stringify(fromId) + ',"dst":' + JSON.stringify(toId) +
				',"payload":' + s.text.slice(head.length, s.text.length - tail.length) + "}";
		out.push({ type: type, from: fromId, to: toId, sent: s ? s.text : null, expected: expected, received: r ? r.text : null,
			receivedOpcode: r ? r.opcode : null, delayMs: s && r ? Math.round((r.t - s.t) * 1000) : null });
	}
	return out;
}

async function main() {
	const options = readArguments(process.argv);
	const started = Date.now();
	const result = { completed: false, fatal: null, nodes: {}, peers: {}, runs: [], taken: null, pageErrors: [], console: [] };
	const say = (text) => process.stderr.write("[cluster-driver " + ((Date.now() - started) / 1000).toFixed(1) + "s] " + text + "\n");
	const save = () => fs.writeFileSync(options.out, JSON.stringify(result, null, 1));
	const watchdog = setTimeout(() => {
		result.fatal = "driver budget of " + options.budgetMs + " ms exceeded";
		save();
		process.stderr.write("cluster-driver: " + result.fatal + "\n");
		process.exit(3);
	}, options.budgetMs);
	let context = null;
	let pageServer = null;
	try {
		const { chromium } = require(path.join(options.cache, "node_modules", "playwright-core"));
		pageServer = await startPageServer(options.cache, options.pagePort);
		result.pageOrigin = "http://" + HOST + ":" + options.pagePort;
		context = await chromium.launchPersistentContext(options.userDataDir, { executablePath: CHROMIUM, headless: true,
			args: FLAGS, timeout: 30000 });

		const tabs = {};
		for (const [name, port] of [["a", options.portA], ["b", options.portB]]) {
			const page = name === "a" ? context.pages()[0] || (await context.newPage()) : await context.newPage();
			page.setDefaultTimeout(15000);
			page.on("console", (m) => result.console.push(name + " " + m.type() + ": " + m.text()));
			page.on("pageerror", (e) => result.pageErrors.push(name + ": " + String(e)));
			const log = new SocketLog();
			const cdp = await log.attach(context, page);
			if (!result.browser)
				result.browser = (await cdp.send("Browser.getVersion")).product;
			await page.goto(result.pageOrigin + "/", { timeout: 15000 });
			const loaded = await page.evaluate(([p, pathName, key]) => window.T.configure("127.0.0.1", p, pathName, key),
				[port, options.path, options.key]);
			if (!loaded)
				throw new Error("tab " + name + ": window.peerjs.Peer missing after loading peerjs.min.js");
			tabs[name] = new Tab(name, port, page, log);
			result.nodes[name] = { port: port, signaling: "http://" + HOST + ":" + port + options.path };
		}
		say("two tabs in " + result.browser + ": a on port " + options.portA + ", b on port " + options.portB);

		// Alice on node A, Bob on node B, each with an id of its own.
		const ids = { alice: "alice-" + suffix(), bob: "bob-" + suffix() };
		const home = { alice: tabs.a, bob: tabs.b };
		const tokens = {};
		for (const peer of ["alice", "bob"]) {
			const tab = home[peer];
			await tab.call(([p, id]) => window.T.createPeer(p, id), [peer, ids[peer]]);
			const event = await tab.awaitEvent(peer, ["open", "error"], 0, 10000);
			await pause(200);
			tokens[peer] = await tab.token(peer);
			const sockets = tab.log.withToken(tokens[peer]);
			const received = tab.log.frames(tokens[peer], "received");
			result.peers[peer] = { node: tab.name, id: ids[peer], event: event, socketUrls: sockets.map((s) => s.url),
				handshakeStatus: sockets.length ? sockets[0].status : null, firstFrame: received.length ? received[0].text : null };
			say(peer + " on node " + tab.name + ": " + (event ? event.kind : "no event"));
		}

		// DataConnections across the nodes; the accepting peer echoes (page.js), so data flows both ways.
		const plan = [["alice", "bob", "json"], ["alice", "bob", "binary"], ["bob", "alice", "json"]];
		for (const [from, to, serialization] of plan) {
			const run = await home[from].call(([f, id, s]) => window.T.connectAndEcho(f, id, s, 15000), [from, ids[to], serialization]);
			const remote = (await home[to].events(to)).filter((e) => e.connectionId === run.connectionId);
			Object.assign(run, {
				name: from + "-to-" + to + "-" + serialization,
				from: from,
				to: to,
				fromNode: home[from].name,
				toNode: home[to].name,
				remoteConnection: remote.some((e) => e.kind === "connection" && e.from === ids[from]),
				remoteOpen: remote.some((e) => e.kind === "connection-open"),
				remoteEchoed: remote.some((e) => e.kind === "echoed"),
				echoEqual: JSON.stringify(run.sent) === JSON.stringify(run.received),
			});
			result.runs.push(run);
			say(run.name + ": opened " + run.opened + ", echoed " + run.echoed + (run.echoMs !== null ? " in " + run.echoMs + " ms" : ""));
		}

		// Node B is asked for the id that node A holds for Alice.
		{
			const before = (await tabs.b.call(() => window.T.events.length));
			await tabs.b.call(([p, id]) => window.T.createPeer(p, id), ["alice2", ids.alice]);
			const event = await tabs.b.awaitEvent("alice2", ["open", "error"], before, 10000);
			await pause(300);
			const token = await tabs.b.token("alice2");
			result.taken = { node: "b", id: ids.alice, event: event, received: tabs.b.log.frames(token, "received").map((f) => f.text),
				aliceStillOpen: await tabs.a.call(() => window.T.peerState("alice").open) };
			say("alice's id on node b: " + (event ? event.kind + " " + (event.type || "") : "no event"));
		}

		// Trickled candidates may still be on their way: let them land, then pair the frames.
		await pause(1000);
		for (const run of result.runs) {
			const f = run.from;
			const t = run.to;
			run.relays = relays(home[f], tokens[f], ids[f], home[t], tokens[t], ids[t], run.connectionId)
				.concat(relays(home[t], tokens[t], ids[t], home[f], tokens[f], ids[f], run.connectionId));
		}
		result.completed = true;
		say("done");
	} catch (e) {
		result.fatal = String(e && e.stack ? e.stack : e);
		process.stderr.write("cluster-driver: " + result.fatal + "\n");
	}
	result.durationMs = Date.now() - started;
	save();
	summary(result);
	clearTimeout(watchdog);
	try {
		if (context)
			await Promise.race([context.close(), pause(10000)]);
	} catch (e) {
		process.stderr.write("cluster-driver: closing the browser: " + e + "\n");
	}
	if (pageServer)
		pageServer.close();
	process.exit(result.completed ? 0 : 1);
}

// One line per step on stdout; PeerJsBrowserClusterTest.cpp does the asserting.
function summary(r) {
	const out = (label, text) => process.stdout.write(label.padEnd(24) + text + "\n");
	process.stdout.write("PeerJS across two cluster nodes" + (r.browser ? " with " + r.browser : "") + ", " + r.durationMs + " ms\n");
	for (const peer of Object.keys(r.peers)) {
		const p = r.peers[peer];
		out(peer + " (node " + p.node + ")", (p.event ? p.event.kind + " " + (p.event.id || p.event.type) : "no event") + "; first frame " + p.firstFrame);
	}
	for (const run of r.runs) {
		const pairs = run.relays || [];
		out(run.name, "open " + run.opened + ", echo " + run.echoEqual + "; relayed " + pairs.map((p) => p.type[0]).join("") + " (" +
			pairs.filter((p) => p.received === null || p.received !== p.expected).length + " differ)");
	}
	if (r.taken)
		out("alice's id on node b", r.taken.event ? r.taken.event.kind + " " + r.taken.event.type + ": " + r.taken.event.message : "no event");
	if (r.fatal)
		out("FATAL", r.fatal);
}

main().catch((e) => {
	process.stderr.write("cluster-driver: " + (e && e.stack ? e.stack : e) + "\n");
	process.exit(1);
});
