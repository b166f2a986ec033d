// page.js: the browser side of the PeerJS end-to-end test. It only uses the public API of
// peerjs 1.5.5 (window.peerjs.Peer) and records what the application sees; driver.js calls these
// functions and records the wire traffic itself over the DevTools protocol.
"use strict";

(function () {
	const T = {
		options: null,
		peers: {},
		events: [],
		conns: {},
	};

	// Every WebSocket the client opens is recorded with how it closed, since the client itself
	// drops the close code. peerjs calls new WebSocket(url) at connect time, so this wrapper is in
	// place although page.js loads after peerjs.min.js.
	const NativeWebSocket = window.WebSocket;
	T.sockets = [];
	window.WebSocket = function (url, protocols) {
		const ws = protocols === undefined ? new NativeWebSocket(url) : new NativeWebSocket(url, protocols);
		const info = { url: String(url), closeCode: null, closeReason: null, wasClean: null };
		T.sockets.push(info);
		ws.addEventListener("close", (e) => {
			info.closeCode = e.code;
			info.closeReason = e.reason;
			info.wasClean = e.wasClean;
		});
		return ws;
	};
	window.WebSocket.prototype = NativeWebSocket.prototype;
	for (const name of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"])
		window.WebSocket[name] = NativeWebSocket[name];

	function now() {
		return Math.round(performance.now());
	}

	function record(peer, kind, extra) {
		T.events.push(Object.assign({ t: now(), peer: peer, kind: kind }, extra || {}));
	}

	// host, port, path and key of the signaling server; iceServers empty so that Chromium contacts
	// no public STUN/TURN server.
	T.configure = function (host, port, path, key) {
		T.options = { host: host, port: port, path: path, secure: false, key: key, debug: 0, config: { iceServers: [] } };
		document.getElementById("status").textContent = "configured";
		return typeof window.peerjs === "object" && typeof window.peerjs.Peer === "function";
	};

	// Creates a Peer under a test name; id null lets the server assign one over HTTP.
	T.createPeer = function (name, id) {
		const peer = id ? new window.peerjs.Peer(id, T.options) : new window.peerjs.Peer(T.options);
		T.peers[name] = peer;
		record(name, "created", { requestedId: id || null });
		peer.on("open", (openId) => record(name, "open", { id: openId }));
		peer.on("error", (err) => record(name, "error", { type: err.type, message: String(err.message) }));
		peer.on("disconnected", (lastId) => record(name, "disconnected", { id: lastId }));
		peer.on("close", () => record(name, "close"));
		// Incoming DataConnections echo every message back unchanged.
		peer.on("connection", (conn) => {
			record(name, "connection", { from: conn.peer, connectionId: conn.connectionId, serialization: conn.serialization });
			conn.on("open", () => {
				record(name, "connection-open", { from: conn.peer, connectionId: conn.connectionId });
			});
			conn.on("data", (data) => {
				record(name, "echoed", { connectionId: conn.connectionId });
				conn.send(data);
			});
			conn.on("error", (err) => record(name, "connection-error", { connectionId: conn.connectionId, type: err.type, message: String(err.message) }));
		});
		return true;
	};

	T.peerId = function (name) {
		const peer = T.peers[name];
		return peer ? peer.id : null;
	};

	T.peerState = function (name) {
		const peer = T.peers[name];
		if (!peer)
			return null;
		return { id: peer.id, open: peer.open, disconnected: peer.disconnected, destroyed: peer.destroyed };
	};

	T.eventsOf = function (name, kind) {
		return T.events.filter((e) => e.peer === name && (!kind || e.kind === kind));
	};

	// Opens a DataConnection from one test peer to a peer id, sends an object and waits for the echo.
	// Resolves (never rejects) with what happened, at the latest after timeoutMs.
	T.connectAndEcho = function (from, toId, serialization, timeoutMs) {
		return new Promise((resolve) => {
			const started = now();
			const sent = { text: "h\u00e9llo \u2713 " + serialization, n: 42, f: 1.5, list: [1, "two", null], nested: { ok: true } };
			const result = { serialization: serialization, connectionId: null, opened: false, openMs: null, echoed: false, echoMs: null,
				sent: sent, received: null, errors: [] };
			let conn;
			const timer = setTimeout(() => {
				result.timedOut = true;
				resolve(result);
			}, timeoutMs);
			try {
				conn = T.peers[from].connect(toId, { serialization: serialization, reliable: true, metadata: { hello: serialization } });
			} catch (e) {
				clearTimeout(timer);
				result.errors.push(String(e));
				resolve(result);
				return;
			}
			result.connectionId = conn.connectionId;
			T.conns[conn.connectionId] = conn;
			conn.on("open", () => {
				result.opened = true;
				result.openMs = now() - started;
				conn.send(sent);
			});
			conn.on("data", (data) => {
				result.echoed = true;
				result.echoMs = now() - started;
				result.received = data;
				clearTimeout(timer);
				resolve(result);
			});
			conn.on("error", (err) => result.errors.push(err.type + ": " + err.message));
		});
	};

	// Starts a DataConnection that is not waited for (to an id nobody has); returns its connectionId.
	T.connectOnly = function (from, toId) {
		const conn = T.peers[from].connect(toId, { serialization: "json" });
		T.conns[conn.connectionId] = conn;
		record(from, "connect-called", { to: toId, connectionId: conn.connectionId });
		return conn.connectionId;
	};

	// Simulates a network path that died silently: the client's close() of its current WebSocket
	// is withheld, so the server still holds the old socket when reconnect() arrives with the same
	// id and token (a reattach, docs/protocols/peerjs.md §5.3). Records how the server later closes that socket.
	T.withholdClose = function (name) {
		const socket = T.peers[name].socket;
		const ws = socket ? socket._socket : null;
		if (!ws)
			return false;
		const info = { readyState: ws.readyState, closeCalled: false, closeCode: null, closeReason: null, closedAt: null };
		T.withheld = info;
		ws.addEventListener("close", (e) => {
			info.closeCode = e.code;
			info.closeReason = e.reason;
			info.closedAt = now();
		});
		ws.close = function () {
			info.closeCalled = true;
		};
		return true;
	};

	T.disconnect = function (name) {
		record(name, "disconnect-called");
		T.peers[name].disconnect();
	};

	T.reconnect = function (name) {
		record(name, "reconnect-called");
		T.peers[name].reconnect();
	};

	T.now = now;
	window.T = T;
	document.getElementById("status").textContent = "ready";
})();
