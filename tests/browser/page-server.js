// page-server.js: serves the browser test's page (page/index.html, page/page.js) and the PeerJS
// client from the npm cache on http://127.0.0.1:<port>, for driver.js and tls/driver.js.
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");

const PAGE_DIR = path.join(__dirname, "page");

function startPageServer(cache, port) {
	const files = {
		"/": [path.join(PAGE_DIR, "index.html"), "text/html; charset=utf-8"],
		"/index.html": [path.join(PAGE_DIR, "index.html"), "text/html; charset=utf-8"],
		"/page.js": [path.join(PAGE_DIR, "page.js"), "text/javascript; charset=utf-8"],
		"/peerjs.min.js": [path.join(cache, "node_modules", "peerjs", "dist", "peerjs.min.js"), "text/javascript; charset=utf-8"],
	};
	const server = http.createServer((req, res) => {
		const entry = files[req.url.split("?")[0]];
		if (!entry || req.method !== "GET") {
			res.writeHead(404, { "Content-Type": "text/plain" });
			res.end("not found");
			return;
		}
		const body = fs.readFileSync(entry[0]);
		res.writeHead(200, { "Content-Type": entry[1], "Content-Length": body.length, "Cache-Control": "no-store" });
		res.end(body);
	});
	return new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, "127.0.0.1", () => resolve(server));
	});
}

module.exports = { startPageServer };
