// node-clients.js: Node's own TLS clients against a Switchboard TLS listener that serves the echo
// plugin at /echo: the npm `ws` package over wss:// and the https module, each verifying the
// server against the CA the test made (never rejectUnauthorized: false). Writes what happened to
// a JSON file; TlsClientsTest.cpp asserts on it. Every client offers ALPN http/1.1, as browsers do.
//
// Usage: node node-clients.js --cache <dir> --port <tls port> --untrusted-port <port> --ca <ca.pem>
//                             --out <file> [--budget-ms <ms>]
// --cache is the browser test's npm cache (tests/browser/setup.sh), whose node_modules hold ws.
// The listener on --untrusted-port presents a certificate the CA did not issue. The process is
// expected to run with NODE_EXTRA_CA_CERTS=<ca.pem> for the case that relies on it.
"use strict";

const crypto = require("crypto");
const fs = require("fs");
const https = require("https");
const path = require("path");

function parseArgs(argv) {
	const args = { budgetMs: 20000 };
	for (let i = 2; i < argv.length; i += 2) {
		const name = argv[i];
		const value = argv[i + 1];
		if (value === undefined)
			throw new Error("missing value for " + name);
		switch (name) {
		case "--cache": args.cache = value; break;
		case "--port": args.port = Number(value); break;
		case "--untrusted-port": args.untrustedPort = Number(value); break;
		case "--ca": args.ca = value; break;
		case "--out": args.out = value; break;
		case "--budget-ms": args.budgetMs = Number(value); break;
		default: throw new Error("unknown argument " + name);
		}
	}
	for (const required of ["cache", "port", "untrustedPort", "ca", "out"])
		if (!args[required])
			throw new Error("missing --" + required.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()));
	return args;
}

function errorText(e) {
	return e ? (e.code ? e.code + ": " : "") + e.message : null;
}

// What the TLS session looked like, from the client's socket.
function tlsInfo(socket) {
	if (!socket || typeof socket.getPeerCertificate !== "function")
		return null;
	const cert = socket.getPeerCertificate(true);
	return {
		authorized: socket.authorized,
		authorizationError: socket.authorizationError ? String(socket.authorizationError) : null,
		protocol: socket.getProtocol(),
		alpn: socket.alpnProtocol || null,
		fingerprint256: cert && cert.fingerprint256 ? cert.fingerprint256.replace(/:/g, "").toLowerCase() : null,
		issuerCN: cert && cert.issuer ? cert.issuer.CN || null : null,
		issuerFingerprint256: cert && cert.issuerCertificate && cert.issuerCertificate.fingerprint256
			? cert.issuerCertificate.fingerprint256.replace(/:/g, "").toLowerCase() : null,
	};
}

// One HTTPS request; resolves with status, headers, body and the TLS details, or the error.
function request(options, body, timeoutMs) {
	return new Promise((resolve) => {
		const out = { url: "https://" + options.host + ":" + options.port + options.path, method: options.method, status: null,
			contentType: null, body: null, tls: null, error: null };
		let settled = false;
		const done = () => {
			if (!settled) {
				settled = true;
				resolve(out);
			}
		};
		const req = https.request(Object.assign({ timeout: timeoutMs, agent: false, ALPNProtocols: ["http/1.1"] }, options), (res) => {
			out.status = res.statusCode;
			out.contentType = res.headers["content-type"] || null;
			out.tls = tlsInfo(res.socket);
			const chunks = [];
			res.on("data", (c) => chunks.push(c));
			res.on("end", () => {
				out.body = Buffer.concat(chunks).toString("utf8");
				done();
			});
			res.on("error", (e) => {
				out.error = errorText(e);
				done();
			});
		});
		req.on("timeout", () => req.destroy(new Error("no answer within " + timeoutMs + " ms")));
		req.on("error", (e) => {
			out.error = errorText(e);
			done();
		});
		req.end(body);
	});
}

// A wss:// session with the ws package: sends each message, waits for its echo, closes with 1000.
function wsSession(WebSocket, url, options, messages, timeoutMs) {
	return new Promise((resolve) => {
		const out = { url: url, opened: false, tls: null, echoes: [], closeCode: null, closeReason: null, error: null,
			unexpectedResponse: null };
		const ws = new WebSocket(url, Object.assign({ ALPNProtocols: ["http/1.1"] }, options));
		let next = 0;
		const timer = setTimeout(() => {
			out.error = out.error || "timed out after " + timeoutMs + " ms";
			ws.terminate();
		}, timeoutMs);
		const sendNext = () => {
			if (next < messages.length)
				ws.send(messages[next++]);
			else
				ws.close(1000, "done");
		};
		ws.on("upgrade", (res) => {
			out.handshakeStatus = res.statusCode;
			out.tls = tlsInfo(res.socket);
		});
		ws.on("open", () => {
			out.opened = true;
			sendNext();
		});
		ws.on("message", (data, isBinary) => {
			const sent = messages[out.echoes.length];
			const got = Buffer.isBuffer(data) ? data : Buffer.concat(data);
			out.echoes.push({ binary: isBinary, sentBinary: Buffer.isBuffer(sent), length: got.length,
				equal: Buffer.isBuffer(sent) ? got.equals(sent) : got.toString("utf8") === sent });
			sendNext();
		});
		ws.on("unexpected-response", (req, res) => {
			out.unexpectedResponse = res.statusCode;
			ws.terminate();
		});
		ws.on("error", (e) => {
			out.error = errorText(e);
		});
		ws.on("close", (code, reason) => {
			out.closeCode = code;
			out.closeReason = reason.toString("utf8");
			clearTimeout(timer);
			resolve(out);
		});
	});
}

function sha256Hex(pem) {
	return new crypto.X509Certificate(pem).fingerprint256.replace(/:/g, "").toLowerCase();
}

async function main() {
	const args = parseArgs(process.argv);
	const started = Date.now();
	const result = { completed: false, fatal: null, node: process.version, cases: {} };
	const write = () => fs.writeFileSync(args.out, JSON.stringify(result, null, 1));
	const watchdog = setTimeout(() => {
		result.fatal = "budget of " + args.budgetMs + " ms exceeded";
		write();
		process.stderr.write("node-clients: " + result.fatal + "\n");
		process.exit(3);
	}, args.budgetMs);

	try {
		const wsPackage = path.join(args.cache, "node_modules", "ws");
		result.wsVersion = JSON.parse(fs.readFileSync(path.join(wsPackage, "package.json"), "utf8")).version;
		const WebSocket = require(wsPackage);
		const ca = fs.readFileSync(args.ca);
		result.caFingerprint256 = sha256Hex(ca);
		result.extraCaCerts = process.env.NODE_EXTRA_CA_CERTS || null;

		// wss:// with the ws package, the CA passed as the ca option; text, a message of many
		// records, binary.
		const big = "0123456789abcdef".repeat(4096) + "end";
		const binary = crypto.randomBytes(3000);
		result.cases.wss = await wsSession(WebSocket, "wss://127.0.0.1:" + args.port + "/echo/ws", { ca: ca },
			["hello over wss", big, binary], 10000);

		// https:// with the https module, by name (the certificate's DNS name): POST a note, list them.
		const note = "a note over https " + crypto.randomBytes(4).toString("hex");
		const base = { host: "localhost", family: 4, port: args.port, ca: ca };
		result.cases.httpsPost = await request(Object.assign({ method: "POST", path: "/echo/notes",
			headers: { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(note) } }, base), note, 5000);
		result.cases.httpsGet = await request(Object.assign({ method: "GET", path: "/echo/notes" }, base), null, 5000);
		result.cases.httpsGet.expectedNote = note;

		// No ca option: the CA is trusted only through NODE_EXTRA_CA_CERTS.
		result.cases.extraCa = await request({ host: "127.0.0.1", port: args.port, method: "GET", path: "/echo/stats" },
			null, 5000);

		// A certificate the CA did not issue is refused, with the same options.
		result.cases.untrustedWss = await wsSession(WebSocket, "wss://127.0.0.1:" + args.untrustedPort + "/echo/ws",
			{ ca: ca }, ["never sent"], 5000);
		result.cases.untrustedHttps = await request({ host: "127.0.0.1", port: args.untrustedPort, method: "GET",
			path: "/echo/notes", ca: ca }, null, 5000);
		result.completed = true;
	} catch (e) {
		result.fatal = String(e && e.stack ? e.stack : e);
		process.stderr.write("node-clients: " + result.fatal + "\n");
	}
	result.durationMs = Date.now() - started;
	clearTimeout(watchdog);
	write();
	const c = result.cases;
	const line = (name, text) => process.stdout.write(name.padEnd(16) + text + "\n");
	process.stdout.write("Node " + result.node + " with ws " + result.wsVersion + ", " + result.durationMs + " ms\n");
	if (c.wss)
		line("wss", "open " + c.wss.opened + ", " + (c.wss.tls ? c.wss.tls.protocol + " alpn " + c.wss.tls.alpn : "no TLS info") +
			", echoes " + c.wss.echoes.map((e) => e.equal).join(",") + ", close " + c.wss.closeCode + (c.wss.error ? ", " + c.wss.error : ""));
	for (const name of ["httpsPost", "httpsGet", "extraCa", "untrustedHttps"])
		if (c[name])
			line(name, c[name].method + " " + c[name].url + " -> " + (c[name].status || c[name].error));
	if (c.untrustedWss)
		line("untrustedWss", "open " + c.untrustedWss.opened + ", " + c.untrustedWss.error);
	if (result.fatal)
		line("FATAL", result.fatal);
	process.exit(result.completed ? 0 : 1);
}

main().catch((e) => {
	process.stderr.write("node-clients: " + (e && e.stack ? e.stack : e) + "\n");
	process.exit(1);
});
