#!/usr/bin/env node
// console-driver.js: the admin console (host/console) in headless Chromium while the C++ runner
// (tests/integration/ConsoleBrowserTest.cpp) sends PeerJS and echo traffic to the server.
//
// Usage: node console-driver.js --cache <npm-cache> --admin <http://127.0.0.1:port> --token <t>
//                               --peers <n> --out <file> [--artifacts <dir>] [--budget-ms <ms>]
//                               [--screenshot <file.png>]
//
// Cases, in order: without the token the page asks for it, and takes it from its form; opened
// with #token=... it keeps the token out of the address bar; within a bounded wait the PeerJS and
// echo rows show non-zero message rates, the PeerJS figures show the expected peer count, both
// charts hold non-zero points, the summary, log and configuration sections are filled; and the
// page logged no console error and threw nothing. With --screenshot, the page at 1280x900 once
// its charts hold some seconds of traffic is saved there as PNG (docs/images/console.png is one).
// Every wait is bounded; --budget-ms bounds all.
"use strict";

const fs = require("fs");
const path = require("path");

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync"];
const WAIT_MS = 15000;
const VIEWPORT = { width: 1280, height: 900 };
// Updates (one a second) the charts hold before the screenshot, so they show a stretch of traffic.
const SCREENSHOT_UPDATES = 20;

const CASES = [
	["asks-for-token", "without a token the page shows its token form, and works once it is entered"],
	["token-from-fragment", "opened with #token=..., the page loads data and removes the fragment"],
	["summary", "version and uptime are shown"],
	["rates-nonzero", "the PeerJS and echo rows show non-zero messages per second"],
	["peer-count", "the PeerJS figures show the expected number of peers"],
	["charts-nonzero", "both charts hold a non-zero point for peerjs"],
	["config-masked", "the configuration is shown, the token masked"],
	["screenshot", "with --screenshot, the page is saved as PNG once the charts show traffic"],
	["no-uncaught-errors", "the page threw no exception"],
	["no-console-errors", "the page logged no console error"],
];

function parseArgs(argv) {
	const args = { budgetMs: 60000, artifacts: null, screenshot: null };
	for (let i = 2; i < argv.length; i += 2) {
		const value = argv[i + 1];
		switch (argv[i]) {
		case "--cache": args.cache = value; break;
		case "--admin": args.admin = value; break;
		case "--token": args.token = value; break;
		case "--peers": args.peers = Number(value); break;
		case "--out": args.out = value; break;
		case "--artifacts": args.artifacts = value; break;
		case "--budget-ms": args.budgetMs = Number(value); break;
		case "--screenshot": args.screenshot = value; break;
		default: throw new Error("unknown argument " + argv[i]);
		}
	}
	for (const required of ["cache", "admin", "token", "peers", "out"])
		if (args[required] === undefined || args[required] === "")
			throw new Error("missing --" + required);
	return args;
}

function readPage(page) {
	return page.evaluate(() => {
		const rate = (plugin, what) => {
			const td = document.querySelector('#plugins tr[data-plugin="' + plugin + '"] td[data-rate="' + what + '"]');
			return td ? Number(td.dataset.value) : null;
		};
		const figure = (plugin, metric) => {
			const tr = document.querySelector('.figures-plugin[data-plugin="' + plugin + '"] tr[data-metric="' + metric + '"]');
			return tr ? Number(tr.dataset.value) : null;
		};
		const chartMax = (id, label) => {
			if (!window.Chart || !window.Chart.getChart) return null;
			const chart = window.Chart.getChart(document.getElementById(id));
			const set = chart && chart.data.datasets.find((d) => d.label === label);
			return set ? Math.max(0, ...set.data.map((p) => p.y)) : null;
		};
		return {
			updates: Number(document.body.dataset.updates || 0),
			version: document.getElementById("version").textContent,
			uptime: document.getElementById("uptime").textContent,
			status: document.getElementById("status").textContent,
			tokenFormShown: !document.getElementById("token-form").hidden,
			chartMissing: !document.getElementById("chart-missing").hidden,
			states: [...document.querySelectorAll("#plugins tbody tr")].map((tr) =>
				tr.dataset.plugin + ":" + tr.querySelector("[data-state]").dataset.state),
			peerjs: { received: rate("peerjs", "received"), sent: rate("peerjs", "sent"),
				connections: rate("peerjs", "connections"), peers: figure("peerjs", "peers"),
				queued: figure("peerjs", "queued_messages") },
			echo: { received: rate("echo", "received"), sent: rate("echo", "sent") },
			charts: { connections: chartMax("chart-connections", "peerjs"), messages: chartMax("chart-messages", "peerjs") },
			logRows: document.querySelectorAll("#log tbody tr").length,
			config: document.getElementById("config").textContent,
			href: location.href,
		};
	});
}

async function waitFor(page, predicate, what, waitMs = WAIT_MS) {
	const deadline = Date.now() + waitMs;
	let last = null;
	while (Date.now() < deadline) {
		last = await readPage(page);
		if (predicate(last)) return last;
		await new Promise((r) => setTimeout(r, 250));
	}
	throw new Error("timed out after " + waitMs + " ms waiting for " + what + "; page: " + JSON.stringify(last));
}

async function main() {
	const args = parseArgs(process.argv);
	const started = Date.now();
	const cases = CASES.map(([name, description]) => ({ name, description, pass: false, detail: "not run", ms: 0 }));
	const result = { completed: false, fatal: null, browser: null, cases, consoleErrors: [], pageErrors: [],
		last: null, durationMs: 0 };
	const write = () => {
		result.durationMs = Date.now() - started;
		fs.writeFileSync(args.out, JSON.stringify(result, null, 1));
	};
	let current = "setup";
	const budget = setTimeout(() => {
		result.fatal = "driver budget of " + args.budgetMs + " ms exceeded during " + current;
		write();
		process.stderr.write("console-driver: " + result.fatal + "\n");
		process.exit(3);
	}, args.budgetMs);

	const byName = new Map(cases.map((c) => [c.name, c]));
	async function step(name, fn) {
		current = name;
		const t0 = Date.now();
		try {
			Object.assign(byName.get(name), { pass: true, detail: (await fn()) || "ok" });
		} catch (e) {
			Object.assign(byName.get(name), { pass: false,
				detail: String((e && e.message) || e).split("\n").slice(0, 8).join("\n") });
		}
		byName.get(name).ms = Date.now() - t0;
		process.stdout.write("  " + (byName.get(name).pass ? "pass " : "FAIL ") + name + " (" + byName.get(name).ms + " ms)\n");
	}

	let browser = null;
	let page = null;
	try {
		const { chromium } = require(path.join(args.cache, "node_modules", "playwright-core"));
		browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, timeout: 30000 });
		result.browser = browser.version();

		// Without the token: the data requests are refused (Chromium logs those 401s, which is
		// why this page is not the one whose console is checked), the form appears.
		await step("asks-for-token", async () => {
			const context = await browser.newContext();
			const first = await context.newPage();
			first.setDefaultTimeout(WAIT_MS);
			await first.goto(args.admin + "/console", { waitUntil: "load" });
			await waitFor(first, (s) => s.tokenFormShown, "the token form");
			await first.fill("#token-input", args.token);
			await first.click("#token-form button");
			const s = await waitFor(first, (p) => !p.tokenFormShown && p.updates > 0, "data after entering the token");
			await context.close();
			return "form shown, then " + s.updates + " update(s)";
		});

		const context = await browser.newContext({ viewport: VIEWPORT });
		page = await context.newPage();
		page.setDefaultTimeout(WAIT_MS);
		page.on("pageerror", (e) => result.pageErrors.push({ step: current, error: String((e && e.stack) || e) }));
		page.on("console", (m) => {
			if (m.type() === "error")
				result.consoleErrors.push({ step: current, text: m.text() });
		});

		await step("token-from-fragment", async () => {
			await page.goto(args.admin + "/#token=" + encodeURIComponent(args.token), { waitUntil: "load" });
			const s = await waitFor(page, (p) => p.updates > 0, "a first update");
			if (s.tokenFormShown) throw new Error("token form shown: " + s.status);
			if (s.href.includes("token")) throw new Error("the token stayed in the address: " + s.href);
			return s.updates + " update(s), address " + s.href;
		});

		await step("summary", async () => {
			const s = await waitFor(page, (p) => p.version !== "-" && p.version !== "" && p.uptime.endsWith("s"),
				"version and uptime");
			return "version " + s.version + ", uptime " + s.uptime + ", plugins " + s.states.join(" ");
		});

		await step("rates-nonzero", async () => {
			const s = await waitFor(page, (p) => p.peerjs.received > 0 && p.peerjs.sent > 0 && p.echo.received > 0 &&
				p.echo.sent > 0, "non-zero rates");
			result.last = s;
			return "peerjs in " + s.peerjs.received + "/s out " + s.peerjs.sent + "/s; echo in " + s.echo.received +
				"/s out " + s.echo.sent + "/s";
		});

		await step("peer-count", async () => {
			const s = await waitFor(page, (p) => p.peerjs.peers === args.peers && p.peerjs.connections === args.peers,
				args.peers + " peers");
			return s.peerjs.peers + " peers, " + s.peerjs.connections + " connections, " + s.peerjs.queued + " queued";
		});

		await step("charts-nonzero", async () => {
			const s = await waitFor(page, (p) => p.chartMissing || (p.charts.messages > 0 && p.charts.connections > 0),
				"chart points");
			if (s.chartMissing) throw new Error("Chart.js did not load (libjs-chart.js missing?)");
			return "max messages/s " + s.charts.messages + ", max connections " + s.charts.connections;
		});

		await step("config-masked", async () => {
			const s = await waitFor(page, (p) => p.config.includes("[admin]"), "the configuration");
			if (s.config.includes(args.token)) throw new Error("the token is shown in the configuration");
			if (!s.config.includes("token = ********")) throw new Error("no masked token line");
			return "configuration shown (" + s.config.length + " characters), token masked; " + s.logRows + " log row(s)";
		});

		await step("screenshot", async () => {
			if (!args.screenshot) return "not asked for";
			// Updates come once a second: at most SCREENSHOT_UPDATES seconds, with a margin.
			const s = await waitFor(page, (p) => p.updates >= SCREENSHOT_UPDATES, SCREENSHOT_UPDATES + " updates",
				(SCREENSHOT_UPDATES + 10) * 1000);
			await page.screenshot({ path: args.screenshot, fullPage: false });
			return "saved after " + s.updates + " updates: " + args.screenshot;
		});

		if (args.artifacts) {
			fs.mkdirSync(args.artifacts, { recursive: true });
			await page.screenshot({ path: path.join(args.artifacts, "console.png"), fullPage: true });
		}
		await step("no-uncaught-errors", async () => {
			if (result.pageErrors.length) throw new Error(JSON.stringify(result.pageErrors));
		});
		await step("no-console-errors", async () => {
			if (result.consoleErrors.length) throw new Error(JSON.stringify(result.consoleErrors));
		});
		result.completed = true;
	} catch (e) {
		result.fatal = String((e && e.stack) || e);
		process.stderr.write("console-driver: " + result.fatal + "\n");
	} finally {
		clearTimeout(budget);
		if (browser) await browser.close().catch(() => {});
		write();
	}
	process.exit(result.completed ? 0 : 1);
}

main();
