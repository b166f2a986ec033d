// together-driver.js: drives the Together web client, served by the together plugin, in headless Chromium with two
// browser contexts (two users), and writes one named case per step (pass, detail) to a JSON file.
// TogetherBrowserTest.cpp asserts that every case passed.
//
// Usage: node together-driver.js --cache <dir> --url <http://127.0.0.1:port> --out <file>
//                                [--url-b <http://127.0.0.1:port>] [--artifacts <dir>] [--budget-ms <ms>]
// Everything is read from the pages' DOM (plus the gateway frames and RTCPeerConnection states,
// recorded for the voice cases). Every wait is bounded; --budget-ms bounds the whole run.
// run-together.sh runs this inside a private network namespace.
//
// --url-b (default: --url) is where user B's context loads the client from: another node of the
// same cluster in TogetherBrowserClusterTest.cpp, so each user's REST calls and gateway reach its
// own node only. The result records, per user, the URL it loaded and every host its page
// requested. A listing read through one node can lag a change made through the other by the time
// the change's notice takes (docs/protocols/together.md §9), so where a step reads such a listing
// once (Browse Servers, a server's channels and members, a voice channel's participants), the
// cross-node run repeats the client action that reads it again until it shows the change, within
// LIVE_TIMEOUT_MS; with one URL nothing is repeated.
"use strict";

const fs = require("fs");
const path = require("path");

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
	"--use-fake-device-for-media-stream", "--disable-features=WebRtcHideLocalIpsWithMdns",
	"--autoplay-policy=no-user-gesture-required", "--no-first-run", "--disable-background-networking",
	"--disable-component-update", "--disable-sync"];
const VIEWPORT = { width: 1280, height: 800 };
const ACTION_TIMEOUT_MS = 10000;
const CASE_TIMEOUT_MS = 40000;
const LIVE_TIMEOUT_MS = 8000;
const RTC_TIMEOUT_MS = 20000;
const HOLD_VOICE_LIST_MS = 5000;
const REREAD_POLL_MS = 1000;
const PASSWORD = "correct-horse-42";
const WRONG_PASSWORD = "wrong-horse-42";
const DELETED_TEXT = "This message has been deleted";

// The cases in order; "needs" names the cases whose success a case builds on (a case whose
// needs failed is reported as not run, and fails).
const CASES = [
	["a-register", "user A registers with the sign-up form and is signed in", []],
	["a-sign-out", "A signs out: the sign-in form is back and the tokens are gone", ["a-register"]],
	["a-wrong-password", "A signs in with a wrong password: the form shows exactly \"Invalid username or password\"", ["a-sign-out"]],
	["a-sign-in", "A signs in with the right password", ["a-sign-out"]],
	["a-create-server", "A creates a public server", ["a-sign-in"]],
	["a-create-text-channel", "A creates a text channel, which opens", ["a-create-server"]],
	["b-register", "user B registers with the sign-up form", []],
	["b-join-from-browse", "B finds A's server in Browse Servers, joins it and opens the text channel", ["b-register", "a-create-text-channel"]],
	["a-sees-b-member", "A reopens the server and channel: B is listed under Online", ["b-join-from-browse"]],
	["message-a-to-b", "A sends a message: it appears on A's page and, live, on B's", ["a-sees-b-member"]],
	["message-b-to-a", "B sends a message: it appears, live, on A's page with B as author", ["a-sees-b-member"]],
	["edit-live", "A edits its message: B sees the new text and \"(edited)\"", ["message-a-to-b"]],
	["delete-live", "A deletes a message: B sees \"" + DELETED_TEXT + "\" in its place", ["message-a-to-b"]],
	["presence-invisible", "B sets Invisible in User Settings: A's member list moves B to Offline", ["a-sees-b-member"]],
	["presence-online", "B sets Online again: A's member list moves B back to Online", ["presence-invisible"]],
	["a-create-voice-channel", "A creates a voice channel; B sees it after reopening the server", ["a-sees-b-member"]],
	["voice-join", "A, then B, select the voice channel and click Join Voice: both show Voice Connected and 2 participants", ["a-create-voice-channel"]],
	["webrtc-connected", "the RTCPeerConnection on each page reaches connectionState \"connected\"", ["voice-join"]],
	["voice-signal-relayed", "the offer, answer and ICE candidates went through the gateway as VOICE_SIGNAL, unchanged", ["voice-join"]],
	["remote-audio", "each page plays the other's audio: a remote <audio> with a live track", ["webrtc-connected"]],
	["gateway-stable", "each page kept its gateway WebSocket: A's first closed only by signing out, none other closed", []],
	["no-uncaught-errors", "neither page had an uncaught exception", []],
	["console-errors-expected", "every console error is an expected failed request", []],
];

// Console errors that are expected: the browser logs every failed request as "Failed to load
// resource". The wrong password is a 401 by design; GET /channels/:id/go-live answers 404 when no
// one is live, which is the client's "no session" (docs/protocols/together.md §7).
const EXPECTED_FAILURES = [
	{ method: "POST", path: /^\/api\/auth\/login$/, status: 401, during: "a-wrong-password", why: "the wrong password" },
	{ method: "GET", path: /^\/api\/channels\/[0-9a-f-]{36}\/go-live$/, status: 404, during: null, why: "no Go Live session" },
];

// Wraps RTCPeerConnection before the app loads, to record each connection's states (the client has
// no UI for them), the type of its last local and remote descriptions and how many tracks it sent
// with its first offer; and getUserMedia, to record when each call settled. State changes are
// observed with listeners, so the app's own handlers are untouched; the wrapped methods only
// record and pass everything through.
const RTC_RECORDER = `(() => {
	const Native = window.RTCPeerConnection;
	if (!Native || window.__pcLog)
		return;
	const log = [];
	window.__pcLog = log;
	const t0 = performance.now();
	const now = () => Math.round(performance.now() - t0);
	class Recorded extends Native {
		constructor(...args) {
			super(...args);
			const rec = { index: log.length, createdMs: now(), connection: [{ state: this.connectionState, ms: now() }],
				ice: [{ state: this.iceConnectionState, ms: now() }], lastLocal: null, lastRemote: null, sendersAtOffer: null };
			log.push(rec);
			this.addEventListener("connectionstatechange", () => rec.connection.push({ state: this.connectionState, ms: now() }));
			this.addEventListener("iceconnectionstatechange", () => rec.ice.push({ state: this.iceConnectionState, ms: now() }));
			const createOffer = this.createOffer.bind(this);
			this.createOffer = (...a) => {
				if (rec.sendersAtOffer === null)
					rec.sendersAtOffer = this.getSenders().filter((s) => s.track).length;
				return createOffer(...a);
			};
			const setLocal = this.setLocalDescription.bind(this);
			this.setLocalDescription = (...a) => setLocal(...a).then((r) => { rec.lastLocal = this.localDescription && this.localDescription.type; return r; });
			const setRemote = this.setRemoteDescription.bind(this);
			this.setRemoteDescription = (...a) => setRemote(...a).then((r) => { rec.lastRemote = this.remoteDescription && this.remoteDescription.type; return r; });
		}
	}
	window.RTCPeerConnection = Recorded;
	const media = navigator.mediaDevices;
	if (media && media.getUserMedia) {
		const gum = media.getUserMedia.bind(media);
		window.__gumLog = [];
		media.getUserMedia = (...a) => {
			const rec = { startMs: now(), endMs: null, ok: null };
			window.__gumLog.push(rec);
			return gum(...a).then((s) => { rec.endMs = now(); rec.ok = true; return s; },
				(e) => { rec.endMs = now(); rec.ok = false; throw e; });
		};
	}
})();`;

function parseArgs(argv) {
	const args = { budgetMs: 60000, artifacts: null };
	for (let i = 2; i < argv.length; i += 2) {
		const name = argv[i];
		const value = argv[i + 1];
		if (value === undefined)
			throw new Error("missing value for " + name);
		switch (name) {
		case "--cache": args.cache = value; break;
		case "--url": args.url = value.replace(/\/+$/, ""); break;
		case "--url-b": args.urlB = value.replace(/\/+$/, ""); break;
		case "--out": args.out = value; break;
		case "--artifacts": args.artifacts = value; break;
		case "--budget-ms": args.budgetMs = Number(value); break;
		default: throw new Error("unknown argument " + name);
		}
	}
	for (const required of ["cache", "url", "out"])
		if (!args[required])
			throw new Error("missing --" + required);
	if (!args.urlB)
		args.urlB = args.url;
	return args;
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function suffix() {
	let s = "";
	while (s.length < 5)
		s += Math.random().toString(36).slice(2).replace(/[^a-z0-9]/g, "");
	return s.slice(0, 5);
}

function tryParse(text) {
	try {
		return JSON.parse(text);
	} catch (e) {
		return null;
	}
}

function short(value, max) {
	const text = typeof value === "string" ? value : JSON.stringify(value);
	return text.length > max ? text.slice(0, max) + "..." : text;
}

function errorText(e) {
	const text = String((e && e.message) || e);
	// Playwright appends a call log; the first lines say what failed.
	return text.split("\n").slice(0, 8).join("\n");
}

function withTimeout(promise, ms, what) {
	let timer;
	const timeout = new Promise((resolve, reject) => {
		timer = setTimeout(() => reject(new Error(what + ": no result within " + ms + " ms")), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Polls fn() (async) until check(value) holds; returns the value, or throws with the last value.
async function until(what, fn, check, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	let last;
	for (;;) {
		last = await fn();
		if (check(last))
			return last;
		if (Date.now() >= deadline)
			throw new Error(what + " within " + timeoutMs + " ms; last seen: " + short(last, 1500));
		await sleep(100);
	}
}

// One signed-in (or not yet) user: a browser context with one page, and what it recorded.
class User {
	constructor(label, name, url, context, page, run) {
		this.label = label;
		this.name = name;
		this.url = url;
		this.context = context;
		this.page = page;
		this.id = null;
		this.frames = [];
		this.sockets = [];
		// Every host (host:port) the page sent an HTTP request or opened a WebSocket to.
		this.hosts = new Set();
		const record = (entry) => run.record(label, entry);
		const noteHost = (address) => {
			const u = new URL(address);
			if (["http:", "https:", "ws:", "wss:"].includes(u.protocol))
				this.hosts.add(u.host);
		};
		page.on("request", (r) => noteHost(r.url()));
		page.on("pageerror", (e) => run.pageErrors.push({ user: label, step: run.current, error: String(e && e.stack || e) }));
		page.on("console", (m) => {
			if (m.type() === "error") {
				const loc = m.location() || {};
				run.consoleErrors.push({ user: label, step: run.current, text: m.text(), url: loc.url || null });
			}
		});
		page.on("response", (r) => {
			if (r.status() >= 400)
				record({ kind: "http", method: r.request().method(), url: r.url(), status: r.status() });
		});
		page.on("requestfailed", (r) => record({ kind: "requestfailed", method: r.method(), url: r.url(),
			failure: r.failure() ? r.failure().errorText : null }));
		page.on("dialog", (d) => {
			// Only the delete confirmation is expected; anything else is recorded and dismissed.
			record({ kind: "dialog", type: d.type(), message: d.message() });
			if (d.type() === "confirm" && d.message() === "Delete this message?")
				d.accept().catch(() => {});
			else
				d.dismiss().catch(() => {});
		});
		page.on("websocket", (ws) => {
			noteHost(ws.url());
			const socket = { path: new URL(ws.url()).pathname, openedStep: run.current, closedStep: null };
			this.sockets.push(socket);
			ws.on("close", () => { socket.closedStep = run.current; });
			const frame = (dir) => (f) => {
				const text = typeof f.payload === "string" ? f.payload : f.payload.toString("utf8");
				const m = tryParse(text);
				this.frames.push({ dir: dir, step: run.current, ms: Date.now() - run.started, text: text, m: m });
				if (dir === "received" && m && m.op === "DISPATCH" && m.t === "READY" && m.d && m.d.user)
					this.id = m.d.user.id;
			};
			ws.on("framesent", frame("sent"));
			ws.on("framereceived", frame("received"));
		});
	}

	signals(dir) {
		return this.frames.filter((f) => f.dir === dir && f.m && f.m.op === (dir === "sent" ? "VOICE_SIGNAL" : "DISPATCH") &&
			(dir === "sent" || f.m.t === "VOICE_SIGNAL"));
	}
}

// Snapshot of the message list: one entry per message element, with its group's author carried
// into compact (header-less) messages.
function messagesOf(page) {
	return page.evaluate(() => {
		const log = document.querySelector('[role="log"][aria-label="Message history"]');
		if (!log)
			return null;
		let author = null;
		return [...log.querySelectorAll('[class*="_message_"]')].map((el) => {
			const a = el.querySelector('[class*="_authorName_"]');
			if (a)
				author = a.textContent;
			const text = el.querySelector('[class*="_text_"]');
			const deleted = el.querySelector('[class*="_deletedContent_"]');
			// A deleted message shows no author and ends its group.
			if (deleted)
				author = null;
			return { author: deleted ? null : author, text: text ? text.textContent : null, edited: !!el.querySelector('[class*="_edited_"]'),
				deleted: deleted ? deleted.textContent : null };
		});
	});
}

// Where a member row is in the member list: its group heading and its status dot's class.
function memberOf(page, name) {
	return page.evaluate((n) => {
		const rows = [...document.querySelectorAll('[role="button"][aria-label^="View profile of "]')];
		const row = rows.find((r) => r.getAttribute("aria-label") === "View profile of " + n);
		const all = rows.map((r) => r.getAttribute("aria-label").slice("View profile of ".length));
		if (!row)
			return { found: false, members: all };
		const heading = row.parentElement ? row.parentElement.querySelector("h3") : null;
		const dot = row.querySelector('[class*="_status_"]');
		return { found: true, group: heading ? heading.textContent : null, dot: dot ? dot.className : null, members: all };
	}, name);
}

function groupIs(member, group, dot) {
	return member && member.found && member.group !== null && member.group.startsWith(group + " \u2014 ") &&
		member.dot !== null && member.dot.indexOf("_" + dot + "_") >= 0;
}

async function main() {
	const args = parseArgs(process.argv);
	const started = Date.now();
	const run = {
		current: "start",
		started: started,
		pageErrors: [],
		consoleErrors: [],
		events: [],
		record(user, entry) {
			entry.user = user;
			entry.step = this.current;
			entry.ms = Date.now() - started;
			this.events.push(entry);
		},
	};
	const cases = CASES.map(([name, description, needs]) => ({ name: name, description: description, needs: needs,
		ran: false, pass: false, detail: "not run", ms: 0 }));
	const byName = new Map(cases.map((c) => [c.name, c]));
	const result = { completed: false, fatal: null, url: args.url, urlB: args.urlB, browser: null, users: {}, cases: cases,
		pageErrors: run.pageErrors, consoleErrors: run.consoleErrors, events: run.events, peerConnections: {}, durationMs: 0 };
	const write = () => {
		result.durationMs = Date.now() - started;
		fs.writeFileSync(args.out, JSON.stringify(result, null, 1));
	};
	const log = (line) => process.stderr.write("[together " + ((Date.now() - started) / 1000).toFixed(1) + "s] " + line + "\n");
	const watchdog = setTimeout(() => {
		result.fatal = "driver budget of " + args.budgetMs + " ms exceeded during " + run.current;
		write();
		process.stderr.write("together-driver: " + result.fatal + "\n");
		process.exit(3);
	}, args.budgetMs);

	let browser = null;
	const users = {};
	const shoot = async (name) => {
		if (!args.artifacts)
			return [];
		const shots = [];
		for (const u of Object.values(users)) {
			const file = path.join(args.artifacts, name + "-" + u.label + ".png");
			try {
				await withTimeout(u.page.screenshot({ path: file, timeout: 5000 }), 6000, "screenshot");
				shots.push(file);
			} catch (e) {
				// A screenshot is a diagnostic only.
			}
		}
		return shots;
	};
	const step = async (name, fn) => {
		const c = byName.get(name);
		const missing = c.needs.filter((n) => !byName.get(n).pass);
		if (missing.length > 0) {
			c.detail = "not run: needs " + missing.join(", ");
			log("SKIP " + name + ": " + c.detail);
			return;
		}
		run.current = name;
		c.ran = true;
		const t0 = Date.now();
		try {
			const detail = await withTimeout(fn(), CASE_TIMEOUT_MS, name);
			c.pass = true;
			c.detail = detail === undefined ? "" : detail;
		} catch (e) {
			c.pass = false;
			c.detail = errorText(e);
			c.screenshots = await shoot(name);
		}
		c.ms = Date.now() - t0;
		log((c.pass ? "PASS " : "FAIL ") + name + " (" + c.ms + " ms): " + short(c.detail, c.pass ? 300 : 3000));
		write();
	};

	try {
		const { chromium } = require(path.join(args.cache, "node_modules", "playwright-core"));
		browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000 });
		result.browser = browser.version();
		log("launched Chromium " + result.browser);
		const tag = suffix();
		const names = { A: "alice" + tag, B: "bob" + tag };
		const serverName = "Lounge " + tag;
		const textChannel = "general";
		const voiceChannel = "voice-room";
		const newUser = async (label) => {
			const url = label === "B" ? args.urlB : args.url;
			const context = await browser.newContext({ viewport: VIEWPORT });
			await context.grantPermissions(["microphone"], { origin: url });
			await context.addInitScript(RTC_RECORDER);
			const page = await context.newPage();
			page.setDefaultTimeout(ACTION_TIMEOUT_MS);
			const u = new User(label, names[label], url, context, page, run);
			users[label] = u;
			result.users[label] = { name: u.name, url: url, hosts: [] };
			return u;
		};
		const A = await newUser("A");
		const B = await newUser("B");

		const signedIn = async (u) => {
			await u.page.getByRole("button", { name: "Sign Out", exact: true }).waitFor();
			const shown = await u.page.locator('[class*="_userInfo_"] [class*="_username_"]').first().textContent();
			if (shown !== u.name)
				throw new Error("the user panel shows '" + shown + "', not '" + u.name + "'");
		};
		// A user without servers gets the Browse Servers dialog at once; "Skip for now" closes it.
		const skipBrowse = async (u) => {
			const dialog = u.page.getByRole("dialog", { name: "Browse Servers" });
			await dialog.waitFor();
			await dialog.getByRole("button", { name: "Skip for now" }).click();
			await dialog.waitFor({ state: "hidden" });
		};
		const register = async (u) => {
			await u.page.goto(u.url + "/", { timeout: 15000 });
			await u.page.getByRole("heading", { name: "Welcome back!" }).waitFor();
			await u.page.getByRole("button", { name: "Register", exact: true }).click();
			await u.page.getByRole("heading", { name: "Create an account" }).waitFor();
			await u.page.locator("#username").fill(u.name);
			await u.page.locator("#password").fill(PASSWORD);
			await u.page.getByRole("button", { name: "Create Account", exact: true }).click();
			await signedIn(u);
		};
		const signInForm = async (u, password) => {
			await u.page.getByRole("heading", { name: "Welcome back!" }).waitFor();
			await u.page.locator("#username").fill(u.name);
			await u.page.locator("#password").fill(password);
			await u.page.getByRole("button", { name: "Sign In", exact: true }).click();
		};
		const tokens = (u) => u.page.evaluate(() => [localStorage.getItem("together_access_token"), localStorage.getItem("together_refresh_token")]);
		const serverButton = (u) => u.page.getByRole("button", { name: serverName, exact: true });
		const channelRow = (u, name) => u.page.locator('button [class*="_channelName_"]').getByText(name, { exact: true });
		const messageInput = (u) => u.page.locator('textarea[aria-label="Message input"]');
		const openChannel = async (u, name) => {
			await channelRow(u, name).click();
			const placeholder = await messageInput(u).getAttribute("placeholder");
			if (placeholder !== "Message #" + name)
				throw new Error("the message input says '" + placeholder + "' in channel " + name);
		};
		// Home, then the server again: the client fetches members and channels on server selection only.
		const reopenServer = async (u) => {
			await u.page.getByRole("button", { name: "Home", exact: true }).click();
			await u.page.getByText("Welcome to Together").waitFor();
			await serverButton(u).click();
			await u.page.locator('[class*="_serverName_"]').getByText(serverName, { exact: true }).waitFor();
		};
		const messageElement = (u, text) => u.page.locator('[role="log"][aria-label="Message history"] [class*="_message_"]')
			.filter({ has: u.page.locator('[class*="_text_"]').getByText(text, { exact: true }) });
		const send = async (u, text) => {
			await messageInput(u).fill(text);
			await messageInput(u).press("Enter");
		};
		const seeMessage = (u, what, check) => until(u.label + " does not show " + what, () => messagesOf(u.page),
			(list) => list !== null && check(list), LIVE_TIMEOUT_MS);
		// Cross-node runs only (see the header): polls look() for REREAD_POLL_MS at a time until
		// ready(value) holds, running reread() (the client action that fetches the listing again)
		// between the polls; within LIVE_TIMEOUT_MS. Returns how many times it re-read.
		const crossNode = args.urlB !== args.url;
		const rereadUntil = async (what, look, ready, reread) => {
			const deadline = Date.now() + LIVE_TIMEOUT_MS;
			let count = 0;
			let last;
			for (;;) {
				const pollEnd = Math.min(deadline, Date.now() + REREAD_POLL_MS);
				for (;;) {
					last = await look();
					if (ready(last))
						return count;
					if (Date.now() >= pollEnd)
						break;
					await sleep(100);
				}
				if (Date.now() >= deadline)
					throw new Error(what + " within " + LIVE_TIMEOUT_MS + " ms (" + count + " re-reads); last seen: " + short(last, 1500));
				await reread();
				count++;
			}
		};
		// What had to be re-read, in the result (cross-node runs): how often a listing lagged.
		const rereads = [];
		if (crossNode)
			result.rereads = rereads;
		const noteRereads = (what, n) => {
			if (n > 0) {
				rereads.push({ step: run.current, what: what, times: n });
				log("re-read " + what + " " + n + " time(s) before it showed the change");
			}
		};

		await step("a-register", async () => {
			await register(A);
			await skipBrowse(A);
			const [access, refresh] = await tokens(A);
			if (!access || !refresh)
				throw new Error("no tokens in localStorage after registering");
			return "signed in as " + A.name + " (user panel), tokens stored";
		});

		await step("a-sign-out", async () => {
			// The client's user panel is wider than the 72 px server bar it sits in: its Sign Out button
			// lies under the channel panel, out of the mouse's reach. The keyboard reaches it.
			await A.page.getByRole("button", { name: "Sign Out", exact: true }).press("Enter");
			await A.page.getByRole("heading", { name: "Welcome back!" }).waitFor();
			const [access, refresh] = await tokens(A);
			if (access !== null || refresh !== null)
				throw new Error("tokens left in localStorage after signing out: " + short([access, refresh], 200));
			// The form can show before the browser reports the close handshake done: wait for it here
			// (bounded), so gateway-stable attributes the close to this step and not the next one.
			const gateway = A.sockets.find((s) => s.path === "/ws" && s.closedStep === null);
			const waitStarted = Date.now();
			while (gateway && gateway.closedStep === null && Date.now() - waitStarted < 5000)
				await sleep(20);
			if (gateway && gateway.closedStep === null)
				throw new Error("the gateway WebSocket is still open 5 s after signing out");
			return "sign-in form shown, tokens removed, gateway closed " + (Date.now() - waitStarted) + " ms after the form showed";
		});

		await step("a-wrong-password", async () => {
			await signInForm(A, WRONG_PASSWORD);
			const alert = A.page.locator('[role="alert"]');
			await alert.waitFor();
			const text = (await alert.textContent()).trim();
			if (text !== "Invalid username or password")
				throw new Error("the error shown is '" + text + "'");
			if (await A.page.getByRole("button", { name: "Sign Out", exact: true }).count() > 0)
				throw new Error("signed in with a wrong password");
			return "alert: " + text;
		});

		await step("a-sign-in", async () => {
			await signInForm(A, PASSWORD);
			await signedIn(A);
			await skipBrowse(A);
			return "signed in as " + A.name;
		});

		await step("a-create-server", async () => {
			await A.page.getByRole("button", { name: "Create server", exact: true }).click();
			const dialog = A.page.getByRole("dialog", { name: "Create a Server" });
			await dialog.waitFor();
			await dialog.locator("#server-name").fill(serverName);
			const listed = dialog.getByLabel("List in Browse Servers (public)");
			if (!(await listed.isChecked()))
				await listed.check();
			await dialog.getByRole("button", { name: "Create Server", exact: true }).click();
			await dialog.waitFor({ state: "hidden" });
			await serverButton(A).waitFor();
			await A.page.locator('[class*="_serverName_"]').getByText(serverName, { exact: true }).waitFor();
			await A.page.getByText("No channels yet").waitFor();
			return "server '" + serverName + "' active, no channels yet";
		});

		await step("a-create-text-channel", async () => {
			await A.page.getByRole("button", { name: "Create Channel", exact: true }).click();
			const dialog = A.page.getByRole("dialog", { name: "Create Channel" });
			await dialog.waitFor();
			await dialog.locator("#channel-type").selectOption("text");
			await dialog.locator("#channel-name").fill(textChannel);
			await dialog.getByRole("button", { name: "Create Channel", exact: true }).click();
			await dialog.waitFor({ state: "hidden" });
			await channelRow(A, textChannel).waitFor();
			await messageInput(A).waitFor();
			const placeholder = await messageInput(A).getAttribute("placeholder");
			if (placeholder !== "Message #" + textChannel)
				throw new Error("the message input says '" + placeholder + "'");
			await A.page.getByText("No messages yet").waitFor();
			return "#" + textChannel + " open, no messages yet";
		});

		await step("b-register", async () => {
			await register(B);
			return "signed in as " + B.name;
		});

		await step("b-join-from-browse", async () => {
			const dialog = B.page.getByRole("dialog", { name: "Browse Servers" });
			await dialog.waitFor();
			const card = dialog.locator('[class*="_serverCard_"]').filter({ hasText: serverName });
			if (crossNode)
				noteRereads("Browse Servers", await rereadUntil("B's Browse Servers (node B) does not list '" + serverName + "'",
					() => dialog.locator('[class*="_serverCard_"]').allTextContents(), (cards) => cards.some((t) => t.includes(serverName)),
					async () => {
						await dialog.getByRole("button", { name: "Skip for now" }).click();
						await dialog.waitFor({ state: "hidden" });
						await B.page.getByRole("button", { name: "Browse servers", exact: true }).click();
						await dialog.waitFor();
					}));
			await card.waitFor();
			const before = (await card.textContent()).trim();
			await card.getByRole("button", { name: "Join", exact: true }).click();
			await card.getByText("Joined", { exact: true }).waitFor();
			const after = (await card.textContent()).trim();
			await dialog.getByRole("button", { name: "Skip for now" }).click();
			await dialog.waitFor({ state: "hidden" });
			await serverButton(B).click();
			await B.page.locator('[class*="_serverName_"]').getByText(serverName, { exact: true }).waitFor();
			if (crossNode)
				noteRereads("B's channels", await rereadUntil("B's channel list (node B) does not show #" + textChannel,
					() => channelRow(B, textChannel).count(), (n) => n > 0, () => reopenServer(B)));
			await openChannel(B, textChannel);
			return "card before: '" + before + "', after: '" + after + "'; #" + textChannel + " open";
		});

		await step("a-sees-b-member", async () => {
			await reopenServer(A);
			await openChannel(A, textChannel);
			if (crossNode)
				noteRereads("A's members", await rereadUntil("A's member list (node A) does not show " + B.name + " online",
					() => memberOf(A.page, B.name), (m) => groupIs(m, "Online", "online"), async () => {
						await reopenServer(A);
						await openChannel(A, textChannel);
					}));
			const member = await until("A's member list does not show " + B.name + " online", () => memberOf(A.page, B.name),
				(m) => groupIs(m, "Online", "online"), LIVE_TIMEOUT_MS);
			return B.name + " in '" + member.group + "'";
		});

		const textA1 = "hello from " + A.name;
		const textA1edited = "hello again from " + A.name;
		const textB1 = "hi " + A.name + ", " + B.name + " here";
		const textA2 = "this one goes away " + tag;
		await step("message-a-to-b", async () => {
			await send(A, textA1);
			await seeMessage(A, "its own message", (l) => l.some((m) => m.text === textA1 && m.author === A.name));
			const onB = await seeMessage(B, "A's message", (l) => l.some((m) => m.text === textA1 && m.author === A.name));
			return "B shows: " + short(onB, 300);
		});

		await step("message-b-to-a", async () => {
			await send(B, textB1);
			await seeMessage(B, "its own message", (l) => l.some((m) => m.text === textB1 && m.author === B.name));
			const onA = await seeMessage(A, "B's message", (l) => l.some((m) => m.text === textB1 && m.author === B.name));
			return "A shows: " + short(onA, 300);
		});

		await step("edit-live", async () => {
			const message = messageElement(A, textA1);
			await message.hover();
			await message.getByRole("button", { name: "Edit message", exact: true }).click();
			// While editing, the message shows the editor instead of its text, so look in the whole list.
			const editor = A.page.locator('[role="log"][aria-label="Message history"] [class*="_editInput_"]');
			await editor.waitFor();
			await editor.fill(textA1edited);
			await editor.press("Enter");
			const edited = (l) => l.some((m) => m.text === textA1edited && m.author === A.name && m.edited) &&
				!l.some((m) => m.text === textA1);
			await seeMessage(A, "the edit", edited);
			const onB = await seeMessage(B, "the edit with (edited)", edited);
			return "B shows: " + short(onB, 300);
		});

		await step("delete-live", async () => {
			await send(A, textA2);
			await seeMessage(B, "A's second message", (l) => l.some((m) => m.text === textA2));
			const before = (await messagesOf(B.page)).length;
			const message = messageElement(A, textA2);
			await message.hover();
			await message.getByRole("button", { name: "Delete message", exact: true }).click();
			const gone = (l) => !l.some((m) => m.text === textA2) && l.filter((m) => m.deleted === DELETED_TEXT).length === 1 &&
				l.length === before;
			await seeMessage(A, "the deletion", gone);
			const onB = await seeMessage(B, "the deletion", gone);
			const confirmed = run.events.some((e) => e.kind === "dialog" && e.user === "A" && e.step === "delete-live");
			if (!confirmed)
				throw new Error("no confirmation dialog was shown");
			return "B shows: " + short(onB, 400);
		});

		const setStatus = async (u, value) => {
			await u.page.locator('[class*="_userInfo_"]').first().click();
			const dialog = u.page.getByRole("dialog", { name: "User Settings" });
			await dialog.waitFor();
			await dialog.locator("#settings-status").selectOption(value);
			await dialog.getByRole("button", { name: "Save Changes", exact: true }).click();
			await dialog.waitFor({ state: "hidden" });
		};
		await step("presence-invisible", async () => {
			const shownBefore = await B.page.locator('[class*="_statusText_"]').first().textContent();
			await setStatus(B, "offline");
			const member = await until("A's member list does not move " + B.name + " to Offline", () => memberOf(A.page, B.name),
				(m) => groupIs(m, "Offline", "offline"), LIVE_TIMEOUT_MS);
			const sent = B.frames.filter((f) => f.dir === "sent" && f.m && f.m.op === "PRESENCE_UPDATE").map((f) => f.text);
			return "B's panel said '" + shownBefore + "'; B sent " + short(sent, 300) + "; A shows " + B.name + " in '" +
				member.group + "'";
		});

		await step("presence-online", async () => {
			await setStatus(B, "online");
			const member = await until("A's member list does not move " + B.name + " back to Online", () => memberOf(A.page, B.name),
				(m) => groupIs(m, "Online", "online"), LIVE_TIMEOUT_MS);
			return "A shows " + B.name + " in '" + member.group + "'";
		});

		await step("a-create-voice-channel", async () => {
			await A.page.getByRole("button", { name: "Create channel", exact: true }).first().click();
			const dialog = A.page.getByRole("dialog", { name: "Create Channel" });
			await dialog.waitFor();
			await dialog.locator("#channel-type").selectOption("voice");
			await dialog.locator("#channel-name").fill(voiceChannel);
			await dialog.getByRole("button", { name: "Create Channel", exact: true }).click();
			await dialog.waitFor({ state: "hidden" });
			await A.page.getByText("Voice Channels", { exact: true }).waitFor();
			await channelRow(A, voiceChannel).waitFor();
			await reopenServer(B);
			if (crossNode)
				noteRereads("B's channels", await rereadUntil("B's channel list (node B) does not show #" + voiceChannel,
					() => channelRow(B, voiceChannel).count(), (n) => n > 0, () => reopenServer(B)));
			await channelRow(B, voiceChannel).waitFor();
			return "#" + voiceChannel + " listed under Voice Channels on both pages";
		});

		const voiceView = async (u) => {
			await channelRow(u, voiceChannel).click();
			await u.page.getByRole("heading", { name: voiceChannel, exact: true }).waitFor();
			await u.page.getByRole("button", { name: "Join Voice", exact: true }).waitFor();
		};
		const joinVoice = async (u) => {
			await u.page.getByRole("button", { name: "Join Voice", exact: true }).click();
			await u.page.locator('[class*="_voiceIndicator_"]').getByText("Voice Connected").waitFor();
		};
		const participants = (u) => u.page.evaluate(() => {
			const h = [...document.querySelectorAll("h3")].find((e) => e.textContent.startsWith("Participants \u2014 "));
			const rows = [...document.querySelectorAll('[class*="_participantName_"]')].map((e) => e.textContent);
			const banner = document.querySelector('[class*="_errorBanner_"]');
			return { heading: h ? h.textContent : null, rows: rows, error: banner ? banner.textContent : null };
		});
		await step("voice-join", async () => {
			await voiceView(A);
			await joinVoice(A);
			await until("A's participants", () => participants(A), (p) => p.heading === "Participants \u2014 1", LIVE_TIMEOUT_MS);
			await voiceView(B);
			// B's client offers to the participants node B lists after B's join: across nodes, first
			// see that node B lists A (what B's voice view fetched on opening, fetched again if not).
			if (crossNode)
				noteRereads("B's voice participants", await rereadUntil("B's voice view (node B) does not list " + A.name,
					() => participants(B), (p) => p.rows.includes(A.name), async () => {
						await channelRow(B, textChannel).click();
						await voiceView(B);
					}));
			// The client offers to the peers listed by the GET that follows its join, with whatever
			// microphone stream it has by then; when that GET is faster than getUserMedia, the offer
			// has no track and the call may never connect (a client race, together-web-routes.md (e) 4).
			// So B's voice GET is held back, unchanged, until B's getUserMedia has settled (at most
			// HOLD_VOICE_LIST_MS): the test then does not depend on which one wins.
			let held = null;
			await B.page.route(/\/api\/channels\/[0-9a-f-]{36}\/voice$/, async (route) => {
				if (route.request().method() === "GET") {
					const t0 = Date.now();
					const settled = () => B.page.evaluate(() => (window.__gumLog || []).some((r) => r.ok !== null)).catch(() => false);
					while (!(await settled()) && Date.now() - t0 < HOLD_VOICE_LIST_MS)
						await sleep(20);
					held = Date.now() - t0;
				}
				await route.continue().catch(() => {});
			});
			try {
				await joinVoice(B);
				await until("B did not list the voice participants after joining", async () => held, (h) => h !== null,
					HOLD_VOICE_LIST_MS + 2000);
			} finally {
				await B.page.unrouteAll({ behavior: "wait" }).catch(() => {});
			}
			const want = (u) => (p) => p.heading === "Participants \u2014 2" && p.rows.includes(u.name + " (you)") &&
				p.rows.includes((u === A ? B : A).name);
			const onA = await until("A does not list both participants", () => participants(A), want(A), LIVE_TIMEOUT_MS);
			const onB = await until("B does not list both participants", () => participants(B), want(B), LIVE_TIMEOUT_MS);
			if (onA.error || onB.error)
				throw new Error("voice error banner: A '" + onA.error + "', B '" + onB.error + "'");
			return "A: " + short(onA, 200) + "; B: " + short(onB, 200) + "; B's voice list held " + held + " ms";
		});

		const pcLog = (u) => u.page.evaluate(() => window.__pcLog || null);
		const connected = (log) => Array.isArray(log) && log.some((pc) => pc.connection.some((s) => s.state === "connected"));
		await step("webrtc-connected", async () => {
			const t0 = Date.now();
			let logA = null;
			let logB = null;
			try {
				logA = await until("A's RTCPeerConnection is not connected", () => pcLog(A), connected, RTC_TIMEOUT_MS);
				logB = await until("B's RTCPeerConnection is not connected", () => pcLog(B), connected,
					Math.max(1000, RTC_TIMEOUT_MS - (Date.now() - t0)));
			} finally {
				result.peerConnections = { A: logA || (await pcLog(A)), B: logB || (await pcLog(B)) };
			}
			const at = (log) => log.map((pc) => pc.connection.map((s) => s.state + "@" + s.ms).join(">")).join(" | ");
			return "A: " + at(logA) + "; B: " + at(logB) + "; both within " + (Date.now() - t0) + " ms of asking";
		});

		// Checked after webrtc-connected (or its failure), so every signal has had its time; the
		// pairing is by type and SDP (offers, answers) or candidate text, in each direction.
		const relayCheck = () => {
			if (!A.id || !B.id)
				throw new Error("no user id from READY: A " + A.id + ", B " + B.id);
			const report = [];
			const problems = [];
			for (const [from, to] of [[A, B], [B, A]]) {
				const sent = from.signals("sent").map((f) => f.m.d || {}).filter((d) => d.to_user_id === to.id);
				const received = to.signals("received").map((f) => f.m.d || {}).filter((d) => d.from_user_id === from.id);
				const count = (list, type) => list.filter((d) => d.type === type).length;
				report.push(from.label + "->" + to.label + ": sent offer/answer/candidate " + count(sent, "offer") + "/" +
					count(sent, "answer") + "/" + count(sent, "candidate") + ", received " + count(received, "offer") + "/" +
					count(received, "answer") + "/" + count(received, "candidate"));
				for (const d of sent) {
					const match = received.some((r) => r.type === d.type && (d.type === "candidate" ? r.candidate === d.candidate : r.sdp === d.sdp));
					if (!match)
						problems.push(from.label + "'s " + d.type + " to " + to.label + " never arrived unchanged: " + short(d, 300));
				}
				if (received.length > sent.length)
					problems.push(to.label + " received " + received.length + " signals from " + from.label + ", who sent " + sent.length);
			}
			const all = [...A.signals("sent"), ...B.signals("sent")].map((f) => f.m.d || {});
			if (!all.some((d) => d.type === "offer") || !all.some((d) => d.type === "answer"))
				problems.push("no offer and answer were exchanged");
			for (const [from, to] of [[A, B], [B, A]])
				if (!to.signals("received").some((f) => f.m.d && f.m.d.from_user_id === from.id && f.m.d.type === "candidate"))
					problems.push("no candidate from " + from.label + " reached " + to.label);
			if (problems.length > 0)
				throw new Error(problems.join("; ") + " (" + report.join("; ") + ")");
			return report.join("; ");
		};
		// ICE gathering goes on after the connection is up, so the last candidates may still be on
		// their way: the check is repeated until it holds or LIVE_TIMEOUT_MS has passed.
		await step("voice-signal-relayed", async () => {
			const deadline = Date.now() + LIVE_TIMEOUT_MS;
			for (;;) {
				try {
					return relayCheck();
				} catch (e) {
					if (Date.now() >= deadline) {
						result.voiceSignals = Object.values(users).map((u) => ({ user: u.label,
							frames: u.frames.filter((f) => f.text.indexOf("VOICE_SIGNAL") >= 0).map((f) => ({ dir: f.dir, ms: f.ms, text: f.text })) }));
						throw e;
					}
				}
				await sleep(100);
			}
		});

		await step("remote-audio", async () => {
			const audio = (u) => u.page.evaluate(() => [...document.querySelectorAll("body > audio")].map((a) =>
				a.srcObject && a.srcObject.getAudioTracks().length > 0 ? a.srcObject.getAudioTracks()[0].readyState : "none"));
			const tracks = async (u) => ((await pcLog(u)) || []).map((pc) => pc.sendersAtOffer);
			const gum = async (u) => short(await u.page.evaluate(() => window.__gumLog || null), 200);
			const context = async () => "; tracks at B's first offer " + short(await tracks(B), 40) + ", getUserMedia A " +
				(await gum(A)) + ", B " + (await gum(B));
			try {
				const onA = await until("A has no live remote audio", () => audio(A), (l) => l.includes("live"), LIVE_TIMEOUT_MS);
				const onB = await until("B has no live remote audio", () => audio(B), (l) => l.includes("live"), LIVE_TIMEOUT_MS);
				return "A: " + short(onA, 100) + "; B: " + short(onB, 100) + (await context());
			} catch (e) {
				throw new Error(errorText(e) + (await context()));
			}
		});

		run.current = "end";
		result.users.A.id = A.id;
		result.users.B.id = B.id;
		result.completed = true;
	} catch (e) {
		result.fatal = errorText(e);
		log("fatal: " + result.fatal);
	}

	// The error cases judge the whole run, also after a fatal error.
	run.current = "errors";
	for (const u of Object.values(users))
		result.users[u.label].hosts = [...u.hosts].sort();
	const byNameFinal = new Map(cases.map((c) => [c.name, c]));
	const uncaught = byNameFinal.get("no-uncaught-errors");
	uncaught.ran = true;
	uncaught.pass = run.pageErrors.length === 0;
	uncaught.detail = uncaught.pass ? "none" : run.pageErrors.map((e) => e.user + " during " + e.step + ": " + short(e.error, 600)).join("\n");
	// Read before Chromium closes the sockets. A signs out once, so it has two sessions.
	const gateway = byNameFinal.get("gateway-stable");
	gateway.ran = true;
	const seen = Object.values(users).map((u) => u.label + ": " + short(u.sockets, 300)).join("; ");
	const expectSockets = { A: ["a-sign-out", null], B: [null] };
	gateway.pass = Object.keys(users).length === 2 && Object.values(users).every((u) => {
		const want = expectSockets[u.label];
		return u.sockets.length === want.length && u.sockets.every((s, i) => s.path === "/ws" && s.closedStep === want[i]);
	});
	gateway.detail = (gateway.pass ? "" : "expected A: [closed by a-sign-out, open], B: [open]; ") + seen;
	const consoleCase = byNameFinal.get("console-errors-expected");
	consoleCase.ran = true;
	const unexpected = [];
	const expected = [];
	for (const e of run.consoleErrors) {
		const m = /^Failed to load resource: the server responded with a status of (\d+)/.exec(e.text);
		const url = e.url ? new URL(e.url) : null;
		const rule = m && url ? EXPECTED_FAILURES.find((r) => r.status === Number(m[1]) && r.path.test(url.pathname) &&
			(r.during === null || r.during === e.step) && run.events.some((x) => x.kind === "http" && x.url === e.url &&
			x.method === r.method && x.status === r.status && x.user === e.user)) : null;
		(rule ? expected : unexpected).push(e.user + " during " + e.step + ": " + short(e.text, 300) + (e.url ? " (" + e.url + ")" : "") +
			(rule ? ": expected, " + rule.why : ""));
	}
	consoleCase.pass = unexpected.length === 0;
	consoleCase.detail = (unexpected.length ? "unexpected: " + unexpected.join("\n") + "\n" : "") +
		(expected.length ? "expected: " + expected.join("; ") : "none");
	for (const c of [gateway, uncaught, consoleCase])
		log((c.pass ? "PASS " : "FAIL ") + c.name + ": " + short(c.detail, 2000));

	write();
	clearTimeout(watchdog);
	if (browser)
		await withTimeout(browser.close(), 10000, "closing Chromium").catch(() => {});
	const failed = cases.filter((c) => !c.pass).map((c) => c.name);
	log("done in " + ((Date.now() - started) / 1000).toFixed(1) + " s: " + (cases.length - failed.length) + "/" + cases.length +
		" cases passed" + (failed.length ? "; failed: " + failed.join(", ") : ""));
	process.exit(result.completed ? 0 : 1);
}

main().catch((e) => {
	process.stderr.write("together-driver: " + (e && e.stack || e) + "\n");
	process.exit(2);
});
