//
// PeerJsConformanceTest.cpp
//
// Differential conformance test of the PeerJS plugin against the official server, peer 1.0.2.
//
// Every scenario runs the same script of raw WebSocket and HTTP exchanges against the reference
// server (node, installed by tests/peerjs/setup-reference.sh) and against Switchboard with the
// plugin, each recording a transcript of what it received. The transcripts must be equal, except
// for the differences that the protocol doc, docs/protocols/peerjs.md, lists in §15 and §6.3;
// each is asserted explicitly on both sides. Cases the reference cannot run (our bounds, Origin
// allowlist, token validator, shutdown) run against Switchboard alone and are checked against the
// doc's exact bytes. SWITCHBOARD_PEERJS_PRINT_TRANSCRIPTS=1 prints every transcript.
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "PortPicker.h"
#include "TempDir.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include "Poco/HMACEngine.h"
#include "Poco/SHA2Engine.h"
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>


namespace Switchboard {
namespace Test {


namespace {


const char* const LOOPBACK = "127.0.0.1";
const std::string MOUNT = "/myapp";
const std::string WS_PATH = "/myapp/peerjs";

constexpr int FRAME_MS = 2000;
// Wait for a frame that one of the servers legitimately never sends.
constexpr int ABSENT_MS = 700;
// Watch window for "nothing arrives".
constexpr int QUIET_MS = 300;
// Pause after a close so the server has processed it before the next step.
constexpr int SETTLE_MS = 150;
constexpr int EXPIRE_MS = 2000;
constexpr int ALIVE_MS = 2000;
// peerjs.md §2: expiry and reaps happen at the configured time plus at most 1 s.
constexpr int TIMER_SLACK_MS = 1000;
// Added to the upper bounds of peerjs.md §2: client-side measurement and scheduling latency.
constexpr int GRACE_MS = 250;

const std::string NOTHING = "(nothing)";
const std::string EOF_SEEN = "(eof)";
const std::string NOT_RECORDED = "(not recorded)";
const std::string OPEN_FRAME = "text {\"type\":\"OPEN\"}";
const std::string ID_TAKEN_FRAME = "text {\"type\":\"ID-TAKEN\",\"payload\":{\"msg\":\"ID is taken\"}}";
const std::string STATUSLESS_CLOSE = "close 1005";

const std::string ROOT_BODY = "{\"name\":\"PeerJS Server\",\"description\":\"A server side element to broker "
                              "connections between PeerJS clients.\",\"website\":\"https://peerjs.com/\"}";


std::string errorFrame(const std::string& message)
{
	return "text {\"type\":\"ERROR\",\"payload\":{\"msg\":\"" + message + "\"}}";
}


std::string query(const std::string& id, const std::string& token)
{
	return "?key=peerjs&id=" + id + "&token=" + token;
}


std::string query(const std::string& id)
{
	return query(id, "t" + id);
}


std::string relayFrame(const std::string& type, const std::string& dst, const std::string& payload)
/// An inbound frame as a client sends it; payload is JSON text.
{
	return "{\"type\":\"" + type + "\",\"dst\":\"" + dst + "\",\"payload\":" + payload + "}";
}


std::string relayed(const std::string& type, const std::string& src, const std::string& dst, const std::string& payload)
/// The frame description of a relayed message; payload is JSON text, empty for none.
{
	std::string frame = "text {\"type\":\"" + type + "\",\"src\":\"" + src + "\",\"dst\":\"" + dst + "\"";
	if (!payload.empty())
		frame += ",\"payload\":" + payload;
	return frame + "}";
}


std::string expireFrame(const std::string& offlineId, const std::string& sender)
{
	return relayed("EXPIRE", offlineId, sender, "");
}


std::string hex64(std::uint64_t value)
{
	static const char* digits = "0123456789abcdef";
	std::string out(16, '0');
	for (int i = 15; i >= 0; --i, value >>= 4)
		out[static_cast<std::size_t>(i)] = digits[value & 15];
	return out;
}


std::string summarize(const std::string& payload)
/// Long payloads appear in transcripts as their size, start and an FNV-1a hash.
{
	if (payload.size() <= 2048)
		return payload;
	std::uint64_t hash = 1469598103934665603ULL;
	for (unsigned char c : payload)
		hash = (hash ^ c) * 1099511628211ULL;
	return "<" + std::to_string(payload.size()) + " bytes: " + payload.substr(0, 48) + "... fnv1a " + hex64(hash) + ">";
}


std::string printable(const std::string& text)
/// Control characters escaped for failure messages; UTF-8 stays readable.
{
	std::string out;
	for (unsigned char c : text)
	{
		if (c == '\n')
			out += "\\n";
		else if (c == '\r')
			out += "\\r";
		else if (c < 0x20 || c == 0x7f)
			out += "\\x" + hex64(c).substr(14);
		else
			out += static_cast<char>(c);
	}
	return out;
}


bool isUuid4(const std::string& text)
{
	static const std::regex pattern("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
	return std::regex_match(text, pattern);
}


std::string joined(const std::vector<std::string>& items)
{
	if (items.empty())
		return NOTHING;
	std::string out;
	for (const std::string& item : items)
		out += (out.empty() ? "" : " | ") + item;
	return out;
}


std::string timing(std::int64_t elapsedMs, int timeoutMs)
/// Where an event fell relative to a timeout, in words both servers can share.
{
	if (elapsedMs < timeoutMs)
		return "early (before the timeout)";
	if (elapsedMs <= timeoutMs + TIMER_SLACK_MS + GRACE_MS)
		return "on time (within 1 s after the timeout)";
	return "late (" + std::to_string(elapsedMs) + " ms, timeout " + std::to_string(timeoutMs) + " ms)";
}


std::int64_t nowMs()
{
	return Deadline::nowMicros() / 1000;
}


void sleepMs(int ms)
{
	std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}


void sleepUntil(std::int64_t atMs)
{
	const std::int64_t left = atMs - nowMs();
	if (left > 0)
		sleepMs(static_cast<int>(left));
}


class Transcript
/// What one server sent during one scenario: an ordered list of unique keys and values. Each
/// transcript is written by one thread only.
{
public:
	explicit Transcript(std::string target):
	    _target(std::move(target))
	{
	}

	void record(const std::string& key, const std::string& value)
	{
		if (_index.count(key) != 0)
			throw std::logic_error("scenario bug: transcript key recorded twice: " + key);
		_index[key] = _entries.size();
		_entries.emplace_back(key, value);
	}

	bool has(const std::string& key) const { return _index.count(key) != 0; }

	std::string value(const std::string& key) const
	{
		auto it = _index.find(key);
		return it == _index.end() ? NOT_RECORDED : _entries[it->second].second;
	}

	const std::vector<std::pair<std::string, std::string>>& entries() const { return _entries; }

	const std::string& target() const { return _target; }

	std::string dump() const
	{
		std::string out = "--- transcript of " + _target + "\n";
		for (const auto& entry : _entries)
			out += "  " + entry.first + " = " + printable(entry.second) + "\n";
		return out;
	}

private:
	std::string _target;
	std::vector<std::pair<std::string, std::string>> _entries;
	std::map<std::string, std::size_t> _index;
};


enum BodyKind
{
	BODY_EXACT,
	BODY_UUID,
	STATUS_ONLY
};


class Session
/// One run of a scenario against one server.
{
public:
	Session(bool reference, int port, Transcript& transcript):
	    _reference(reference),
	    _port(port),
	    _transcript(transcript)
	{
	}

	bool reference() const { return _reference; }
	int port() const { return _port; }

	void record(const std::string& key, const std::string& value) { _transcript.record(key, value); }

	HttpResponse request(const std::string& method, const std::string& target,
	                     const HttpTestClient::Headers& headers = {})
	{
		return HttpTestClient::request(LOOPBACK, _port, method, target, headers, "", FRAME_MS);
	}

	void http(const std::string& key, const std::string& method, const std::string& target,
	          const HttpTestClient::Headers& headers = {}, BodyKind kind = BODY_EXACT)
	/// Records status, content headers, CORS headers and body of one request in one line.
	{
		const HttpResponse r = request(method, target, headers);
		std::string line = std::to_string(r.status);
		if (kind != STATUS_ONLY)
		{
			for (const char* name :
			     {"Content-Type", "Content-Length", "Vary", "Access-Control-Allow-Origin",
			      "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Allow-Credentials"})
				line += std::string(" | ") + name + ": " + (r.hasHeader(name) ? r.header(name) : "(absent)");
			line += " | body: ";
			if (kind == BODY_UUID && !r.body.empty())
				line += isUuid4(r.body) ? "(a UUID v4)" : "(not a UUID v4) " + r.body;
			else
				line += r.body;
		}
		record(key, line);
	}

private:
	bool _reference;
	int _port;
	Transcript& _transcript;
};


class Peer
/// A raw WebSocket client of one session; everything it observes goes into the transcript under
/// its name. A close frame from the server is answered like a browser does (echoing the code).
{
public:
	Peer(Session& session, std::string name):
	    _session(session),
	    _name(std::move(name))
	{
	}

	const std::string& name() const { return _name; }

	void connect(const std::string& queryText, const WsTestClient::Headers& headers = {})
	{
		connectPath(WS_PATH + queryText, headers);
	}

	void connectPath(const std::string& target, const WsTestClient::Headers& headers = {})
	{
		const HttpResponse r = _client.connect(LOOPBACK, _session.port(), target, headers, FRAME_MS);
		_session.record(_name + " upgrade", std::to_string(r.status));
	}

	void setReplyToClose(bool reply) { _replyToClose = reply; }

	bool finished() const { return _eof || !_client.isOpen(); }
	bool closeSeen() const { return _closeSeen; }
	const std::string& closeReason() const { return _closeReason; }

	std::string poll(int timeoutMs)
	/// The next frame as text ("text ...", "close 1005", ...), EOF_SEEN, or "" if none came.
	{
		if (finished())
			return EOF_SEEN;
		const WsTestClient::Frame f = _client.receive(timeoutMs);
		if (f.timedOut())
			return "";
		if (f.closed())
		{
			_eof = true;
			return EOF_SEEN;
		}
		if (!f.ok())
		{
			_eof = true;
			return "(protocol error: " + f.error + ")";
		}
		switch (f.opcode)
		{
			case WsTestClient::OPCODE_TEXT:
				return "text " + summarize(f.payload);
			case WsTestClient::OPCODE_BINARY:
				return "binary " + summarize(f.payload);
			case WsTestClient::OPCODE_PING:
				return "ping";
			case WsTestClient::OPCODE_PONG:
				return "pong";
			case WsTestClient::OPCODE_CLOSE:
				return onClose(f.payload);
			default:
				return "opcode " + std::to_string(f.opcode);
		}
	}

	void expect(const std::string& what, int timeoutMs = FRAME_MS)
	/// Records the next frame, or NOTHING if none arrives in time.
	{
		const std::string frame = poll(timeoutMs);
		_session.record(_name + " " + what, frame.empty() ? NOTHING : frame);
	}

	std::vector<std::string> collect(int windowMs)
	/// Every frame that arrives within windowMs (EOF ends the window and is not listed).
	{
		std::vector<std::string> frames;
		const Deadline deadline(windowMs);
		while (!deadline.expired() && !finished())
		{
			const std::string frame = poll(deadline.remainingMs());
			if (frame == EOF_SEEN)
				break;
			if (!frame.empty())
				frames.push_back(frame);
		}
		return frames;
	}

	void quiet(const std::string& what, int windowMs = QUIET_MS)
	/// Records every frame arriving within windowMs; NOTHING is the usual expectation.
	{
		_session.record(_name + " " + what, joined(collect(windowMs)));
	}

	void expectEof(const std::string& what, int timeoutMs = FRAME_MS)
	/// Records whether the server ends the TCP connection in time (frames before EOF are listed).
	{
		std::vector<std::string> frames;
		const Deadline deadline(timeoutMs);
		while (!deadline.expired() && !finished())
		{
			const std::string frame = poll(deadline.remainingMs());
			if (!frame.empty() && frame != EOF_SEEN)
				frames.push_back(frame);
		}
		_session.record(_name + " " + what,
		                frames.empty() ? (finished() ? "eof" : "no eof") : "frames before eof: " + joined(frames));
	}

	bool send(const std::string& text, bool binary = false)
	/// Sends one message unless the connection is known to be closing; false if not sent.
	{
		if (finished() || _closeSeen || _client.closeSent())
			return false;
		try
		{
			if (binary)
				_client.sendBinary(text);
			else
				_client.sendText(text);
			return true;
		}
		catch (const std::exception&)
		{
			_eof = true;
			return false;
		}
	}

	WsTestClient& client() { return _client; }

	void closeNormally()
	/// Client-initiated close 1000; waits (bounded) for the server's reply and EOF, then lets the
	/// server settle. Nothing is recorded: the scenarios check the effect, not the handshake.
	{
		if (!finished() && !_closeSeen && !_client.closeSent())
		{
			try
			{
				_client.sendClose(1000);
			}
			catch (const std::exception&)
			{
			}
			collect(FRAME_MS);
		}
		_client.close();
		_eof = true;
		sleepMs(SETTLE_MS);
	}

private:
	std::string onClose(const std::string& payload)
	{
		_closeSeen = true;
		int code = 1005;
		if (payload.size() >= 2)
			code = (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
		_closeReason = payload.size() > 2 ? payload.substr(2) : "";
		if (_replyToClose && !_client.closeSent())
		{
			try
			{
				if (payload.size() >= 2)
					_client.sendClose(code);
				else
					_client.sendCloseEmpty();
			}
			catch (const std::exception&)
			{
			}
		}
		if (payload.size() == 1)
			return "close (malformed 1-byte payload)";
		return "close " + std::to_string(code);
	}

	Session& _session;
	std::string _name;
	WsTestClient _client;
	bool _replyToClose = true;
	bool _closeSeen = false;
	bool _eof = false;
	std::string _closeReason;
};


struct Arrival
{
	std::string frame;
	std::int64_t atMs;
};


std::map<std::string, std::vector<Arrival>> watch(const std::vector<Peer*>& peers, std::int64_t untilMs,
                                                  const std::function<void()>& tick = {})
/// Polls all peers until the absolute time untilMs (nowMs() clock), timestamping each frame;
/// tick runs between polling rounds (for periodic sends).
{
	std::map<std::string, std::vector<Arrival>> arrivals;
	for (Peer* peer : peers)
		arrivals[peer->name()];
	while (nowMs() < untilMs)
	{
		if (tick)
			tick();
		bool polled = false;
		for (Peer* peer : peers)
		{
			if (peer->finished())
				continue;
			polled = true;
			const std::string frame = peer->poll(3);
			if (!frame.empty() && frame != EOF_SEEN)
				arrivals[peer->name()].push_back({frame, nowMs()});
		}
		if (!polled)
			sleepMs(5);
	}
	return arrivals;
}


std::string framesOf(const std::vector<Arrival>& arrivals)
{
	std::vector<std::string> frames;
	for (const Arrival& a : arrivals)
		frames.push_back(a.frame);
	return joined(frames);
}


std::string timingsOf(const std::vector<Arrival>& arrivals, std::int64_t fromMs, int timeoutMs)
{
	std::vector<std::string> words;
	for (const Arrival& a : arrivals)
		words.push_back(timing(a.atMs - fromMs, timeoutMs));
	return joined(words);
}


// ---------------------------------------------------------------------------------------------
// The two servers.


struct Options
/// One scenario's configuration, in both servers' terms.
{
	int expireMs = EXPIRE_MS;
	int aliveMs = 60000;
	int limit = 5000;
	bool discovery = false;
	std::vector<std::string> cors;
	TestServer::Keys oursOnly;
	/// Switchboard keys the reference has no equivalent for.
};


std::string findOnPath(const std::string& program)
{
	const char* path = std::getenv("PATH");
	std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
	std::size_t start = 0;
	while (start <= dirs.size())
	{
		std::size_t end = dirs.find(':', start);
		if (end == std::string::npos)
			end = dirs.size();
		const std::string candidate = dirs.substr(start, end - start) + "/" + program;
		if (end > start && ::access(candidate.c_str(), X_OK) == 0)
			return candidate;
		start = end + 1;
	}
	return "";
}


std::string referenceCacheDir()
{
	return std::string(SWITCHBOARD_BINARY_DIR) + "/peerjs-reference";
}


std::string referenceEntry()
/// Installs peer@1.0.2 once per run (the script is a no-op when it is cached) and returns the
/// path of its CLI script. Throws with the script's output on failure.
{
	static std::mutex mutex;
	static std::string entry;
	static std::string failure;
	std::lock_guard<std::mutex> lock(mutex);
	if (!entry.empty())
		return entry;
	if (!failure.empty())
		throw std::runtime_error(failure);
	const std::string script = std::string(SWITCHBOARD_SOURCE_DIR) + "/tests/peerjs/setup-reference.sh";
	const TestServer::RunResult result = TestServer::runOnce({script, referenceCacheDir()}, 240000, "/bin/bash");
	const std::string candidate = referenceCacheDir() + "/node_modules/peer/dist/bin/peerjs.js";
	if (result.exitCode != 0 || ::access(candidate.c_str(), R_OK) != 0)
	{
		failure = "the PeerJS reference server could not be installed by " + script + ": " + result.describe();
		throw std::runtime_error(failure);
	}
	if (findOnPath("node").empty())
	{
		failure = "node is not on PATH; the PeerJS conformance test runs the reference server with it";
		throw std::runtime_error(failure);
	}
	entry = candidate;
	return entry;
}


class ReferenceServer
/// The official server as a child process: node <peer>/dist/bin/peerjs.js on a free loopback
/// port. stdout is discarded, stderr kept in a temp dir for failure messages. The process dies
/// with the starting thread (PR_SET_PDEATHSIG) and is killed with SIGKILL at the end, since
/// the reference never finishes a SIGTERM while WebSocket clients are connected.
{
public:
	explicit ReferenceServer(const Options& options):
	    _options(options),
	    _dir("peerjs-reference"),
	    _pid(-1),
	    _port(0)
	{
	}

	~ReferenceServer() { kill(); }

	ReferenceServer(const ReferenceServer&) = delete;
	ReferenceServer& operator=(const ReferenceServer&) = delete;

	int port() const { return _port; }
	pid_t pid() const { return _pid; }

	void spawn()
	{
		const std::string entry = referenceEntry();
		const std::string node = findOnPath("node");
		_port = PortPicker::pick();
		std::vector<std::string> args = {node,
		                                 entry,
		                                 "--port",
		                                 std::to_string(_port),
		                                 "--host",
		                                 LOOPBACK,
		                                 "--path",
		                                 MOUNT,
		                                 "--key",
		                                 "peerjs",
		                                 "--expire_timeout",
		                                 std::to_string(_options.expireMs),
		                                 "--alive_timeout",
		                                 std::to_string(_options.aliveMs),
		                                 "--concurrent_limit",
		                                 std::to_string(_options.limit)};
		if (_options.discovery)
			args.push_back("--allow_discovery");
		for (const std::string& origin : _options.cors)
		{
			args.push_back("--cors");
			args.push_back(origin);
		}
		std::vector<char*> argv;
		for (std::string& arg : args)
			argv.push_back(&arg[0]);
		argv.push_back(nullptr);
		const std::string logPath = _dir.filePath("stderr.log");
		const int devNull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
		const int logFd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (devNull < 0 || logFd < 0)
			throw std::runtime_error("cannot open /dev/null or " + logPath + ": " + std::strerror(errno));
		const pid_t parent = ::getpid();
		const pid_t pid = ::fork();
		if (pid == 0)
		{
			// Only async-signal-safe calls between fork() and exec.
			::prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (::getppid() != parent)
				::_exit(127);
			sigset_t none;
			sigemptyset(&none);
			::sigprocmask(SIG_SETMASK, &none, nullptr);
			if (::dup2(devNull, 0) < 0 || ::dup2(devNull, 1) < 0 || ::dup2(logFd, 2) < 0)
				::_exit(127);
			::execv(argv[0], argv.data());
			::_exit(127);
		}
		const int forkError = errno;
		::close(devNull);
		::close(logFd);
		if (pid < 0)
			throw std::runtime_error(std::string("fork(): ") + std::strerror(forkError));
		_pid = pid;
	}

	void waitReady(int timeoutMs = 15000)
	/// Polls GET /myapp/ until it answers 200. The port was free when picked but not reserved:
	/// if another process took it meanwhile, the server is started again on a new port.
	{
		const Deadline deadline(timeoutMs);
		int retries = 2;
		while (!deadline.expired())
		{
			if (!running())
			{
				if (retries-- > 0 && log().find("EADDRINUSE") != std::string::npos)
				{
					spawn();
					continue;
				}
				throw std::runtime_error("the reference server exited at startup: " + log());
			}
			try
			{
				if (HttpTestClient::get(LOOPBACK, _port, MOUNT + "/", {}, 500).status == 200)
					return;
			}
			catch (const std::exception&)
			{
			}
			sleepMs(30);
		}
		kill();
		throw std::runtime_error("the reference server did not answer GET " + MOUNT + "/ within " +
		                         std::to_string(timeoutMs) + " ms: " + log());
	}

	bool running()
	{
		if (_pid <= 0)
			return false;
		int status = 0;
		if (::waitpid(_pid, &status, WNOHANG) == _pid)
		{
			_pid = -1;
			return false;
		}
		return true;
	}

	void signal(int number)
	{
		if (_pid > 0)
			::kill(_pid, number);
	}

	void kill()
	{
		if (_pid <= 0)
			return;
		::kill(_pid, SIGKILL);
		int status = 0;
		::waitpid(_pid, &status, 0);
		_pid = -1;
	}

	std::string log() const
	{
		try
		{
			return "stderr: " + _dir.readFile("stderr.log");
		}
		catch (const std::exception& e)
		{
			return e.what();
		}
	}

private:
	Options _options;
	TempDir _dir;
	pid_t _pid;
	int _port;
};


void configureOurs(TestServer& server, const Options& options)
{
	std::string cors;
	for (const std::string& origin : options.cors)
		cors += (cors.empty() ? "" : ",") + origin;
	TestServer::Keys keys = {{"path", MOUNT},
	                         {"key", "peerjs"},
	                         {"expire_timeout", std::to_string(options.expireMs)},
	                         {"alive_timeout", std::to_string(options.aliveMs)},
	                         {"concurrent_limit", std::to_string(options.limit)},
	                         {"allow_discovery", options.discovery ? "true" : "false"},
	                         {"cors_origins", cors}};
	for (const auto& entry : options.oursOnly)
		keys[entry.first] = entry.second;
	server.addPlugin("peerjs", "main", "", keys);
	server.set("host", "shutdown_deadline_ms", "1000");
}


bool printTranscripts()
{
	const char* value = std::getenv("SWITCHBOARD_PEERJS_PRINT_TRANSCRIPTS");
	return value != nullptr && *value != '\0' && std::string(value) != "0";
}


using Scenario = std::function<void(Session&)>;


struct Outcome
{
	Transcript reference{"the reference (peer 1.0.2)"};
	Transcript ours{"Switchboard"};
};


void runScenario(bool reference, int port, const Scenario& scenario, Transcript& transcript, std::string& error)
{
	try
	{
		Session session(reference, port, transcript);
		scenario(session);
	}
	catch (const std::exception& e)
	{
		error = e.what();
	}
}


void checkStopped(TestServer& server, const Transcript& transcript)
{
	if (!server.running())
		CPPUNIT_FAIL("Switchboard exited during the scenario (" + server.lastExit().describe() + ")\n" +
		             server.logTail() + "\n" + transcript.dump());
	const int code = server.stop();
	if (code != 0)
		CPPUNIT_FAIL("Switchboard did not stop cleanly after the scenario: " + server.lastExit().describe() + "\n" +
		             server.logTail());
}


Outcome runBoth(const Options& options, const Scenario& scenario)
/// Starts both servers (from this thread, so they die with it), runs the scenario against both
/// at once (it is timing-bound) and stops them.
{
	Outcome outcome;
	ReferenceServer reference(options);
	TestServer ours;
	configureOurs(ours, options);
	reference.spawn();
	ours.start();
	reference.waitReady();
	std::string referenceError;
	std::string oursError;
	std::thread referenceThread(runScenario, true, reference.port(), std::cref(scenario), std::ref(outcome.reference),
	                            std::ref(referenceError));
	runScenario(false, ours.port("main"), scenario, outcome.ours, oursError);
	referenceThread.join();
	if (!referenceError.empty())
		CPPUNIT_FAIL("the scenario failed against the reference: " + referenceError + "\n" + reference.log() + "\n" +
		             outcome.reference.dump());
	if (!oursError.empty())
		CPPUNIT_FAIL("the scenario failed against Switchboard: " + oursError + "\n" + ours.logTail() + "\n" +
		             outcome.ours.dump());
	reference.kill();
	checkStopped(ours, outcome.ours);
	if (printTranscripts())
		std::cerr << "\n" << outcome.reference.dump() << outcome.ours.dump();
	return outcome;
}


Transcript runOurs(const Options& options, const Scenario& scenario)
/// A scenario the reference cannot run.
{
	Transcript transcript("Switchboard");
	TestServer ours;
	configureOurs(ours, options);
	ours.start();
	std::string error;
	runScenario(false, ours.port("main"), scenario, transcript, error);
	if (!error.empty())
		CPPUNIT_FAIL("the scenario failed against Switchboard: " + error + "\n" + ours.logTail() + "\n" +
		             transcript.dump());
	checkStopped(ours, transcript);
	if (printTranscripts())
		std::cerr << "\n" << transcript.dump();
	return transcript;
}


struct Difference
/// A documented difference (peerjs.md §15 or §6.3): what each server must do for key.
{
	std::string key;
	std::string reference;
	std::string ours;
	std::string why;
};


using Expectations = std::vector<std::pair<std::string, std::string>>;


void verify(const Outcome& outcome, const std::vector<Difference>& differences, const Expectations& contract)
/// The transcripts must match key for key, except the documented differences, which must show
/// exactly the stated behaviour on each side. `contract` lists exact values from the protocol doc; a
/// key that is a documented difference is checked against Switchboard only.
{
	std::vector<std::string> problems;
	std::vector<std::string> keys;
	std::set<std::string> seen;
	for (const Transcript* t : {&outcome.reference, &outcome.ours})
		for (const auto& entry : t->entries())
			if (seen.insert(entry.first).second)
				keys.push_back(entry.first);
	std::map<std::string, const Difference*> documented;
	for (const Difference& d : differences)
	{
		documented[d.key] = &d;
		if (seen.count(d.key) == 0)
			problems.push_back("scenario bug: documented difference '" + d.key + "' was never recorded");
	}
	for (const std::string& key : keys)
	{
		const std::string r = outcome.reference.value(key);
		const std::string s = outcome.ours.value(key);
		auto d = documented.find(key);
		if (d != documented.end())
		{
			if (r != d->second->reference)
				problems.push_back("'" + key + "': the reference should show the documented flaw (" + d->second->why +
				                   ")\n      expected: " + printable(d->second->reference) +
				                   "\n      got:      " + printable(r));
			if (s != d->second->ours)
				problems.push_back("'" + key + "': Switchboard should show the documented fix (" + d->second->why +
				                   ")\n      expected: " + printable(d->second->ours) +
				                   "\n      got:      " + printable(s));
		}
		else if (r != s)
			problems.push_back("'" + key + "' differs from the reference\n      reference:   " + printable(r) +
			                   "\n      Switchboard: " + printable(s));
	}
	for (const auto& expected : contract)
	{
		if (documented.count(expected.first) == 0 && outcome.reference.value(expected.first) != expected.second)
			problems.push_back(
			    "'" + expected.first + "': the reference disagrees with the protocol doc\n      expected: " +
			    printable(expected.second) + "\n      got:      " + printable(outcome.reference.value(expected.first)));
		if (outcome.ours.value(expected.first) != expected.second)
			problems.push_back(
			    "'" + expected.first + "': Switchboard disagrees with the protocol doc\n      expected: " +
			    printable(expected.second) + "\n      got:      " + printable(outcome.ours.value(expected.first)));
	}
	if (!problems.empty())
	{
		std::string message;
		for (const std::string& p : problems)
			message += "\n  * " + p;
		CPPUNIT_FAIL(std::to_string(problems.size()) + " conformance problem(s):" + message + "\n" +
		             outcome.reference.dump() + outcome.ours.dump());
	}
}


void verifyOurs(const Transcript& transcript, const Expectations& contract)
{
	std::vector<std::string> problems;
	for (const auto& expected : contract)
		if (transcript.value(expected.first) != expected.second)
			problems.push_back("'" + expected.first + "'\n      expected: " + printable(expected.second) +
			                   "\n      got:      " + printable(transcript.value(expected.first)));
	if (!problems.empty())
	{
		std::string message;
		for (const std::string& p : problems)
			message += "\n  * " + p;
		CPPUNIT_FAIL(std::to_string(problems.size()) + " problem(s) against the protocol doc:" + message + "\n" +
		             transcript.dump());
	}
}


void open(Peer& peer, const std::string& queryText)
/// Connects and records the first frame (OPEN on success).
{
	peer.connect(queryText);
	peer.expect("first frame");
}


struct Sha256ForHmac: public Poco::SHA2Engine
/// Poco 1.11's SHA2Engine lacks the constants HMACEngine needs.
{
	enum
	{
		BLOCK_SIZE = 64,
		DIGEST_SIZE = 32
	};
};


std::string hmacSha256Hex(const std::string& secret, const std::string& message)
{
	Poco::HMACEngine<Sha256ForHmac> engine(secret);
	engine.update(message);
	return Poco::DigestEngine::digestToHex(engine.digest());
}


// The real client frames of peerjs.md §16, with a complete SDP where the doc shortens it.
const std::string ALICE = "alice-65oqhy";
const std::string BOB = "86ecb817-6985-4abb-ad5b-746b633bb238";
const std::string CANDIDATE_PAYLOAD =
    R"({"candidate":{"candidate":"candidate:1042475518 1 udp 2113937151 10.213.0.1 44758 typ host generation 0 ufrag LHOA network-cost 999","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"LHOA"},"type":"data","connectionId":"dc_tspo15p26si"})";
const std::string OFFER_PAYLOAD =
    R"({"sdp":{"sdp":"v=0\r\no=- 7908551609194361569 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:LHOA\r\na=ice-pwd:8Xh1k3Zl0m2QpR7sT9vW4yAb\r\na=ice-options:trickle\r\na=fingerprint:sha-256 3E:8A:9B:71:0C:5D:E2:44:19:F6:AB:03:7D:C8:52:9E:61:B4:0F:D3:27:8C:E5:1A:96:4B:70:3F:C2:D8:05:EA\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n","type":"offer"},"type":"data","connectionId":"dc_tspo15p26si","metadata":{"hello":"json"},"label":"dc_tspo15p26si","reliable":true,"serialization":"json"})";
const std::string ANSWER_PAYLOAD =
    R"({"sdp":{"sdp":"v=0\r\no=- 4411203837519937066 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Pq7Z\r\na=ice-pwd:Jf2mYc9xL0aB3nD6qS8uV1wE\r\na=ice-options:trickle\r\na=fingerprint:sha-256 A1:0F:3C:77:E9:24:5B:D0:8E:61:C3:9A:42:F7:1D:B5:06:2E:98:CB:73:4A:E0:15:DF:68:B2:39:C4:07:5E:81\r\na=setup:active\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n","type":"answer"},"type":"data","connectionId":"dc_tspo15p26si"})";


} // namespace


// ---------------------------------------------------------------------------------------------


class PeerJsConformanceTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerJsConformanceTest);
	CPPUNIT_TEST(testHttpEndpoints);
	CPPUNIT_TEST(testHttpDiscovery);
	CPPUNIT_TEST(testHttpCorsAllowList);
	CPPUNIT_TEST(testHandshakeErrors);
	CPPUNIT_TEST(testHandshakeOpenAndIdTaken);
	CPPUNIT_TEST(testConcurrentLimitAndReattachAtLimit);
	CPPUNIT_TEST(testQueryDecoding);
	CPPUNIT_TEST(testRepeatedQueryParameter);
	CPPUNIT_TEST(testUpgradeRefusals);
	CPPUNIT_TEST(testRelayShapes);
	CPPUNIT_TEST(testRealClientFrames);
	CPPUNIT_TEST(testPayloadTextPreservation);
	CPPUNIT_TEST(testDroppedFrames);
	CPPUNIT_TEST(testQueueDeliveryOrder);
	CPPUNIT_TEST(testExpirePerPair);
	CPPUNIT_TEST(testExpireLifetimeExtendsWithNewestMessage);
	CPPUNIT_TEST(testExpireToOfflineSource);
	CPPUNIT_TEST(testLiveness);
	CPPUNIT_TEST(testReattach);
	CPPUNIT_TEST(testLeaveWithoutDst);
	CPPUNIT_TEST(testCloseThenQueueAndExpire);
	CPPUNIT_TEST(testOversizedMessage);
	CPPUNIT_TEST(testMalformedFrames);
	CPPUNIT_TEST(testShutdown);
	CPPUNIT_TEST(testOursOriginAllowlist);
	CPPUNIT_TEST(testOursTokenValidator);
	CPPUNIT_TEST(testOursQueueBoundPerDestination);
	CPPUNIT_TEST(testOursQueueBoundPerSource);
	CPPUNIT_TEST(testOursQueueBoundTotalBytes);
	CPPUNIT_TEST(testOursReplyErrorOnInvalidMessage);
	CPPUNIT_TEST(testOursMessageSizeLimit);
	CPPUNIT_TEST(testOursPingInterval);
	CPPUNIT_TEST_SUITE_END();

public:
	void setUp() override
	{
		try
		{
			referenceEntry();
		}
		catch (const std::exception& e)
		{
			CPPUNIT_FAIL(e.what());
		}
	}

	// --- 18.1 HTTP ---------------------------------------------------------------------------

	void testHttpEndpoints()
	{
		const std::string origin = "http://example.test";
		Outcome o = runBoth({}, [&](Session& s) {
			s.http("GET /myapp/", "GET", "/myapp/");
			s.http("GET /myapp", "GET", "/myapp");
			s.http("GET /myapp/?x=1", "GET", "/myapp/?x=1");
			s.http("HEAD /myapp/", "HEAD", "/myapp/");
			s.http("GET id", "GET", "/myapp/peerjs/id?ts=17953160365230.4419043131423206&version=1.5.5", {}, BODY_UUID);
			const std::string first = s.request("GET", "/myapp/peerjs/id").body;
			const std::string second = s.request("GET", "/myapp/peerjs/id").body;
			s.record("two ids differ", first != second && first.size() == 36 ? "yes" : "no: " + first + " " + second);
			s.http("GET wrong key id", "GET", "/myapp/wrongkey/id", {}, BODY_UUID);
			s.http("GET upper-case id", "GET", "/MYAPP/peerjs/ID", {}, BODY_UUID);
			s.http("GET id trailing slash", "GET", "/myapp/peerjs/id/", {}, BODY_UUID);
			s.http("HEAD id", "HEAD", "/myapp/peerjs/id", {}, BODY_UUID);
			s.http("POST id", "POST", "/myapp/peerjs/id", {}, STATUS_ONLY);
			s.http("PUT id", "PUT", "/myapp/peerjs/id", {}, STATUS_ONLY);
			s.http("GET peers, discovery off", "GET", "/myapp/peerjs/peers");
			s.http("GET peers, discovery off, Origin", "GET", "/myapp/peerjs/peers", {{"Origin", origin}});
			s.http("GET ws path without upgrade", "GET", "/myapp/peerjs", {}, STATUS_ONLY);
			s.http("GET id, Origin", "GET", "/myapp/peerjs/id", {{"Origin", origin}}, BODY_UUID);
			s.http("GET root, Origin", "GET", "/myapp/", {{"Origin", origin}});
			s.http("OPTIONS id", "OPTIONS", "/myapp/peerjs/id",
			       {{"Origin", origin},
			        {"Access-Control-Request-Method", "GET"},
			        {"Access-Control-Request-Headers", "x-a"}});
			s.http("OPTIONS root, no request headers", "OPTIONS", "/myapp/",
			       {{"Origin", origin}, {"Access-Control-Request-Method", "GET"}});
			s.http("OPTIONS id, no Origin", "OPTIONS", "/myapp/peerjs/id");
			const HttpResponse root = s.request("GET", "/myapp/");
			s.record("GET /myapp/ X-Powered-By",
			         root.hasHeader("X-Powered-By") ? root.header("X-Powered-By") : "(absent)");
			s.record("GET /myapp/ ETag", root.hasHeader("ETag") ? "present" : "(absent)");
		});
		const std::string json = "application/json; charset=utf-8";
		const std::string html = "text/html; charset=utf-8";
		const std::string rootOk = "200 | Content-Type: " + json +
		                           " | Content-Length: 140 | Vary: Origin | Access-Control-Allow-Origin: (absent) | "
		                           "Access-Control-Allow-Methods: (absent) | Access-Control-Allow-Headers: (absent) | "
		                           "Access-Control-Allow-Credentials: (absent) | body: ";
		const std::string idOk = "200 | Content-Type: " + html +
		                         " | Content-Length: 36 | Vary: Origin | Access-Control-Allow-Origin: (absent) | "
		                         "Access-Control-Allow-Methods: (absent) | Access-Control-Allow-Headers: (absent) | "
		                         "Access-Control-Allow-Credentials: (absent) | body: ";
		verify(o,
		       {{"GET /myapp/ X-Powered-By", "Express", "(absent)", "Express's X-Powered-By is not sent (section 4)"},
		        {"GET /myapp/ ETag", "present", "(absent)", "Express's ETag is not sent (section 4)"},
		        {"POST id", "404", "405", "a method the path does not serve is 405, as RFC 9110 says (section 15)"},
		        {"PUT id", "404", "405", "a method the path does not serve is 405, as RFC 9110 says (section 15)"}},
		       {{"GET /myapp/", rootOk + ROOT_BODY},
		        {"GET /myapp", rootOk + ROOT_BODY},
		        {"HEAD /myapp/", rootOk},
		        {"GET id", idOk + "(a UUID v4)"},
		        {"two ids differ", "yes"},
		        {"GET upper-case id", idOk + "(a UUID v4)"},
		        {"HEAD id", idOk},
		        {"GET peers, discovery off",
		         "401 | Content-Type: text/plain; charset=utf-8 | Content-Length: 12 | Vary: Origin | "
		         "Access-Control-Allow-Origin: (absent) | Access-Control-Allow-Methods: (absent) | "
		         "Access-Control-Allow-Headers: (absent) | Access-Control-Allow-Credentials: (absent) | body: "
		         "Unauthorized"},
		        {"GET ws path without upgrade", "404"},
		        {"GET id, Origin", "200 | Content-Type: " + html + " | Content-Length: 36 | Vary: Origin | " +
		                               "Access-Control-Allow-Origin: " + origin +
		                               " | Access-Control-Allow-Methods: (absent) | Access-Control-Allow-Headers: "
		                               "(absent) | Access-Control-Allow-Credentials: (absent) | body: (a UUID v4)"},
		        {"OPTIONS id", "204 | Content-Type: (absent) | Content-Length: 0 | Vary: Origin, "
		                       "Access-Control-Request-Headers | Access-Control-Allow-Origin: " +
		                           origin +
		                           " | Access-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE | "
		                           "Access-Control-Allow-Headers: x-a | Access-Control-Allow-Credentials: (absent) | "
		                           "body: "}});
	}

	void testHttpDiscovery()
	{
		Options options;
		options.discovery = true;
		// e"s\/<é and U+0001: escaped as JSON.stringify does.
		const std::string oddId = "e%22s%5C%2F%3C%C3%A9%01";
		Outcome o = runBoth(options, [&](Session& s) {
			s.http("peers, empty", "GET", "/myapp/peerjs/peers");
			Peer a(s, "A"), b(s, "B"), odd(s, "odd");
			open(a, query("A"));
			open(b, query("B"));
			open(odd, query(oddId, "t"));
			s.http("peers, three registered", "GET", "/myapp/peerjs/peers", {{"Origin", "http://example.test"}});
			a.closeNormally();
			// Deregistration follows the close; poll briefly instead of guessing its delay.
			std::string body = s.request("GET", "/myapp/peerjs/peers").body;
			for (const Deadline deadline(2000); body.find("\"A\"") != std::string::npos && !deadline.expired();)
			{
				sleepMs(50);
				body = s.request("GET", "/myapp/peerjs/peers").body;
			}
			s.record("peers after A closed", body);
			s.http("peers via other key, trailing slash", "GET", "/myapp/anykey/peers/");
		});
		verify(
		    o, {},
		    {{"peers, empty", "200 | Content-Type: application/json; charset=utf-8 | Content-Length: 2 | Vary: "
		                      "Origin | Access-Control-Allow-Origin: (absent) | Access-Control-Allow-Methods: (absent) "
		                      "| Access-Control-Allow-Headers: (absent) | Access-Control-Allow-Credentials: (absent) | "
		                      "body: []"},
		     {"peers after A closed", "[\"B\",\"e\\\"s\\\\/<\xC3\xA9\\u0001\"]"}});
	}

	void testHttpCorsAllowList()
	{
		Options options;
		options.cors = {"http://o1", "http://o2"};
		Outcome o = runBoth(options, [&](Session& s) {
			s.http("id, Origin o1", "GET", "/myapp/peerjs/id", {{"Origin", "http://o1"}}, BODY_UUID);
			s.http("id, Origin o3", "GET", "/myapp/peerjs/id", {{"Origin", "http://o3"}}, BODY_UUID);
			s.http("peers, Origin o2", "GET", "/myapp/peerjs/peers", {{"Origin", "http://o2"}});
			s.http("root, no Origin", "GET", "/myapp/");
			s.http("OPTIONS, Origin o3", "OPTIONS", "/myapp/peerjs/id",
			       {{"Origin", "http://o3"}, {"Access-Control-Request-Headers", "x-a"}});
			s.http("OPTIONS, Origin o2", "OPTIONS", "/myapp/peerjs/id",
			       {{"Origin", "http://o2"}, {"Access-Control-Request-Headers", "x-a"}});
		});
		verify(o, {},
		       {{"id, Origin o1", "200 | Content-Type: text/html; charset=utf-8 | Content-Length: 36 | Vary: Origin | "
		                          "Access-Control-Allow-Origin: http://o1 | Access-Control-Allow-Methods: (absent) | "
		                          "Access-Control-Allow-Headers: (absent) | Access-Control-Allow-Credentials: (absent) "
		                          "| body: (a UUID v4)"},
		        {"id, Origin o3", "200 | Content-Type: text/html; charset=utf-8 | Content-Length: 36 | Vary: Origin | "
		                          "Access-Control-Allow-Origin: (absent) | Access-Control-Allow-Methods: (absent) | "
		                          "Access-Control-Allow-Headers: (absent) | Access-Control-Allow-Credentials: (absent) "
		                          "| body: (a UUID v4)"}});
	}

	// --- 18.2 Handshake ----------------------------------------------------------------------

	void testHandshakeErrors()
	{
		const std::vector<std::pair<std::string, std::string>> cases = {
		    {"no query", ""},
		    {"no token", "?key=peerjs&id=x"},
		    {"empty id", "?key=peerjs&id=&token=t"},
		    {"empty token", "?key=peerjs&id=x&token="},
		    {"no key", "?id=x&token=t"},
		    {"empty key", "?key=&id=x&token=t"},
		    {"bad key, no token", "?key=bad&id=x"},
		    {"bad key", "?key=bad&id=a&token=t"},
		    {"key in upper case", "?key=PEERJS&id=a&token=t"},
		    {"key with a space", "?key=peerjs+&id=a&token=t"},
		    {"bad key for a registered id", "?key=bad&id=R&token=other"},
		};
		Outcome o = runBoth({}, [&](Session& s) {
			Peer registered(s, "R");
			open(registered, query("R"));
			for (const auto& c : cases)
			{
				Peer p(s, c.first);
				p.connect(c.second);
				p.expect("frame");
				p.expect("then");
				p.expectEof("end");
			}
			// None of the refused sockets registered anything; a percent-encoded key is decoded.
			Peer a(s, "a, encoded key");
			open(a, "?key=peer%6As&id=a&token=t2");
			Peer x(s, "x");
			open(x, "?key=peerjs&id=x&token=t3");
			registered.quiet("after all");
		});
		const std::string missing = errorFrame("No id, token, or key supplied to websocket server");
		const std::string badKey = errorFrame("Invalid key provided");
		Expectations expected;
		for (const auto& c : cases)
		{
			const bool keyCase = c.first.find("key") != std::string::npos && c.first != "no key" &&
			                     c.first != "empty key" && c.first != "bad key, no token";
			expected.push_back({c.first + " upgrade", "101"});
			expected.push_back({c.first + " frame", keyCase ? badKey : missing});
			expected.push_back({c.first + " then", STATUSLESS_CLOSE});
			expected.push_back({c.first + " end", "eof"});
		}
		expected.push_back({"a, encoded key first frame", OPEN_FRAME});
		expected.push_back({"x first frame", OPEN_FRAME});
		expected.push_back({"R after all", NOTHING});
		verify(o, {}, expected);
	}

	void testHandshakeOpenAndIdTaken()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B");
			a.connect(query("A") + "&version=1.5.5");
			a.expect("first frame");
			a.quiet("after OPEN");
			Peer taken(s, "A, other token");
			taken.connect(query("A", "other"));
			taken.expect("frame");
			taken.expect("then");
			taken.expectEof("end");
			Peer spaced(s, "A, token with a trailing space");
			spaced.connect(query("A", "tA%20"));
			spaced.expect("frame");
			open(b, query("B"));
			b.send(relayFrame("OFFER", "A", "{\"n\":1}"));
			a.expect("offer from B");
		});
		verify(o, {},
		       {{"A upgrade", "101"},
		        {"A first frame", OPEN_FRAME},
		        {"A after OPEN", NOTHING},
		        {"A, other token frame", ID_TAKEN_FRAME},
		        {"A, other token then", STATUSLESS_CLOSE},
		        {"A, other token end", "eof"},
		        {"A, token with a trailing space frame", ID_TAKEN_FRAME},
		        {"A offer from B", relayed("OFFER", "B", "A", "{\"n\":1}")}});
	}

	void testConcurrentLimitAndReattachAtLimit()
	{
		Options options;
		options.limit = 1;
		Outcome o = runBoth(options, [&](Session& s) {
			Peer a(s, "A"), c(s, "C");
			open(a, query("A"));
			c.connect(query("C"));
			c.expect("frame");
			c.expect("then");
			Peer taken(s, "A, other token");
			taken.connect(query("A", "other"));
			taken.expect("frame");
			taken.expect("then");
			Peer again(s, "A, same token");
			again.connect(query("A"));
			again.expect("first frame", ABSENT_MS);
			a.expect("after reattach", ABSENT_MS);
			again.closeNormally();
			Peer later(s, "C, after A closed");
			open(later, query("C"));
		});
		verify(
		    o,
		    {{"A, same token first frame", NOTHING, OPEN_FRAME, "section 15 #1: a reattach sends OPEN"},
		     {"A after reattach", NOTHING, "close 4000", "section 15 #1: the superseded socket is closed with 4000"}},
		    {{"C frame", errorFrame("Server has reached its concurrent user limit")},
		     {"C then", STATUSLESS_CLOSE},
		     {"A, other token frame", ID_TAKEN_FRAME},
		     {"A, other token then", STATUSLESS_CLOSE},
		     {"C, after A closed first frame", OPEN_FRAME}});
	}

	void testQueryDecoding()
	{
		// q"\/<é U+0001 U+2028 TAB: the id as registered, and as JSON.stringify writes it.
		const std::string oddQuery = "q%22%5C%2F%3C%C3%A9%01%E2%80%A8%09";
		const std::string oddJson = "q\\\"\\\\/<\xC3\xA9\\u0001\xE2\x80\xA8\\t";
		Outcome o = runBoth({}, [&](Session& s) {
			Peer b(s, "B"), space(s, "a b"), plus(s, "a+b"), invalid(s, "%FF"), literal(s, "50%zz"), odd(s, "odd"),
			    nul(s, "x%00y"), amp(s, "a%26b");
			open(b, query("B"));
			open(space, query("a%20b", "t1"));
			b.send(relayFrame("OFFER", "a b", "1"));
			space.expect("offer");
			plus.connect(query("a+b", "t2"));
			plus.expect("frame");
			open(invalid, query("%FF", "t"));
			b.send(relayFrame("OFFER", "\xEF\xBF\xBD", "2"));
			invalid.expect("offer");
			open(literal, query("50%zz", "t"));
			b.send(relayFrame("OFFER", "50%zz", "3"));
			literal.expect("offer");
			open(odd, query(oddQuery, "t"));
			b.send("{\"type\":\"OFFER\",\"dst\":\"q\\\"\\\\/<\xC3\xA9\\u0001\\u2028\\t\",\"payload\":4}");
			odd.expect("offer");
			odd.send(relayFrame("OFFER", "B", "5"));
			b.expect("offer from odd");
			open(nul, query("x%00y", "t"));
			b.send(relayFrame("OFFER", "x\\u0000y", "6"));
			nul.expect("offer");
			open(amp, query("a%26b", "t"));
			b.send(relayFrame("OFFER", "a&b", "7"));
			amp.expect("offer");
		});
		verify(o, {},
		       {{"a b offer", relayed("OFFER", "B", "a b", "1")},
		        {"a+b frame", ID_TAKEN_FRAME},
		        {"%FF offer", relayed("OFFER", "B", "\xEF\xBF\xBD", "2")},
		        {"50%zz offer", relayed("OFFER", "B", "50%zz", "3")},
		        {"odd offer", relayed("OFFER", "B", oddJson, "4")},
		        {"B offer from odd", relayed("OFFER", oddJson, "B", "5")},
		        {"x%00y offer", relayed("OFFER", "B", "x\\u0000y", "6")},
		        {"a%26b offer", relayed("OFFER", "B", "a&b", "7")}});
	}

	void testRepeatedQueryParameter()
	{
		// peerjs.md §5.1 says the first occurrence counts (URLSearchParams.get); the reference
		// (Object.fromEntries over URLSearchParams) takes the last. The protocol doc decides; the
		// official client never repeats a parameter. Asserted as a documented difference.
		Outcome o = runBoth({}, [&](Session& s) {
			Peer b(s, "B"), r(s, "R");
			open(b, query("B"));
			open(r, "?key=peerjs&id=r1&id=r2&token=t");
			b.send(relayFrame("OFFER", "r1", "1"));
			b.send(relayFrame("OFFER", "r2", "2"));
			r.quiet("frames");
		});
		verify(o,
		       {{"R frames", "text {\"type\":\"OFFER\",\"src\":\"B\",\"dst\":\"r2\",\"payload\":2}",
		         "text {\"type\":\"OFFER\",\"src\":\"B\",\"dst\":\"r1\",\"payload\":1}",
		         "repeated query parameter: peerjs.md §5.1 takes the first, the reference the last"}},
		       {});
	}

	void testUpgradeRefusals()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			const std::string q = query("A");
			for (const char* path : {"/myapp/peerjs/", "/myapp//peerjs", "/myapp/PEERJS", "/MYAPP/peerjs"})
			{
				Peer p(s, path);
				p.connectPath(std::string(path) + q);
			}
			Peer a(s, "A");
			open(a, q);
		});
		verify(o, {},
		       {{"/myapp/peerjs/ upgrade", "400"},
		        {"/myapp//peerjs upgrade", "400"},
		        {"/myapp/PEERJS upgrade", "400"},
		        {"A first frame", OPEN_FRAME}});
	}

	// --- 18.3 Relay --------------------------------------------------------------------------

	void testRelayShapes()
	{
		const std::string spoof =
		    R"({"type":"OFFER","src":"spoof","dst":"B","payload":{"sdp":{"type":"offer","sdp":"v=0"},"type":"data","connectionId":"dc_1"},"extra":42})";
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B");
			open(a, query("A"));
			open(b, query("B"));
			a.send(spoof);
			b.expect("spoofed src");
			a.send(R"({"type":"ANSWER","dst":"B"})");
			b.expect("answer without payload");
			a.send(relayFrame("CANDIDATE", "B", "\"str\""));
			b.expect("string payload");
			a.send(relayFrame("OFFER", "B", "null"));
			b.expect("null payload");
			a.send(R"({"type":"LEAVE","dst":"B"})");
			b.expect("leave");
			a.send(relayFrame("EXPIRE", "B", "{\"x\":1}"));
			b.expect("client expire");
			a.send(relayFrame("OFFER", "A", "{\"self\":1}"));
			a.expect("self-send");
			a.send(relayFrame("OFFER", "B", "{\"bin\":1}"), true);
			b.expect("binary in");
			a.client().sendFragmented(WsTestClient::OPCODE_TEXT, relayFrame("OFFER", "B", "{\"fragmented\":true}"), 7);
			b.expect("fragmented in");
			a.send(relayFrame("OFFER", "B", "[1,{\"a\":null},true,false,-0.5,\"x\"]"));
			b.expect("array payload");
			a.send(R"({"type":"OFFER","dst":"\u0042","payload":1})");
			b.expect("escaped dst");
			a.send(R"({"type":"OFFER","dst":"nobody","dst":"B","payload":2})");
			b.expect("duplicate dst, last wins");
			a.send(R"({"type":"CANDIDATE","type":"OFFER","dst":"B","payload":3})");
			b.expect("duplicate type, last wins");
			a.send(" { \"type\" : \"OFFER\" , \"dst\" : \"B\" , \"payload\" : [ 1 , 2 ] } ");
			b.expect("whitespace in the envelope");
			a.quiet("at the end");
			b.quiet("at the end");
		});
		verify(
		    o, {},
		    {{"B spoofed src", relayed("OFFER", "A", "B",
		                               R"({"sdp":{"type":"offer","sdp":"v=0"},"type":"data","connectionId":"dc_1"})")},
		     {"B answer without payload", "text {\"type\":\"ANSWER\",\"src\":\"A\",\"dst\":\"B\"}"},
		     {"B string payload", "text {\"type\":\"CANDIDATE\",\"src\":\"A\",\"dst\":\"B\",\"payload\":\"str\"}"},
		     {"B null payload", "text {\"type\":\"OFFER\",\"src\":\"A\",\"dst\":\"B\",\"payload\":null}"},
		     {"B leave", "text {\"type\":\"LEAVE\",\"src\":\"A\",\"dst\":\"B\"}"},
		     {"B client expire", "text {\"type\":\"EXPIRE\",\"src\":\"A\",\"dst\":\"B\",\"payload\":{\"x\":1}}"},
		     {"A self-send", relayed("OFFER", "A", "A", "{\"self\":1}")},
		     {"B binary in", relayed("OFFER", "A", "B", "{\"bin\":1}")},
		     {"B fragmented in", relayed("OFFER", "A", "B", "{\"fragmented\":true}")},
		     {"B escaped dst", relayed("OFFER", "A", "B", "1")},
		     {"B duplicate dst, last wins", relayed("OFFER", "A", "B", "2")},
		     {"B duplicate type, last wins", relayed("OFFER", "A", "B", "3")},
		     {"B whitespace in the envelope", relayed("OFFER", "A", "B", "[1,2]")},
		     {"A at the end", NOTHING},
		     {"B at the end", NOTHING}});
	}

	void testRealClientFrames()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			Peer alice(s, "alice"), bob(s, "bob");
			open(alice, query(ALICE, "spbx374184"));
			open(bob, query(BOB, "x8k2m1q9zq"));
			alice.send("{\"type\":\"OFFER\",\"payload\":" + OFFER_PAYLOAD + ",\"dst\":\"" + BOB + "\"}");
			bob.expect("offer");
			alice.send("{\"type\":\"CANDIDATE\",\"payload\":" + CANDIDATE_PAYLOAD + ",\"dst\":\"" + BOB + "\"}");
			bob.expect("candidate");
			bob.send("{\"type\":\"ANSWER\",\"payload\":" + ANSWER_PAYLOAD + ",\"dst\":\"" + ALICE + "\"}");
			alice.expect("answer");
			alice.send("{\"type\":\"HEARTBEAT\"}");
			alice.quiet("after heartbeat");
			bob.quiet("after heartbeat");
		});
		verify(
		    o, {},
		    {{"bob offer", relayed("OFFER", ALICE, BOB, OFFER_PAYLOAD)},
		     // peerjs.md §16, byte for byte.
		     {"bob candidate",
		      "text "
		      R"({"type":"CANDIDATE","src":"alice-65oqhy","dst":"86ecb817-6985-4abb-ad5b-746b633bb238","payload":{"candidate":{"candidate":"candidate:1042475518 1 udp 2113937151 10.213.0.1 44758 typ host generation 0 ufrag LHOA network-cost 999","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"LHOA"},"type":"data","connectionId":"dc_tspo15p26si"}})"},
		     {"alice answer", relayed("ANSWER", BOB, ALICE, ANSWER_PAYLOAD)},
		     {"alice after heartbeat", NOTHING},
		     {"bob after heartbeat", NOTHING}});
	}

	void testPayloadTextPreservation()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B");
			open(a, query("A"));
			open(b, query("B"));
			a.send(relayFrame("OFFER", "B", "{ \"s\" : \"\xC3\xA9/<\\u2028\", \"n\" : 2.50e1 }"));
			b.expect("spaced payload with escapes and exponent");
			a.send(relayFrame("OFFER", "B", "{\"t\":\"h\xC3\xA9llo \xE2\x98\x83 \xF0\x9D\x84\x9E\",\"u\":\"a b\"}"));
			b.expect("non-ASCII payload");
			a.send(relayFrame("OFFER", "B", "{\"b\":1,\"2\":0}"));
			b.expect("integer-like key");
			a.send(relayFrame("OFFER", "B", "{\"a\":1,\"a\":2}"));
			b.expect("duplicate payload key");
			a.send(relayFrame("OFFER", "B", "{\"x\":\"a\\\"b\\\\c\\/d\\u00e9\"}"));
			b.expect("string escapes");
		});
		const std::string why = "section 6.3: payload text is kept as received; the reference re-serializes";
		verify(o,
		       {{"B spaced payload with escapes and exponent",
		         relayed("OFFER", "A", "B", "{\"s\":\"\xC3\xA9/<\xE2\x80\xA8\",\"n\":25}"),
		         relayed("OFFER", "A", "B", "{\"s\":\"\xC3\xA9/<\\u2028\",\"n\":2.50e1}"), why},
		        {"B integer-like key", relayed("OFFER", "A", "B", "{\"2\":0,\"b\":1}"),
		         relayed("OFFER", "A", "B", "{\"b\":1,\"2\":0}"), why},
		        {"B duplicate payload key", relayed("OFFER", "A", "B", "{\"a\":2}"),
		         relayed("OFFER", "A", "B", "{\"a\":1,\"a\":2}"), why},
		        {"B string escapes", relayed("OFFER", "A", "B", "{\"x\":\"a\\\"b\\\\c/d\xC3\xA9\"}"),
		         relayed("OFFER", "A", "B", "{\"x\":\"a\\\"b\\\\c\\/d\\u00e9\"}"), why}},
		       {{"B non-ASCII payload",
		         relayed("OFFER", "A", "B", "{\"t\":\"h\xC3\xA9llo \xE2\x98\x83 \xF0\x9D\x84\x9E\",\"u\":\"a b\"}")}});
	}

	void testDroppedFrames()
	{
		const std::vector<std::string> dropped = {
		    R"({"type":"OFFER","payload":{"a":1}})",
		    R"({"type":"OFFER","dst":"","payload":1})",
		    R"({"type":"HEARTBEAT"})",
		    R"({"type":"HEARTBEAT","dst":"B"})",
		    R"({"type":"FOO","dst":"B","payload":1})",
		    R"({"type":"offer","dst":"B","payload":1})",
		    R"({"type":"OPEN","dst":"B"})",
		    R"({"type":"ERROR","dst":"B","payload":{"msg":"x"}})",
		    R"({"type":"ID-TAKEN","dst":"B"})",
		    R"({"type":"LEAVE","dst":"nobody"})",
		    R"({"type":"EXPIRE","dst":"nobody"})",
		};
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B");
			open(a, query("A"));
			open(b, query("B"));
			for (const std::string& frame : dropped)
				a.send(frame);
			a.quiet("after dropped frames");
			b.quiet("after dropped frames");
			a.send(relayFrame("OFFER", "B", "{\"ok\":1}"));
			b.expect("valid offer");
			// LEAVE and EXPIRE to an offline id were not queued either.
			Peer nobody(s, "nobody");
			open(nobody, query("nobody"));
			nobody.quiet("after OPEN");
		});
		verify(o, {},
		       {{"A after dropped frames", NOTHING},
		        {"B after dropped frames", NOTHING},
		        {"B valid offer", relayed("OFFER", "A", "B", "{\"ok\":1}")},
		        {"nobody after OPEN", NOTHING}});
	}

	// --- 18.4 Queue and EXPIRE ---------------------------------------------------------------

	void testQueueDeliveryOrder()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B"), c(s, "C");
			open(a, query("A"));
			open(b, query("B"));
			const std::int64_t start = nowMs();
			a.send(relayFrame("OFFER", "C", "{\"n\":1}"));
			a.send(relayFrame("CANDIDATE", "C", "{\"n\":2}"));
			// Frames of different sockets have no defined order at the server until a pause.
			sleepMs(50);
			b.send(relayFrame("OFFER", "C", "{\"n\":3}"));
			sleepMs(50);
			a.send(R"({"type":"LEAVE","dst":"C"})");
			sleepMs(100);
			// Queues belong to the id, not a token: any token claims them.
			c.connect(query("C", "whatever"));
			auto arrivals = watch({&a, &b, &c}, start + EXPIRE_MS + TIMER_SLACK_MS + GRACE_MS);
			s.record("C frames", framesOf(arrivals["C"]));
			s.record("A frames", framesOf(arrivals["A"]));
			s.record("B frames", framesOf(arrivals["B"]));
		});
		verify(o, {},
		       {{"C frames",
		         joined({OPEN_FRAME, relayed("OFFER", "A", "C", "{\"n\":1}"),
		                 relayed("CANDIDATE", "A", "C", "{\"n\":2}"), relayed("OFFER", "B", "C", "{\"n\":3}")})},
		        {"A frames", NOTHING},
		        {"B frames", NOTHING}});
	}

	void testExpirePerPair()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B");
			open(a, query("A"));
			open(b, query("B"));
			const std::int64_t start = nowMs();
			a.send(relayFrame("OFFER", "D", "{\"n\":1}"));
			a.send(relayFrame("CANDIDATE", "D", "{\"n\":2}"));
			sleepUntil(start + 1200);
			const std::int64_t bSent = nowMs();
			b.send(relayFrame("OFFER", "D", "{\"n\":3}"));
			auto arrivals = watch({&a, &b}, bSent + EXPIRE_MS + TIMER_SLACK_MS + GRACE_MS + 200);
			s.record("A frames", framesOf(arrivals["A"]));
			s.record("A timing", timingsOf(arrivals["A"], start, EXPIRE_MS));
			s.record("B frames", framesOf(arrivals["B"]));
			s.record("B timing", timingsOf(arrivals["B"], bSent, EXPIRE_MS));
		});
		verify(o,
		       {{"B timing", "early (before the timeout)", "on time (within 1 s after the timeout)",
		         "section 15 #3: expiry per (src, dst) pair; the reference expires the whole queue "
		         "expire_timeout after its first message"}},
		       {{"A frames", expireFrame("D", "A")},
		        {"A timing", "on time (within 1 s after the timeout)"},
		        {"B frames", expireFrame("D", "B")}});
	}

	void testExpireLifetimeExtendsWithNewestMessage()
	{
		// Two independent pairs: A->D where D never comes, E->F where F comes after the first
		// message's lifetime but within the newest one's. A longer expire_timeout (3 s) keeps
		// every step at least 0.5 s away from both servers' expiry windows: the reference expires
		// at [3, 4) s after the first message, Switchboard no earlier than 5 s.
		Options options;
		options.expireMs = 3000;
		Outcome o = runBoth(options, [&](Session& s) {
			Peer a(s, "A"), e(s, "E"), f(s, "F");
			open(a, query("A"));
			open(e, query("E"));
			const std::int64_t start = nowMs();
			a.send(relayFrame("OFFER", "D", "{\"n\":1}"));
			e.send(relayFrame("OFFER", "F", "{\"n\":1}"));
			sleepUntil(start + 2000);
			const std::int64_t newest = nowMs();
			a.send(relayFrame("CANDIDATE", "D", "{\"n\":2}"));
			e.send(relayFrame("CANDIDATE", "F", "{\"n\":2}"));
			auto early = watch({&a, &e}, start + 4500);
			f.connect(query("F"));
			auto late = watch({&a, &e, &f}, newest + options.expireMs + TIMER_SLACK_MS + GRACE_MS + 200);
			std::vector<Arrival> all = early["A"];
			all.insert(all.end(), late["A"].begin(), late["A"].end());
			s.record("A frames", framesOf(all));
			s.record("A timing", timingsOf(all, newest, options.expireMs));
			std::vector<Arrival> allE = early["E"];
			allE.insert(allE.end(), late["E"].begin(), late["E"].end());
			s.record("E frames", framesOf(allE));
			s.record("F frames", framesOf(late["F"]));
		});
		const std::string why = "section 15 #3: a message lives expire_timeout after the newest of its pair";
		verify(o,
		       {{"A timing", "early (before the timeout)", "on time (within 1 s after the timeout)", why},
		        {"E frames", expireFrame("F", "E"), NOTHING, why},
		        {"F frames", OPEN_FRAME,
		         joined({OPEN_FRAME, relayed("OFFER", "E", "F", "{\"n\":1}"),
		                 relayed("CANDIDATE", "E", "F", "{\"n\":2}")}),
		         why}},
		       {{"A frames", expireFrame("D", "A")}});
	}

	void testExpireToOfflineSource()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), e(s, "E");
			open(a, query("A"));
			open(e, query("E"));
			const std::int64_t start = nowMs();
			a.send(relayFrame("OFFER", "D", "{\"n\":1}"));
			e.send(relayFrame("OFFER", "D2", "{\"n\":2}"));
			sleepMs(50);
			a.closeNormally();
			e.closeNormally();
			// Another client registers E before the expiry: the EXPIRE goes to it (section 9.5).
			Peer e2(s, "E2");
			e2.connect(query("E", "tE2"));
			auto arrivals = watch({&e2}, start + EXPIRE_MS + TIMER_SLACK_MS + GRACE_MS + 200);
			s.record("E2 frames", framesOf(arrivals["E2"]));
			Peer a2(s, "A2");
			open(a2, query("A", "tA2"));
			a2.quiet("after OPEN");
		});
		verify(o, {},
		       {{"E2 frames", joined({OPEN_FRAME, expireFrame("D2", "E")})},
		        {"A2 first frame", OPEN_FRAME},
		        {"A2 after OPEN", NOTHING}});
	}

	// --- 18.5 Liveness -----------------------------------------------------------------------

	void testLiveness()
	{
		Options options;
		options.aliveMs = ALIVE_MS;
		Outcome o = runBoth(options, [&](Session& s) {
			Peer b(s, "B"), silent(s, "S"), offers(s, "O"), beats(s, "H"), junk(s, "N");
			const std::int64_t start = nowMs();
			for (Peer* p : {&b, &silent, &offers, &beats, &junk})
				open(*p, query(p->name()));
			int offersSent = 0;
			std::int64_t nextSend = start + 500;
			const std::int64_t end = start + 4500;
			auto arrivals = watch({&b, &silent, &offers, &beats, &junk}, end, [&]() {
				if (nowMs() < nextSend || nowMs() > end - 200)
					return;
				nextSend += 500;
				b.send("{\"type\":\"HEARTBEAT\"}");
				beats.send("{\"type\":\"HEARTBEAT\"}");
				junk.send("not json");
				if (offers.send(relayFrame("OFFER", "B", "{\"k\":" + std::to_string(offersSent) + "}")))
					++offersSent;
			});
			s.record("S frames", framesOf(arrivals["S"]));
			s.record("S timing", timingsOf(arrivals["S"], start, ALIVE_MS));
			s.record("O frames", framesOf(arrivals["O"]));
			s.record("H frames", framesOf(arrivals["H"]));
			s.record("N frames", framesOf(arrivals["N"]));
			std::vector<std::string> expectedOffers;
			for (int k = 0; k < offersSent; ++k)
				expectedOffers.push_back(relayed("OFFER", "O", "B", "{\"k\":" + std::to_string(k) + "}"));
			s.record("B got every offer O sent, in order",
			         framesOf(arrivals["B"]) == joined(expectedOffers) && offersSent >= 7 ? "yes" : "no");
			Peer silentAgain(s, "S, new token");
			open(silentAgain, query("S", "fresh"));
			Peer offersAgain(s, "O, new token");
			open(offersAgain, query("O", "fresh"));
		});
		const std::string why = "section 15 #5: any frame counts as activity";
		verify(o,
		       {{"O frames", STATUSLESS_CLOSE, NOTHING, why},
		        {"N frames", STATUSLESS_CLOSE, NOTHING, why},
		        {"B got every offer O sent, in order", "no", "yes", why},
		        {"O, new token first frame", OPEN_FRAME, ID_TAKEN_FRAME, why}},
		       {{"S frames", STATUSLESS_CLOSE},
		        {"S timing", "on time (within 1 s after the timeout)"},
		        {"H frames", NOTHING},
		        {"S, new token first frame", OPEN_FRAME}});
	}

	// --- 18.6 Reattach and close -------------------------------------------------------------

	void testReattach()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B"), a2(s, "A2");
			open(a, query("A"));
			open(b, query("B"));
			a2.connect(query("A"));
			a2.expect("first frame", ABSENT_MS);
			// The old socket sends before it reads anything: a superseded socket is never relayed.
			a.send(relayFrame("OFFER", "B", "{\"from\":\"old socket\"}"));
			b.expect("from the old socket", ABSENT_MS);
			a.expect("after reattach", ABSENT_MS);
			s.record("A close reason", a.closeSeen() ? a.closeReason() : NOTHING);
			b.send(relayFrame("OFFER", "A", "{\"n\":1}"));
			a2.expect("offer after reattach");
			a.quiet("offer after reattach");
			// The old socket's close never removes the newer registration.
			a.closeNormally();
			b.send(relayFrame("OFFER", "A", "{\"n\":2}"));
			a2.expect("offer after the old socket closed");
			Peer a3(s, "A3, other token");
			a3.connect(query("A", "other"));
			a3.expect("frame");
		});
		verify(o,
		       {{"A2 first frame", NOTHING, OPEN_FRAME, "section 15 #1: a reattach sends OPEN"},
		        {"B from the old socket", relayed("OFFER", "A", "B", "{\"from\":\"old socket\"}"), NOTHING,
		         "section 15 #1: the superseded socket is detached"},
		        {"A after reattach", NOTHING, "close 4000", "section 15 #1: the superseded socket is closed with 4000"},
		        {"A close reason", NOTHING, "superseded", "section 5.3: the 4000 close has reason superseded"}},
		       {{"A2 offer after reattach", relayed("OFFER", "B", "A", "{\"n\":1}")},
		        {"A offer after reattach", NOTHING},
		        {"A2 offer after the old socket closed", relayed("OFFER", "B", "A", "{\"n\":2}")},
		        {"A3, other token frame", ID_TAKEN_FRAME}});
	}

	void testLeaveWithoutDst()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B"), other(s, "A, other token");
			open(a, query("A"));
			open(b, query("B"));
			a.send(R"({"type":"LEAVE"})");
			a.send(R"({"type":"LEAVE","payload":{"why":"bye"}})");
			sleepMs(SETTLE_MS);
			other.connect(query("A", "other"));
			other.expect("first frame");
			b.send(relayFrame("OFFER", "A", "{\"n\":1}"));
			a.expect("offer", ABSENT_MS);
			other.expect("second frame", ABSENT_MS);
		});
		const std::string why = "section 15 #6: LEAVE without dst is ignored; the reference deregisters the sender";
		verify(o,
		       {{"A, other token first frame", OPEN_FRAME, ID_TAKEN_FRAME, why},
		        {"A offer", NOTHING, relayed("OFFER", "B", "A", "{\"n\":1}"), why},
		        {"A, other token second frame", relayed("OFFER", "B", "A", "{\"n\":1}"), STATUSLESS_CLOSE, why}},
		       {});
	}

	void testCloseThenQueueAndExpire()
	{
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B");
			open(a, query("A"));
			open(b, query("B"));
			a.closeNormally();
			b.quiet("after A closed");
			const std::int64_t sent = nowMs();
			b.send(relayFrame("OFFER", "A", "{\"n\":1}"));
			auto arrivals = watch({&b}, sent + EXPIRE_MS + TIMER_SLACK_MS + GRACE_MS + 200);
			s.record("B frames", framesOf(arrivals["B"]));
			s.record("B timing", timingsOf(arrivals["B"], sent, EXPIRE_MS));
			Peer a2(s, "A2");
			open(a2, query("A", "new"));
			a2.quiet("after OPEN");
		});
		verify(o, {},
		       {{"B after A closed", NOTHING},
		        {"B frames", expireFrame("A", "B")},
		        {"B timing", "on time (within 1 s after the timeout)"},
		        {"A2 first frame", OPEN_FRAME},
		        {"A2 after OPEN", NOTHING}});
	}

	void testOversizedMessage()
	{
		const std::string big = relayFrame("OFFER", "B", "\"" + std::string(70000, 'x') + "\"");
		Outcome o = runBoth({}, [&](Session& s) {
			Peer a(s, "A"), b(s, "B");
			open(a, query("A"));
			open(b, query("B"));
			a.send(big);
			a.expect("after 70000 bytes", ABSENT_MS);
			b.expect("relayed", ABSENT_MS);
			sleepMs(SETTLE_MS);
			Peer a2(s, "A2");
			open(a2, query("A", "new"));
		});
		const std::string why = "section 15 #9: messages above max_message_size (64 KiB) close with 1009";
		verify(o,
		       {{"A after 70000 bytes", NOTHING, "close 1009", why},
		        {"B relayed",
		         "text " + summarize(relayed("OFFER", "A", "B", "\"" + std::string(70000, 'x') + "\"").substr(5)),
		         NOTHING, why},
		        {"A2 first frame", ID_TAKEN_FRAME, OPEN_FRAME, why}},
		       {});
	}

	void testMalformedFrames()
	{
		// Each malformed frame on its own socket, followed by a valid OFFER from that socket.
		const std::vector<std::pair<std::string, std::string>> bad = {
		    {"not json", "not json"},
		    {"string", "\"just a string\""},
		    {"null", "null"},
		    {"array", "[]"},
		    {"number", "42"},
		    {"type 5", "{\"type\":5}"},
		    {"no type", "{\"dst\":\"B\",\"payload\":1}"},
		    {"empty", ""},
		    {"trailing comma", "{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":1,}"},
		    {"BOM", "\xEF\xBB\xBF{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":1}"},
		    {"truncated", "{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":{\"a\":1}"},
		    {"single quotes", "{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":'x'}"},
		    {"garbage after", "{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":1} x"},
		};
		const std::vector<std::string> contractFive = {"not json", "\"just a string\"", "null", "[]", "{\"type\":5}"};
		Outcome o = runBoth({}, [&](Session& s) {
			Peer b(s, "B");
			open(b, query("B"));
			std::vector<std::unique_ptr<Peer>> senders;
			for (std::size_t i = 0; i < bad.size(); ++i)
			{
				senders.push_back(std::make_unique<Peer>(s, "M" + std::to_string(i)));
				Peer& m = *senders.back();
				open(m, query(m.name()));
				m.send(bad[i].second);
				m.send(relayFrame("OFFER", "B", "{\"after\":" + std::to_string(i) + "}"));
				const std::string frame = b.poll(ABSENT_MS);
				s.record("B after " + bad[i].first, frame.empty() ? NOTHING : frame);
				m.quiet("after " + bad[i].first);
			}
			// peerjs.md §18.6.7: the five in a row on one socket.
			Peer a(s, "A");
			open(a, query("A"));
			for (const std::string& frame : contractFive)
				a.send(frame);
			a.send(relayFrame("OFFER", "B", "{\"after\":\"five\"}"));
			b.expect("after the five", ABSENT_MS);
			a.quiet("after the five");
			// Invalid UTF-8 in a text frame is a protocol error (1007), and the id is freed.
			Peer u(s, "U");
			open(u, query("U"));
			u.send("{\"type\":\"OFFER\",\"dst\":\"B\",\"payload\":\"\xC3\x28\"}");
			u.expect("after invalid UTF-8");
			// The reference stops reading after a protocol error; only the TCP close frees the id.
			u.closeNormally();
			Peer u2(s, "U2");
			open(u2, query("U", "new"));
			b.quiet("at the end");
		});
		const std::string why = "section 15 #2: a malformed frame is ignored; on the reference it stalls the socket";
		std::vector<Difference> differences;
		Expectations expected;
		for (std::size_t i = 0; i < bad.size(); ++i)
		{
			const std::string delivered =
			    relayed("OFFER", "M" + std::to_string(i), "B", "{\"after\":" + std::to_string(i) + "}");
			// The reference survives only frames JSON.parse accepts and that it can set a
			// property on (objects and arrays).
			const bool referenceSurvives =
			    bad[i].first == "array" || bad[i].first == "type 5" || bad[i].first == "no type";
			if (referenceSurvives)
				expected.push_back({"B after " + bad[i].first, delivered});
			else
				differences.push_back({"B after " + bad[i].first, NOTHING, delivered, why});
			expected.push_back({"M" + std::to_string(i) + " after " + bad[i].first, NOTHING});
		}
		differences.push_back({"B after the five", NOTHING, relayed("OFFER", "A", "B", "{\"after\":\"five\"}"), why});
		expected.push_back({"A after the five", NOTHING});
		expected.push_back({"U after invalid UTF-8", "close 1007"});
		expected.push_back({"U2 first frame", OPEN_FRAME});
		expected.push_back({"B at the end", NOTHING});
		verify(o, differences, expected);
	}

	// --- 18.7 Shutdown -----------------------------------------------------------------------

	void testShutdown()
	{
		// The reference (section 15 #8): SIGTERM sends no close frame and waits for the clients.
		{
			Transcript transcript("the reference (peer 1.0.2)");
			ReferenceServer reference(Options{});
			reference.spawn();
			reference.waitReady();
			Session s(true, reference.port(), transcript);
			Peer a(s, "A");
			open(a, query("A"));
			reference.signal(SIGTERM);
			a.expect("after SIGTERM", 1000);
			const bool running = reference.running();
			reference.kill();
			CPPUNIT_ASSERT_EQUAL_MESSAGE("the reference sends nothing on SIGTERM (section 15 #8)", NOTHING,
			                             transcript.value("A after SIGTERM"));
			CPPUNIT_ASSERT_MESSAGE("the reference waits for its WebSocket clients (section 15 #8)", running);
		}
		// Switchboard: SIGTERM closes every socket with 1001 (no EXPIRE for queued messages) and
		// exits within the drain deadline although B never answers the close.
		{
			Transcript transcript("Switchboard");
			TestServer ours;
			configureOurs(ours, {});
			ours.start();
			Session s(false, ours.port("main"), transcript);
			Peer a(s, "A"), b(s, "B");
			open(a, query("A"));
			open(b, query("B"));
			b.setReplyToClose(false);
			a.send(relayFrame("OFFER", "D", "{\"queued\":1}"));
			sleepMs(100);
			const std::int64_t start = nowMs();
			ours.sendSignal(SIGTERM);
			a.expect("after SIGTERM");
			s.record("A close reason", a.closeReason());
			b.expect("after SIGTERM");
			const TestServer::ExitStatus exit = ours.waitForExit(5000);
			const std::int64_t took = nowMs() - start;
			s.record("exit", exit.known ? exit.describe() : "still running after 5 s");
			b.expectEof("end", 1000);
			if (printTranscripts())
				std::cerr << "\n" << transcript.dump();
			verifyOurs(transcript, {{"A after SIGTERM", "close 1001"},
			                        {"A close reason", ""},
			                        {"B after SIGTERM", "close 1001"},
			                        {"B end", "eof"}});
			CPPUNIT_ASSERT_MESSAGE(exit.describe(), exit.known && exit.exited && exit.exitCode == 0);
			// shutdown_deadline_ms is 1000: the exit must not wait for B.
			CPPUNIT_ASSERT_MESSAGE("shutdown took " + std::to_string(took) + " ms", took < 1000 + 1500);
		}
	}

	// --- Switchboard only: cases the reference cannot run --------------------------------------

	void testOursOriginAllowlist()
	{
		Options options;
		options.oursOnly = {{"ws_origin_allowlist", "http://ok.test,http://also.test"}};
		Transcript t = runOurs(options, [&](Session& s) {
			Peer evil(s, "evil"), ok(s, "ok"), none(s, "no Origin"), evilNoParams(s, "evil, no params");
			evil.connect(query("E"), {{"Origin", "http://evil.test"}});
			evil.expect("frame");
			evil.expect("then");
			evil.expectEof("end");
			// Step 0 comes before the parameter check.
			evilNoParams.connect("", {{"Origin", "http://evil.test"}});
			evilNoParams.expect("frame");
			ok.connect(query("E"), {{"Origin", "http://ok.test"}});
			ok.expect("first frame");
			none.connect(query("N"));
			none.expect("first frame");
			// CORS on HTTP is unaffected by the WebSocket allowlist.
			s.http("id, Origin evil", "GET", "/myapp/peerjs/id", {{"Origin", "http://evil.test"}}, BODY_UUID);
		});
		const std::string notAllowed = errorFrame("Origin not allowed");
		verifyOurs(t,
		           {{"evil upgrade", "101"},
		            {"evil frame", notAllowed},
		            {"evil then", STATUSLESS_CLOSE},
		            {"evil end", "eof"},
		            {"evil, no params frame", notAllowed},
		            {"ok first frame", OPEN_FRAME},
		            {"no Origin first frame", OPEN_FRAME},
		            {"id, Origin evil", "200 | Content-Type: text/html; charset=utf-8 | Content-Length: 36 | Vary: "
		                                "Origin | Access-Control-Allow-Origin: http://evil.test | "
		                                "Access-Control-Allow-Methods: (absent) | Access-Control-Allow-Headers: "
		                                "(absent) | Access-Control-Allow-Credentials: (absent) | body: (a UUID v4)"}});
	}

	void testOursTokenValidator()
	{
		const std::string secret = "s3cret";
		Options options;
		options.oursOnly = {{"token_validator", "hmac-sha256:" + secret}};
		const std::string goodA = hmacSha256Hex(secret, "A");
		Transcript t = runOurs(options, [&](Session& s) {
			Peer bad(s, "bad"), good(s, "good"), takenBad(s, "registered id, bad token"),
			    badKey(s, "bad key, bad token"), upper(s, "upper-case hex");
			bad.connect(query("A", "bad"));
			bad.expect("frame");
			bad.expect("then");
			good.connect(query("A", goodA));
			good.expect("first frame");
			// Step 3 (token) comes before step 4a (ID-TAKEN), step 2 (key) before step 3.
			takenBad.connect(query("A", "bad"));
			takenBad.expect("frame");
			badKey.connect("?key=bad&id=A&token=bad");
			badKey.expect("frame");
			std::string upperToken = goodA;
			std::transform(upperToken.begin(), upperToken.end(), upperToken.begin(),
			               [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
			upper.connect(query("Z", upperToken));
			upper.expect("frame");
			Peer reattach(s, "same token again");
			reattach.connect(query("A", goodA));
			reattach.expect("first frame");
		});
		const std::string invalid = errorFrame("Invalid token provided");
		verifyOurs(t, {{"bad frame", invalid},
		               {"bad then", STATUSLESS_CLOSE},
		               {"good first frame", OPEN_FRAME},
		               {"registered id, bad token frame", invalid},
		               {"bad key, bad token frame", errorFrame("Invalid key provided")},
		               {"upper-case hex frame", invalid},
		               {"same token again first frame", OPEN_FRAME}});
	}

	void testOursQueueBoundPerDestination()
	{
		Options options;
		options.oursOnly = {{"max_queue_per_destination", "3"}};
		Transcript t = runOurs(options, [&](Session& s) {
			Peer a(s, "A"), b(s, "B"), x(s, "X");
			open(a, query("A"));
			open(b, query("B"));
			for (int n = 1; n <= 3; ++n)
				a.send(relayFrame("OFFER", "X", "{\"n\":" + std::to_string(n) + "}"));
			// Frames of different sockets have no defined order at the server until a pause.
			sleepMs(50);
			b.send(relayFrame("OFFER", "X", "{\"n\":4}"));
			b.expect("early expire");
			a.quiet("after B's overflow");
			open(x, query("X"));
			x.quiet("queued messages");
			a.quiet("later", EXPIRE_MS + TIMER_SLACK_MS);
		});
		verifyOurs(t, {{"B early expire", expireFrame("X", "B")},
		               {"A after B's overflow", NOTHING},
		               {"X first frame", OPEN_FRAME},
		               {"X queued messages",
		                joined({relayed("OFFER", "A", "X", "{\"n\":1}"), relayed("OFFER", "A", "X", "{\"n\":2}"),
		                        relayed("OFFER", "A", "X", "{\"n\":3}")})},
		               {"A later", NOTHING}});
	}

	void testOursQueueBoundPerSource()
	{
		Options options;
		options.oursOnly = {{"max_queue_per_source", "2"}};
		Transcript t = runOurs(options, [&](Session& s) {
			// 18.4.6: overflow on another pair.
			Peer a(s, "A"), x(s, "X");
			open(a, query("A"));
			a.send(relayFrame("OFFER", "X", "{\"n\":1}"));
			a.send(relayFrame("CANDIDATE", "X", "{\"n\":2}"));
			a.send(relayFrame("OFFER", "Y", "{\"n\":3}"));
			a.expect("early expire");
			for (int n = 4; n <= 6; ++n)
				a.send(relayFrame("CANDIDATE", "Y", "{\"n\":" + std::to_string(n) + "}"));
			a.quiet("suppressed", 500);
			open(x, query("X"));
			x.quiet("queued messages");
			// 18.4.7: overflow on the same pair discards the whole pair.
			Peer c(s, "C"), z(s, "Z");
			open(c, query("C"));
			for (int n = 1; n <= 3; ++n)
				c.send(relayFrame("OFFER", "Z", "{\"n\":" + std::to_string(n) + "}"));
			c.expect("early expire");
			open(z, query("Z"));
			z.quiet("queued messages");
			// The suppressed and discarded messages never produce a late EXPIRE either.
			auto later = watch({&a, &c}, nowMs() + EXPIRE_MS + TIMER_SLACK_MS);
			s.record("A later", framesOf(later["A"]));
			s.record("C later", framesOf(later["C"]));
		});
		verifyOurs(t, {{"A early expire", expireFrame("Y", "A")},
		               {"A suppressed", NOTHING},
		               {"X first frame", OPEN_FRAME},
		               {"X queued messages",
		                joined({relayed("OFFER", "A", "X", "{\"n\":1}"), relayed("CANDIDATE", "A", "X", "{\"n\":2}")})},
		               {"C early expire", expireFrame("Z", "C")},
		               {"Z first frame", OPEN_FRAME},
		               {"Z queued messages", NOTHING},
		               {"A later", NOTHING},
		               {"C later", NOTHING}});
	}

	void testOursQueueBoundTotalBytes()
	{
		Options options;
		// 1024 is the smallest value the plugin accepts; each queued message is about 600 bytes.
		options.oursOnly = {{"max_queued_bytes_total", "1024"}};
		const std::string filler = "\"" + std::string(550, 'f') + "\"";
		Transcript t = runOurs(options, [&](Session& s) {
			Peer a(s, "A"), b(s, "B"), x(s, "X"), y(s, "Y");
			open(a, query("A"));
			open(b, query("B"));
			a.send(relayFrame("OFFER", "X", filler));
			a.quiet("after its message");
			b.send(relayFrame("OFFER", "Y", filler));
			b.expect("early expire");
			open(x, query("X"));
			x.quiet("queued messages");
			open(y, query("Y"));
			y.quiet("queued messages");
		});
		verifyOurs(t, {{"A after its message", NOTHING},
		               {"B early expire", expireFrame("Y", "B")},
		               {"X queued messages", relayed("OFFER", "A", "X", filler)},
		               {"Y queued messages", NOTHING}});
	}

	void testOursReplyErrorOnInvalidMessage()
	{
		Options options;
		options.oursOnly = {{"reply_error_on_invalid_message", "true"}};
		Transcript t = runOurs(options, [&](Session& s) {
			Peer a(s, "A"), b(s, "B");
			open(a, query("A"));
			open(b, query("B"));
			for (const char* frame : {"not json", "\"just a string\"", "null", "[]", "{\"type\":5}"})
				a.send(frame);
			std::vector<std::string> replies = a.collect(QUIET_MS * 2);
			s.record("A replies", joined(replies));
			a.send(relayFrame("OFFER", "B", "{\"after\":1}"));
			b.expect("offer");
			// Valid frames that are merely ignored get no ERROR.
			a.send("{\"type\":\"HEARTBEAT\"}");
			a.send(R"({"type":"LEAVE","dst":"nobody"})");
			a.quiet("after valid ignored frames");
		});
		const std::string error = errorFrame("Invalid message");
		verifyOurs(t, {{"A replies", joined({error, error, error, error, error})},
		               {"B offer", relayed("OFFER", "A", "B", "{\"after\":1}")}});
	}

	void testOursMessageSizeLimit()
	{
		Options options;
		options.oursOnly = {{"max_message_size", "1000"}};
		Transcript t = runOurs(options, [&](Session& s) {
			Peer a(s, "A"), b(s, "B"), c(s, "C");
			open(a, query("A"));
			open(b, query("B"));
			const std::string head = relayFrame("OFFER", "B", "\"");
			const std::string exact = relayFrame("OFFER", "B", "\"" + std::string(1000 - head.size() - 1, 'x') + "\"");
			s.record("exact size", std::to_string(exact.size()));
			a.send(exact);
			b.expect("message of exactly max_message_size");
			const std::string over = relayFrame("OFFER", "B", "\"" + std::string(1000 - head.size(), 'x') + "\"");
			a.client().sendFragmented(WsTestClient::OPCODE_TEXT, over, 300);
			a.expect("after a fragmented message one byte too large");
			b.quiet("after the oversized message");
			sleepMs(SETTLE_MS);
			open(c, query("A", "new"));
		});
		verifyOurs(t, {{"exact size", "1000"},
		               {"B message of exactly max_message_size",
		                relayed("OFFER", "A", "B",
		                        "\"" + std::string(1000 - relayFrame("OFFER", "B", "\"").size() - 1, 'x') + "\"")},
		               {"A after a fragmented message one byte too large", "close 1009"},
		               {"B after the oversized message", NOTHING},
		               {"C first frame", OPEN_FRAME}});
	}

	void testOursPingInterval()
	{
		// Pongs count as activity (section 10); pings alone do not keep a silent client.
		Options options;
		options.aliveMs = 1000;
		options.oursOnly = {{"ws_ping_interval", "300"}};
		Transcript t = runOurs(options, [&](Session& s) {
			Peer answering(s, "P"), mute(s, "M");
			answering.client().setAutoPong(true);
			open(answering, query("P"));
			open(mute, query("M"));
			auto arrivals = watch({&answering, &mute}, nowMs() + 2600);
			s.record("P frames", framesOf(arrivals["P"]));
			s.record("P pongs sent", answering.client().pingsAnswered() >= 3 ? "at least 3" : "fewer than 3");
			std::vector<std::string> kinds;
			for (const Arrival& a : arrivals["M"])
				if (kinds.empty() || kinds.back() != a.frame)
					kinds.push_back(a.frame);
			s.record("M frames, repeats folded", joined(kinds));
		});
		verifyOurs(t, {{"P frames", NOTHING},
		               {"P pongs sent", "at least 3"},
		               {"M frames, repeats folded", joined({"ping", STATUSLESS_CLOSE})}});
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerJsConformanceTest);


} // namespace Test
} // namespace Switchboard
