// tls/driver.js: headless Chromium against a Switchboard TLS listener, run by tests/browser/run.sh
// --tls <dir> inside its network namespace. The official peerjs 1.5.5 client (the browser test's
// page/page.js, with secure: true) signals over https:// and wss:// to the peerjs plugin, and the
// page's native WebSocket echoes over wss:// with the echo plugin. Chromium trusts the test's CA
// only through --ignore-certificate-errors-spki-list with the CA's SubjectPublicKeyInfo hash (the
// server sends the CA in its chain); a listener whose certificate the CA did not issue must be
// refused. Writes what it observed to a JSON file; TlsClientsTest.cpp asserts on it.
//
// Usage: node tls/driver.js --tls <dir> --untrusted-port <port> --cache <dir> --signal-port <port>
//                           --page-port <port> --out <file> --user-data-dir <fresh dir>
//                           [--label <name>] [--budget-ms <ms>]
// <dir>/ca.pem is the CA. Every wait is bounded; --budget-ms bounds the whole run.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const path = require("path");
const { startPageServer } = require("../page-server");

const CHROMIUM = "/usr/bin/chromium";
// The browser test's flags; certificate checks stay on (no --ignore-certificate-errors).
const CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-features=WebRtcHideLocalIpsWithMdns",
	"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SIGNAL_HOST = "127.0.0.1";
const PATH = "/myapp";
const KEY = "peerjs";

function parseArgs(argv) {
	const args = { label: "switchboard", budgetMs: 60000 };
	for (let i = 2; i < argv.length; i += 2) {
		const name = argv[i];
		const value = argv[i + 1];
		if (value === undefined)
			throw new Error("missing value for " + name);
		switch (name) {
		case "--tls": args.tls = value; break;
		case "--untrusted-port": args.untrustedPort = Number(value); break;
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
	for (const required of ["tls", "untrustedPort", "cache", "signalPort", "pagePort", "out", "userDataDir"])
		if (!args[required])
			throw new Error("missing --" + required.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()));
	return args;
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function tryParse(text) {
	try {
		return JSON.parse(text);
	} catch (e) {
		return null;
	}
}

// base64(SHA-256(DER SubjectPublicKeyInfo)) of the first certificate in a PEM file: the form
// --ignore-certificate-errors-spki-list takes.
function spkiHash(pemFile) {
	const cert = new crypto.X509Certificate(fs.readFileSync(pemFile));
	const der = cert.publicKey.export({ type: "spki", format: "der" });
	return crypto.createHash("sha256").update(der).digest("base64");
}

// HTTP requests (with the TLS details Chromium reports) and WebSockets from the DevTools protocol.
class NetworkLog {
	constructor() {
		this.requests = new Map();
		this.sockets = new Map();
		this.order = [];
	}

	attach(cdp) {
		cdp.on("Network.requestWillBeSent", (p) => {
			this.requests.set(p.requestId, { url: p.request.url, method: p.request.method, status: null, acao: null,
				security: null, securityState: null, failed: null });
		});
		cdp.on("Network.responseReceived", (p) => {
			const r = this.requests.get(p.requestId);
			if (!r)
				return;
			r.status = p.response.status;
			r.securityState = p.response.securityState || null;
			const headers = {};
			for (const k of Object.keys(p.response.headers || {}))
				headers[k.toLowerCase()] = p.response.headers[k];
			r.acao = headers["access-control-allow-origin"] || null;
			const d = p.response.securityDetails;
			if (d)
				r.security = { protocol: d.protocol, subjectName: d.subjectName, issuer: d.issuer, sanList: d.sanList };
		});
		cdp.on("Network.loadingFailed", (p) => {
			const r = this.requests.get(p.requestId);
			if (r)
				r.failed = p.errorText;
		});
		cdp.on("Network.webSocketCreated", (p) => {
			this.sockets.set(p.requestId, { url: p.url, handshakeStatus: null, received: [], sent: [], errors: [], closed: false });
			this.order.push(p.requestId);
		});
		cdp.on("Network.webSocketHandshakeResponseReceived", (p) => {
			const s = this.sockets.get(p.requestId);
			if (s)
				s.handshakeStatus = p.response.status;
		});
		cdp.on("Network.webSocketFrameSent", (p) => {
			const s = this.sockets.get(p.requestId);
			if (s)
				s.sent.push(p.response.payloadData);
		});
		cdp.on("Network.webSocketFrameReceived", (p) => {
			const s = this.sockets.get(p.requestId);
			if (s)
				s.received.push(p.response.payloadData);
		});
		cdp.on("Network.webSocketFrameError", (p) => {
			const s = this.sockets.get(p.requestId);
			if (s)
				s.errors.push(p.errorMessage);
		});
		cdp.on("Network.webSocketClosed", (p) => {
			const s = this.sockets.get(p.requestId);
			if (s)
				s.closed = true;
		});
	}

	requestsTo(prefix) {
		return [...this.requests.values()].filter((r) => r.url.startsWith(prefix));
	}

	socketsTo(prefix) {
		return this.order.map((id) => this.sockets.get(id)).filter((s) => s.url.startsWith(prefix));
	}
}

// In the page: a native WebSocket that sends each message after the previous echo, then closes.
// Binary messages are given as arrays of byte values. Never rejects.
function nativeEcho([url, messages, timeoutMs]) {
	return new Promise((resolve) => {
		const out = { url: url, opened: false, echoes: [], closeCode: null, wasClean: null, errorEvent: false, timedOut: false };
		let ws;
		try {
			ws = new WebSocket(url);
		} catch (e) {
			out.exception = String(e);
			resolve(out);
			return;
		}
		ws.binaryType = "arraybuffer";
		const toSend = messages.map((m) => (typeof m === "string" ? m : new Uint8Array(m)));
		let next = 0;
		const sendNext = () => {
			if (next < toSend.length)
				ws.send(toSend[next++]);
			else
				ws.close(1000, "done");
		};
		const timer = setTimeout(() => {
			out.timedOut = true;
			resolve(out);
		}, timeoutMs);
		ws.onopen = () => {
			out.opened = true;
			sendNext();
		};
		ws.onmessage = (e) => {
			const sent = toSend[out.echoes.length];
			let equal;
			if (typeof sent === "string")
				equal = e.data === sent;
			else {
				const got = e.data instanceof ArrayBuffer ? new Uint8Array(e.data) : null;
				equal = !!got && got.length === sent.length && got.every((b, i) => b === sent[i]);
			}
			out.echoes.push({ binary: typeof e.data !== "string", sentBinary: typeof sent !== "string", equal: equal });
			sendNext();
		};
		ws.onerror = () => {
			out.errorEvent = true;
		};
		ws.onclose = (e) => {
			out.closeCode = e.code;
			out.wasClean = e.wasClean;
			clearTimeout(timer);
			resolve(out);
		};
	});
}

// In the page: fetch() of a URL in a request mode ("cors", or "no-cors" for a server that sends no
// CORS headers: an opaque response); the response type and status, or the rejection. Never rejects.
async function pageFetch([url, mode, timeoutMs]) {
	const controller = new AbortController();
	const timer = setTimeout(() => controller.abort(), timeoutMs);
	try {
		const res = await fetch(url, { mode: mode, signal: controller.signal, cache: "no-store" });
		return { url: url, mode: mode, type: res.type, status: res.status, error: null };
	} catch (e) {
		return { url: url, mode: mode, type: null, status: null, error: String(e) };
	} finally {
		clearTimeout(timer);
	}
}

async function main() {
	const args = parseArgs(process.argv);
	const started = Date.now();
	const result = { label: args.label, completed: false, fatal: null, steps: [], cases: {}, console: [], pageErrors: [] };
	const step = (name) => {
		result.steps.push({ name: name, ms: Date.now() - started });
		process.stderr.write("[tls driver " + ((Date.now() - started) / 1000).toFixed(1) + "s] " + name + "\n");
	};
	const write = () => fs.writeFileSync(args.out, JSON.stringify(result, null, 1));
	let context = null;
	let pageServer = null;
	const watchdog = setTimeout(() => {
		result.fatal = "driver budget of " + args.budgetMs + " ms exceeded";
		write();
		process.stderr.write("tls driver: " + result.fatal + "\n");
		process.exit(3);
	}, args.budgetMs);

	const net = new NetworkLog();
	const signaling = "https://" + SIGNAL_HOST + ":" + args.signalPort;
	const signalingWs = "wss://" + SIGNAL_HOST + ":" + args.signalPort;
	try {
		result.spki = spkiHash(path.join(args.tls, "ca.pem"));
		result.chromiumFlags = CHROMIUM_FLAGS.concat(["--ignore-certificate-errors-spki-list=" + result.spki]);
		const { chromium } = require(path.join(args.cache, "node_modules", "playwright-core"));
		pageServer = await startPageServer(args.cache, args.pagePort);
		const pageOrigin = "http://127.0.0.1:" + args.pagePort;
		result.pageOrigin = pageOrigin;
		result.signaling = signaling + PATH;
		step("page server on " + pageOrigin);

		// ignoreHTTPSErrors stays false: Playwright would otherwise accept any certificate.
		context = await chromium.launchPersistentContext(args.userDataDir, { executablePath: CHROMIUM, headless: true,
			args: result.chromiumFlags, ignoreHTTPSErrors: false, timeout: 30000 });
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
		const hasPeer = await page.evaluate(([host, port, p, k]) => {
			const ok = window.T.configure(host, port, p, k);
			window.T.options.secure = true;
			return ok;
		}, [SIGNAL_HOST, args.signalPort, PATH, KEY]);
		if (!hasPeer)
			throw new Error("window.peerjs.Peer missing after loading peerjs.min.js");

		const waitEvent = async (name, kinds, timeoutMs) => {
			const deadline = Date.now() + timeoutMs;
			for (;;) {
				const hit = await page.evaluate(([n, ks]) => window.T.events.find((e) => e.peer === n && ks.includes(e.kind)) || null,
					[name, kinds]);
				if (hit || Date.now() >= deadline)
					return hit;
				await sleep(50);
			}
		};
		const eventsOf = (name) => page.evaluate((n) => window.T.eventsOf(n), name);

		// PeerJS over https:// (Bob's id from GET <path>/peerjs/id) and wss:// (both peers).
		step("peerjs: bob (id from the server) and alice (own id) with secure: true");
		const aliceId = "alice-" + crypto.randomBytes(3).toString("hex");
		await page.evaluate(() => window.T.createPeer("bob", null));
		await page.evaluate((id) => window.T.createPeer("alice", id), aliceId);
		const bobOpen = await waitEvent("bob", ["open", "error"], 10000);
		const aliceOpen = await waitEvent("alice", ["open", "error"], 10000);
		const bobId = await page.evaluate(() => window.T.peerId("bob"));
		const peers = { bobEvent: bobOpen, aliceEvent: aliceOpen, bobId: bobId, aliceId: aliceId };
		result.cases.peerjs = peers;
		step("peerjs: bob " + (bobOpen ? bobOpen.kind : "no event") + ", alice " + (aliceOpen ? aliceOpen.kind : "no event"));

		step("peerjs: alice connects to bob (json) and waits for the echo");
		if (bobOpen && bobOpen.kind === "open" && aliceOpen && aliceOpen.kind === "open") {
			const run = await page.evaluate(([id]) => window.T.connectAndEcho("alice", id, "json", 15000), [bobId]);
			const bobEvents = await eventsOf("bob");
			run.bobConnection = bobEvents.some((e) => e.kind === "connection" && e.connectionId === run.connectionId && e.from === aliceId);
			run.bobEchoed = bobEvents.some((e) => e.kind === "echoed" && e.connectionId === run.connectionId);
			run.echoEqual = JSON.stringify(run.sent) === JSON.stringify(run.received);
			peers.connect = run;
		}
		await sleep(300);
		const idRequests = net.requestsTo(signaling + PATH + "/" + KEY + "/id");
		peers.idRequests = idRequests;
		const typesFrom = (socket, from) => socket.received.map(tryParse).filter((m) => m && (from === null || m.src === from))
			.map((m) => m.type);
		const socketOf = (id) => net.socketsTo(signalingWs + PATH + "/" + KEY + "?key=" + KEY + "&id=" + encodeURIComponent(id) + "&");
		peers.sockets = {};
		for (const [name, id, other] of [["bob", bobId, aliceId], ["alice", aliceId, bobId]]) {
			const sockets = id ? socketOf(id) : [];
			const s = sockets[0];
			peers.sockets[name] = {
				count: sockets.length,
				url: s ? s.url : null,
				handshakeStatus: s ? s.handshakeStatus : null,
				firstFrame: s && s.received.length ? s.received[0] : null,
				typesFromOther: s ? typesFrom(s, other) : [],
				errors: s ? s.errors : [],
			};
		}

		// The page's own WebSocket over wss:// to the echo plugin: text, then binary.
		step("native WebSocket echo over wss://");
		const bytes = [...crypto.randomBytes(1500)];
		result.cases.nativeWss = await page.evaluate(nativeEcho, [signalingWs + "/echo/ws", ["hello from chromium over wss", bytes], 10000]);
		result.cases.nativeWss.socket = net.socketsTo(signalingWs + "/echo/ws")[0] || null;

		// A fetch() over https:// to the echo plugin. It sends no CORS headers, so the page asks for
		// an opaque response; it resolves only if the TLS connection was made.
		step("fetch over https://");
		result.cases.trustedFetch = await page.evaluate(pageFetch, [signaling + "/echo/stats", "no-cors", 8000]);

		// A certificate the CA did not issue: the same fetch and a WebSocket must fail, for want of trust.
		step("untrusted listener: fetch and WebSocket");
		const untrusted = "127.0.0.1:" + args.untrustedPort;
		result.cases.untrusted = {
			fetch: await page.evaluate(pageFetch, ["https://" + untrusted + "/echo/stats", "no-cors", 8000]),
			ws: await page.evaluate(nativeEcho, ["wss://" + untrusted + "/echo/ws", ["never echoed"], 8000]),
		};
		await sleep(200);
		result.cases.untrusted.requests = net.requestsTo("https://" + untrusted + "/");
		result.cases.trustedFetch.requests = net.requestsTo(signaling + "/echo/stats");

		result.events = await page.evaluate(() => window.T.events);
		result.completed = true;
		step("done");
	} catch (e) {
		result.fatal = String(e && e.stack ? e.stack : e);
		process.stderr.write("tls driver: " + result.fatal + "\n");
	}
	result.durationMs = Date.now() - started;
	write();
	printSummary(result);
	clearTimeout(watchdog);
	try {
		if (context)
			await Promise.race([context.close(), sleep(10000)]);
	} catch (e) {
		process.stderr.write("tls driver: closing the browser: " + e + "\n");
	}
	if (pageServer)
		pageServer.close();
	process.exit(result.completed ? 0 : 1);
}

// A short human summary on stdout; the assertions live in TlsClientsTest.cpp.
function printSummary(r) {
	const c = r.cases;
	const line = (name, text) => process.stdout.write(name.padEnd(14) + text + "\n");
	process.stdout.write("TLS browser run" + (r.browser ? " with " + r.browser : "") + ", SPKI " + r.spki + ", " + r.durationMs + " ms\n");
	if (c.peerjs) {
		const p = c.peerjs;
		const q = (p.idRequests || [])[0];
		line("peerjs id", q ? "GET " + q.url + " -> " + q.status + (q.security ? " " + q.security.protocol + " issuer " + q.security.issuer : "") +
			(q.failed ? " " + q.failed : "") : "no /id request");
		line("peerjs open", "bob " + (p.bobEvent ? p.bobEvent.kind + " " + (p.bobEvent.id || p.bobEvent.type) : "no event") +
			", alice " + (p.aliceEvent ? p.aliceEvent.kind + " " + (p.aliceEvent.id || p.aliceEvent.type) : "no event"));
		if (p.connect)
			line("peerjs data", "open " + p.connect.opened + ", echo " + p.connect.echoEqual + (p.connect.errors.length ? " " + p.connect.errors.join("; ") : ""));
		if (p.sockets)
			line("peerjs relay", "bob got " + JSON.stringify(p.sockets.bob.typesFromOther) + ", alice got " + JSON.stringify(p.sockets.alice.typesFromOther));
	}
	if (c.nativeWss)
		line("native wss", "open " + c.nativeWss.opened + ", echoes " + c.nativeWss.echoes.map((e) => e.equal).join(",") + ", close " + c.nativeWss.closeCode);
	if (c.trustedFetch)
		line("https fetch", (c.trustedFetch.error || c.trustedFetch.type) + "; " + c.trustedFetch.requests.map((x) => x.status + " " +
			(x.security ? x.security.protocol : "") + (x.failed ? " " + x.failed : "")).join(","));
	if (c.untrusted)
		line("untrusted", "fetch " + (c.untrusted.fetch.error || c.untrusted.fetch.type) + " (" + c.untrusted.requests.map((x) => x.failed).join(",") +
			"), ws open " + c.untrusted.ws.opened + " close " + c.untrusted.ws.closeCode);
	if (r.fatal)
		line("FATAL", r.fatal);
}

main().catch((e) => {
	process.stderr.write("tls driver: " + (e && e.stack ? e.stack : e) + "\n");
	process.exit(1);
});
