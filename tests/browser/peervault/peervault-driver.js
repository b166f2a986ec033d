// peervault-driver.js: opens the PeerVault test page (index.html beside this file) in headless Chromium
// against a running Switchboard with the peervault plugin, publishes two events over HTTP, and reads
// from the page's DOM that both events and at least one system_metrics ticker event are shown. Writes
// one named case per check (pass, detail) to a JSON file; PeerVaultBrowserTest.cpp asserts on it.
//
// Usage: node peervault-driver.js --cache <dir> --ws-port <port> --page-port <port> --token <token>
//                                 --out <file> [--artifacts <dir>] [--budget-ms <ms>]
// The page is served from 127.0.0.1:<page-port> by a static server here; the plugin listens on
// 127.0.0.1:<ws-port>. Every wait is bounded; --budget-ms bounds the whole run. run-peervault.sh
// runs this inside a private network namespace.
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PAGE = path.join(__dirname, "index.html");
const WAIT_MS = 10000;
const TICKER_WAIT_MS = 5000; // metrics.interval is 1 s in run-peervault.sh

const CASES = [
	["page-loaded", "the page loads from the static server"],
	["socket-open", "the page's WebSocket to /ws opens (the page shows \"open\")"],
	["subscribed", "the pong to the page's ping arrives after both subscribes (data-subscribed=\"true\")"],
	["publish-accepted", "two file_operations events published over HTTP are accepted: 202, delivered 1 each"],
	["published-shown", "both published events are shown as rows, in publish order, with type, topic and data.key"],
	["ticker-shown", "at least one system_metrics event of the system topic is shown, with activeConnections=1"],
	["only-subscribed-topics", "every row is an event of file_operations or system, no error row"],
	["socket-stable", "the page opened exactly one WebSocket and it is still open"],
	["no-uncaught-errors", "the page had no uncaught exception (e.g. from JSON.parse of a frame)"],
	["no-console-errors", "the page logged no console error"],
];

function parseArgs(argv) {
	const args = { budgetMs: 60000, artifacts: null };
	for (let i = 2; i < argv.length; i += 2) {
		const name = argv[i];
		const value = argv[i + 1];
		if (value === undefined)
			throw new Error("missing value for " + name);
		switch (name) {
		case "--cache": args.cache = value; break;
		case "--ws-port": args.wsPort = Number(value); break;
		case "--page-port": args.pagePort = Number(value); break;
		case "--token": args.token = value; break;
		case "--out": args.out = value; break;
		case "--artifacts": args.artifacts = value; break;
		case "--budget-ms": args.budgetMs = Number(value); break;
		default: throw new Error("unknown argument " + name);
		}
	}
	for (const required of ["cache", "wsPort", "pagePort", "token", "out"])
		if (!args[required])
			throw new Error("missing --" + required.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()));
	return args;
}

function sleep(ms) {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

function short(value, max) {
	const text = typeof value === "string" ? value : JSON.stringify(value);
	return text === undefined ? "undefined" : text.length > max ? text.slice(0, max) + "..." : text;
}

// Polls fn() (async) until check(value) holds; returns the value, or throws with the last value seen.
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

// Serves index.html (any query string) and nothing else.
function startPageServer(port) {
	const server = http.createServer((req, res) => {
		const url = req.url.split("?")[0];
		if (req.method !== "GET" || (url !== "/" && url !== "/index.html")) {
			res.writeHead(404, { "Content-Type": "text/plain" });
			res.end("not found");
			return;
		}
		const body = fs.readFileSync(PAGE);
		res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Length": body.length,
			"Cache-Control": "no-store" });
		res.end(body);
	});
	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, "127.0.0.1", () => resolve(server));
	});
}

// POST /ws/publish with the Bearer token; resolves { status, body }.
function publish(port, token, event) {
	const body = JSON.stringify(event);
	return new Promise((resolve, reject) => {
		const req = http.request({ host: "127.0.0.1", port: port, method: "POST", path: "/ws/publish",
			headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json",
				"Content-Length": Buffer.byteLength(body) }, timeout: 5000 }, (res) => {
			let text = "";
			res.setEncoding("utf8");
			res.on("data", (chunk) => { text += chunk; });
			res.on("end", () => resolve({ status: res.statusCode, body: text }));
		});
		req.on("timeout", () => req.destroy(new Error("publish timed out")));
		req.on("error", reject);
		req.end(body);
	});
}

// The page's state and rows, as the DOM shows them.
function snapshot(page) {
	return page.evaluate(() => {
		const state = document.getElementById("state");
		return {
			state: state ? state.dataset.state : null,
			subscribed: state ? state.dataset.subscribed : null,
			count: Number((document.getElementById("count") || {}).textContent),
			rows: [...document.querySelectorAll("#events tbody tr.event")].map((tr) => ({
				type: tr.dataset.type, topic: tr.dataset.topic, key: tr.dataset.key,
				cells: [...tr.children].map((td) => td.textContent),
			})),
		};
	});
}

async function main() {
	const args = parseArgs(process.argv);
	const started = Date.now();
	const cases = CASES.map(([name, description]) => ({ name: name, description: description, pass: false,
		detail: "not run", ms: 0 }));
	const result = { completed: false, fatal: null, browser: null, cases: cases, durationMs: 0 };
	const write = () => {
		result.durationMs = Date.now() - started;
		fs.writeFileSync(args.out, JSON.stringify(result, null, 1));
	};
	let current = "setup";
	const budget = setTimeout(() => {
		result.fatal = "driver budget of " + args.budgetMs + " ms exceeded during " + current;
		write();
		process.stderr.write("peervault-driver: " + result.fatal + "\n");
		process.exit(3);
	}, args.budgetMs);

	const byName = new Map(cases.map((c) => [c.name, c]));
	const pass = (name, detail, t0) => Object.assign(byName.get(name), { pass: true, detail: detail, ms: Date.now() - t0 });
	const failCase = (name, detail, t0) => Object.assign(byName.get(name), { pass: false, detail: detail, ms: Date.now() - t0 });
	async function step(name, fn) {
		current = name;
		const t0 = Date.now();
		try {
			pass(name, (await fn()) || "ok", t0);
			return true;
		} catch (e) {
			failCase(name, String((e && e.message) || e).split("\n").slice(0, 8).join("\n"), t0);
			return false;
		} finally {
			process.stdout.write("  " + (byName.get(name).pass ? "pass " : "FAIL ") + name + " (" +
				byName.get(name).ms + " ms)\n");
		}
	}

	let pageServer = null;
	let browser = null;
	let page = null;
	const pageErrors = [];
	const consoleErrors = [];
	const sockets = [];
	try {
		pageServer = await startPageServer(args.pagePort);
		const { chromium } = require(path.join(args.cache, "node_modules", "playwright-core"));
		browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000 });
		result.browser = browser.version();
		const context = await browser.newContext();
		page = await context.newPage();
		page.setDefaultTimeout(WAIT_MS);
		page.on("pageerror", (e) => pageErrors.push({ step: current, error: String((e && e.stack) || e) }));
		page.on("console", (m) => {
			if (m.type() === "error")
				consoleErrors.push({ step: current, text: m.text() });
		});
		page.on("websocket", (ws) => {
			const socket = { url: ws.url(), closed: false, received: 0 };
			sockets.push(socket);
			ws.on("close", () => { socket.closed = true; });
			ws.on("framereceived", () => { socket.received += 1; });
		});

		const pageUrl = "http://127.0.0.1:" + args.pagePort + "/?host=127.0.0.1&port=" + args.wsPort;
		const loaded = await step("page-loaded", async () => {
			const response = await page.goto(pageUrl, { waitUntil: "load", timeout: WAIT_MS });
			if (!response || response.status() !== 200)
				throw new Error("GET " + pageUrl + " answered " + (response ? response.status() : "nothing"));
			return pageUrl;
		});
		const open = loaded && await step("socket-open", async () => {
			const s = await until("the page shows the socket open", () => snapshot(page), (v) => v.state === "open", WAIT_MS);
			return "state " + s.state;
		});
		const subscribed = open && await step("subscribed", async () => {
			await until("the page's pong", () => snapshot(page), (v) => v.subscribed === "true", WAIT_MS);
			return "pong received";
		});

		// Two events of the file_operations topic, published only once the page's subscriptions
		// are known to be active.
		const events = [
			{ type: "file_uploaded", topic: "file_operations", data: { key: "browser-k1", size: 1024, node: "node-b1", name: "a.txt" } },
			{ type: "file_replicated", topic: "file_operations", data: { key: "browser-k2", node: "node-b2", sourceNode: "node-b1", replicas: 2 } },
		];
		const publishedOk = subscribed && await step("publish-accepted", async () => {
			const details = [];
			for (const event of events) {
				const response = await publish(args.wsPort, args.token, event);
				let body = null;
				try {
					body = JSON.parse(response.body);
				} catch (e) {
					body = null;
				}
				if (response.status !== 202 || !body || body.status !== "accepted" || body.type !== event.type ||
					body.topic !== event.topic || body.delivered !== 1)
					throw new Error("publish of " + event.type + " answered " + response.status + " " + short(response.body, 400));
				details.push(event.type + ": 202 delivered " + body.delivered);
			}
			return details.join("; ");
		});
		if (publishedOk) {
			await step("published-shown", async () => {
				const s = await until("both published events shown", () => snapshot(page),
					(v) => v.rows.filter((r) => r.topic === "file_operations").length >= 2, WAIT_MS);
				const shown = s.rows.filter((r) => r.topic === "file_operations");
				const expected = events.map((e) => [e.type, e.topic, e.data.key]);
				const seen = shown.map((r) => [r.type, r.topic, r.key]);
				if (JSON.stringify(seen) !== JSON.stringify(expected))
					throw new Error("file_operations rows " + short(seen, 600) + ", expected " + short(expected, 600));
				for (const r of shown)
					if (r.cells[1] !== r.type || r.cells[2] !== r.topic || r.cells[3] !== r.key)
						throw new Error("a row's cells do not show its event: " + short(r, 400));
				return "rows: " + seen.map((x) => x.join(" ")).join(" | ");
			});
		}
		if (subscribed) {
			await step("ticker-shown", async () => {
				const s = await until("a system_metrics row", () => snapshot(page),
					(v) => v.rows.some((r) => r.type === "system_metrics"), TICKER_WAIT_MS);
				const ticks = s.rows.filter((r) => r.type === "system_metrics");
				const bad = ticks.find((r) => r.topic !== "system" || r.key !== "activeConnections=1");
				if (bad)
					throw new Error("a system_metrics row shows " + short(bad, 400) +
						", expected topic system and activeConnections=1 (only the page is connected)");
				return ticks.length + " system_metrics row(s): " + ticks[0].cells.join(" ");
			});
			await step("only-subscribed-topics", async () => {
				const s = await snapshot(page);
				const other = s.rows.filter((r) => r.topic !== "file_operations" && r.topic !== "system");
				if (other.length > 0)
					throw new Error("rows of other kinds: " + short(other, 800));
				if (s.count !== s.rows.length)
					throw new Error("the count shows " + s.count + " for " + s.rows.length + " rows");
				return s.rows.length + " rows";
			});
		}
		await step("socket-stable", async () => {
			const s = page ? await snapshot(page) : null;
			if (sockets.length !== 1)
				throw new Error(sockets.length + " WebSockets opened: " + short(sockets, 600));
			if (sockets[0].closed || !s || s.state !== "open")
				throw new Error("the WebSocket closed; the page shows " + (s ? s.state : "nothing"));
			return sockets[0].url + ", " + sockets[0].received + " frames received";
		});
		result.completed = true;
	} catch (e) {
		result.fatal = String((e && e.message) || e).split("\n").slice(0, 8).join("\n");
		process.stdout.write("peervault-driver: fatal: " + result.fatal + "\n");
	}
	await step("no-uncaught-errors", async () => {
		if (pageErrors.length > 0)
			throw new Error(short(pageErrors, 1500));
		return "none";
	});
	await step("no-console-errors", async () => {
		if (consoleErrors.length > 0)
			throw new Error(short(consoleErrors, 1500));
		return "none";
	});
	if (page && args.artifacts && cases.some((c) => !c.pass)) {
		try {
			fs.mkdirSync(args.artifacts, { recursive: true });
			await page.screenshot({ path: path.join(args.artifacts, "page.png"), fullPage: true });
		} catch (e) {
			// A screenshot is a help, not a result.
		}
	}
	if (browser)
		await browser.close().catch(() => {});
	if (pageServer)
		pageServer.close();
	clearTimeout(budget);
	write();
	const passed = cases.filter((c) => c.pass).length;
	process.stdout.write("peervault-driver: " + passed + "/" + cases.length + " cases passed in " +
		result.durationMs + " ms (Chromium " + result.browser + ")\n");
	process.exit(result.completed && passed === cases.length ? 0 : 1);
}

main().catch((e) => {
	process.stderr.write("peervault-driver: " + ((e && e.stack) || e) + "\n");
	process.exit(2);
});
