//
// PeerVaultFanoutIntegrationTest.cpp
//
// PeerVault (/work/shared/protocols/peervault.md) under load, with the real binary on 127.0.0.1:
//
// * fan-out: 1,000 subscribers of one topic (the default connection cap exactly) and a burst of 200
//   events published over HTTP as fast as one publisher can: every subscriber receives every event,
//   once, in publish order, each frame one JSON document (§2, §5, §10);
// * a subscriber that stops reading is closed as a slow consumer (1013 "Slow consumer", §7) once its
//   outbound queue of send_queue_frames = 64 overflows, while the others keep receiving every event;
//   and one that starts reading again right after the drop gets that close frame, which §7 says is
//   attempted with a 1 s write timeout;
// * ping floods from a client that never reads (app-level pings, then WebSocket Ping frames, §7 rate
//   limit; and with the rate limit lifted, so that its queue of pongs overflows): that client is
//   disconnected (1008 or 1013), another client's ping is answered throughout, /ws/health stays 200
//   and the server's resident memory stays bounded (§11.1, §12 case 23).
//
// The 1,000 clients are driven by one epoll loop over non-blocking sockets with a minimal client
// written here: the opening handshake, masked client frames and the parsing of the server's frames.
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <random>
#include <sstream>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>
#include <arpa/inet.h>


using namespace Switchboard::Test;


namespace {


const char* const LOOPBACK = "127.0.0.1";
const char* const PUB_TOKEN = "pub-token";
const char* const PUB_TOKENS_JSON = "[{\"token\":\"pub-token\",\"name\":\"publisher\",\"scopes\":[\"publish\"]}]";
const std::string SUBSCRIBE_FILES = "{\"type\":\"subscribe\",\"topic\":\"file_operations\"}";
const std::string PING = "{\"type\":\"ping\"}";
const std::int64_t MIB = 1024 * 1024;


// --- the server -----------------------------------------------------------------------------------

void configure(TestServer& server, const TestServer::Keys& extraKeys = {})
/// [listener.peervault] on 127.0.0.1 and [plugin.peervault] at its root with the publishing token
/// (contract §12 setup); extraKeys are plugin keys as named in §9, e.g. websocket.limits.burst.
{
	server.addListener("peervault");
	TestServer::Keys keys = {{"websocket.metrics.interval", "1s"}, {"websocket.auth.tokens", PUB_TOKENS_JSON}};
	for (const auto& entry : extraKeys)
		keys[entry.first] = entry.second;
	server.addPlugin("peervault", "peervault", "", keys);
	// Every client is 127.0.0.1: the host's per-address limits must not refuse the crowd's upgrades.
	server.set("http", "upgrades_per_second", "0");
	server.set("http", "max_connections_per_client", "0");
}


double secondsSince(std::chrono::steady_clock::time_point start)
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}


std::int64_t residentBytes(pid_t pid)
/// VmRSS of a process from /proc/<pid>/status, in bytes; -1 if it cannot be read.
{
	std::ifstream status("/proc/" + std::to_string(pid) + "/status");
	std::string line;
	while (std::getline(status, line))
	{
		if (line.compare(0, 6, "VmRSS:") == 0)
		{
			try
			{
				return std::stoll(line.substr(6)) * 1024;
			}
			catch (const std::exception&)
			{
				return -1;
			}
		}
	}
	return -1;
}


Poco::JSON::Object::Ptr parseObject(const std::string& text)
/// The JSON object in text, or null if text is not one.
{
	try
	{
		Poco::Dynamic::Var value = Poco::JSON::Parser().parse(text);
		if (value.type() == typeid(Poco::JSON::Object::Ptr))
			return value.extract<Poco::JSON::Object::Ptr>();
	}
	catch (const Poco::Exception&)
	{
	}
	catch (const std::exception&)
	{
	}
	return nullptr;
}


bool oneObjectDocument(const std::string& text)
/// True if text is exactly one JSON object: it starts with '{' and the brace that closes it is the
/// last byte (strings and escapes skipped). Two documents joined by a newline, or anything after the
/// object, fail; the parser checks the rest.
{
	if (text.empty() || text[0] != '{')
		return false;
	int depth = 0;
	bool inString = false;
	for (std::size_t i = 0; i < text.size(); ++i)
	{
		const char c = text[i];
		if (inString)
		{
			if (c == '\\')
				++i;
			else if (c == '"')
				inString = false;
			continue;
		}
		if (c == '"')
			inString = true;
		else if (c == '{' || c == '[')
			++depth;
		else if (c == '}' || c == ']')
		{
			if (--depth == 0)
				return i + 1 == text.size();
		}
	}
	return false;
}


std::string eventBody(int sequence, std::size_t padBytes)
/// A file_uploaded event whose data.key carries the sequence number, k<n>; padBytes of extra data
/// (passed through unchanged, §5) make it large.
{
	std::string body = "{\"type\":\"file_uploaded\",\"topic\":\"file_operations\",\"data\":{\"key\":\"k" +
	                   std::to_string(sequence) + "\",\"size\":" + std::to_string(sequence) +
	                   ",\"node\":\"fanout-node\"";
	if (padBytes > 0)
		body += ",\"pad\":\"" + std::string(padBytes, 'x') + "\"";
	return body + "}}";
}


struct PublishOutcome
{
	int status = 0;
	std::int64_t delivered = -1;
	std::string problem; ///< a transport failure or an unexpected body
};


PublishOutcome publish(int port, const std::string& body)
/// POST /ws/publish with the test's Bearer token; delivered from the 202 body.
{
	PublishOutcome outcome;
	try
	{
		HttpResponse response = HttpTestClient::request(
		    LOOPBACK, port, "POST", "/ws/publish",
		    {{"Authorization", std::string("Bearer ") + PUB_TOKEN}, {"Content-Type", "application/json"}}, body, 10000);
		outcome.status = response.status;
		Poco::JSON::Object::Ptr json = parseObject(response.body);
		if (response.status == 202 && json && json->has("delivered") && json->get("delivered").isInteger())
			outcome.delivered = json->getValue<std::int64_t>("delivered");
		else
			outcome.problem = "HTTP " + std::to_string(response.status) + " " + response.body.substr(0, 300);
	}
	catch (const std::exception& error)
	{
		outcome.problem = error.what();
	}
	return outcome;
}


std::string randomKey(std::mt19937& random)
/// A Sec-WebSocket-Key: 16 random bytes in base64.
{
	static const char* const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char bytes[16];
	for (unsigned char& b : bytes)
		b = static_cast<unsigned char>(random() & 0xff);
	std::string out;
	for (int i = 0; i < 16; i += 3)
	{
		const unsigned v = (static_cast<unsigned>(bytes[i]) << 16) | (i + 1 < 16 ? bytes[i + 1] << 8 : 0) |
		                   (i + 2 < 16 ? bytes[i + 2] : 0);
		out += ALPHABET[(v >> 18) & 63];
		out += ALPHABET[(v >> 12) & 63];
		out += i + 1 < 16 ? ALPHABET[(v >> 6) & 63] : '=';
		out += i + 2 < 16 ? ALPHABET[v & 63] : '=';
	}
	return out;
}


std::string lower(std::string text)
{
	for (char& c : text)
		c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
	return text;
}


// --- a crowd of minimal WebSocket clients on one epoll loop ---------------------------------------

struct Peer
{
	int fd = -1;
	std::string key;
	std::string in;
	bool upgraded = false;
	bool closed = false; ///< EOF, reset or a close frame
	int closeCode = -1;  ///< from a close frame
	int pongs = 0;       ///< app-level pongs received
	int events = 0;      ///< file_uploaded events received in order (k0, k1, ...)
	std::string problem; ///< the first thing that went wrong
};


class Crowd
/// count WebSocket clients of one server, read by one epoll loop (pump()). Every client is expected
/// to receive only app-level pongs and file_uploaded events with data.key "k<n>", n counting from 0
/// without a gap; anything else is recorded as the peer's problem.
{
public:
	Crowd(int port, int receiveBuffer = 0):
	    _port(port),
	    _receiveBuffer(receiveBuffer),
	    _epoll(::epoll_create1(EPOLL_CLOEXEC)),
	    _random(std::random_device()())
	{
		if (_epoll < 0)
			throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
	}

	~Crowd()
	{
		for (Peer& peer : _peers)
		{
			if (peer.fd >= 0)
				::close(peer.fd);
		}
		::close(_epoll);
	}

	Crowd(const Crowd&) = delete;
	Crowd& operator=(const Crowd&) = delete;

	std::size_t size() const { return _peers.size(); }
	const Peer& peer(std::size_t i) const { return _peers[i]; }

	void connect(int count, int batch, int timeoutMs)
	/// Opens count more clients, batch at a time: TCP connect, the upgrade request, then the 101 of
	/// every client of the batch. A client that fails keeps its problem.
	{
		_peers.reserve(_peers.size() + static_cast<std::size_t>(count));
		const Deadline deadline(timeoutMs);
		int opened = 0;
		while (opened < count && !deadline.expired())
		{
			const std::size_t first = _peers.size();
			const int n = std::min(batch, count - opened);
			for (int i = 0; i < n; ++i)
				openOne();
			opened += n;
			pump(deadline.remainingMs(), [this, first] {
				for (std::size_t i = first; i < _peers.size(); ++i)
				{
					if (!_peers[i].upgraded && !_peers[i].closed)
						return false;
				}
				return true;
			});
		}
	}

	void sendFramesToAll(const std::vector<std::string>& texts)
	/// One masked text frame per entry of texts to every client, in one write each.
	{
		for (Peer& peer : _peers)
			sendFrames(peer, texts);
	}

	bool pump(int timeoutMs, const std::function<bool()>& done)
	/// Reads every readable client until done() or the timeout; returns done().
	{
		const Deadline deadline(timeoutMs);
		std::vector<epoll_event> ready(256);
		char buffer[65536];
		while (!done())
		{
			if (deadline.expired())
				return false;
			const int n = ::epoll_wait(_epoll, ready.data(), static_cast<int>(ready.size()),
			                           std::min(deadline.remainingMs(), 100));
			if (n < 0 && errno != EINTR)
				throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
			for (int i = 0; i < n; ++i)
			{
				Peer& peer = _peers[ready[i].data.u64];
				if (peer.closed)
					continue;
				for (;;)
				{
					const ssize_t got = ::recv(peer.fd, buffer, sizeof(buffer), 0);
					if (got > 0)
					{
						peer.in.append(buffer, static_cast<std::size_t>(got));
						continue;
					}
					if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
						break;
					if (got < 0 && errno == EINTR)
						continue;
					consume(peer);
					markClosed(peer);
					break;
				}
				if (!peer.closed)
					consume(peer);
			}
		}
		return true;
	}

	std::string summary(int expectedEvents) const
	/// The peers that are not where they should be, first few in detail.
	{
		std::ostringstream out;
		int bad = 0;
		for (std::size_t i = 0; i < _peers.size(); ++i)
		{
			const Peer& p = _peers[i];
			if (p.upgraded && !p.closed && p.problem.empty() && p.events == expectedEvents)
				continue;
			if (++bad <= 5)
				out << "\n  client " << i << ": upgraded=" << p.upgraded << " closed=" << p.closed
				    << " closeCode=" << p.closeCode << " events=" << p.events << "/" << expectedEvents
				    << " pongs=" << p.pongs << (p.problem.empty() ? "" : " problem: " + p.problem);
		}
		if (bad == 0)
			return "";
		return std::to_string(bad) + " of " + std::to_string(_peers.size()) + " clients are off:" + out.str();
	}

private:
	void openOne()
	{
		_peers.emplace_back();
		Peer& peer = _peers.back();
		const std::size_t index = _peers.size() - 1;
		peer.key = randomKey(_random);
		peer.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (peer.fd < 0)
		{
			peer.problem = std::string("socket: ") + std::strerror(errno);
			peer.closed = true;
			return;
		}
		if (_receiveBuffer > 0)
			::setsockopt(peer.fd, SOL_SOCKET, SO_RCVBUF, &_receiveBuffer, sizeof(_receiveBuffer));
		sockaddr_in address;
		std::memset(&address, 0, sizeof(address));
		address.sin_family = AF_INET;
		address.sin_port = htons(static_cast<std::uint16_t>(_port));
		::inet_pton(AF_INET, LOOPBACK, &address.sin_addr);
		// A loopback connect completes at once (or is refused); the socket is non-blocking after it.
		if (::connect(peer.fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
		{
			peer.problem = std::string("connect: ") + std::strerror(errno);
			peer.closed = true;
			return;
		}
		const int one = 1;
		::setsockopt(peer.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		::fcntl(peer.fd, F_SETFL, ::fcntl(peer.fd, F_GETFL) | O_NONBLOCK);
		epoll_event event;
		std::memset(&event, 0, sizeof(event));
		event.events = EPOLLIN | EPOLLRDHUP;
		event.data.u64 = index;
		::epoll_ctl(_epoll, EPOLL_CTL_ADD, peer.fd, &event);
		const std::string request = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(_port) +
		                            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + peer.key +
		                            "\r\nSec-WebSocket-Version: 13\r\n\r\n";
		writeAll(peer, request);
	}

	void writeAll(Peer& peer, const std::string& bytes)
	/// The requests and frames here are small; a socket that cannot take them at once is a problem.
	{
		if (peer.closed)
			return;
		std::size_t offset = 0;
		const Deadline deadline(2000);
		while (offset < bytes.size())
		{
			const ssize_t n = ::send(peer.fd, bytes.data() + offset, bytes.size() - offset, MSG_NOSIGNAL);
			if (n > 0)
			{
				offset += static_cast<std::size_t>(n);
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && !deadline.expired())
			{
				std::this_thread::sleep_for(std::chrono::milliseconds(1));
				continue;
			}
			setProblem(peer, std::string("send: ") + (n < 0 ? std::strerror(errno) : "no progress"));
			return;
		}
	}

	void sendFrames(Peer& peer, const std::vector<std::string>& texts)
	{
		std::string bytes;
		for (const std::string& text : texts)
			bytes += maskedFrame(WsTestClient::OPCODE_TEXT, text);
		writeAll(peer, bytes);
	}

	std::string maskedFrame(int opcode, const std::string& payload)
	{
		unsigned char mask[4];
		for (unsigned char& b : mask)
			b = static_cast<unsigned char>(_random() & 0xff);
		return WsTestClient::encodeFrame(opcode, payload, true, true, 0, mask);
	}

	static void setProblem(Peer& peer, const std::string& problem)
	{
		if (peer.problem.empty())
			peer.problem = problem;
	}

	void markClosed(Peer& peer)
	{
		if (peer.closed)
			return;
		peer.closed = true;
		::epoll_ctl(_epoll, EPOLL_CTL_DEL, peer.fd, nullptr);
	}

	void consume(Peer& peer)
	/// The handshake response, then every whole frame in peer.in.
	{
		std::size_t position = 0;
		if (!peer.upgraded)
		{
			const std::size_t end = peer.in.find("\r\n\r\n");
			if (end == std::string::npos)
			{
				if (peer.in.size() > 16384)
				{
					setProblem(peer, "oversized handshake response");
					markClosed(peer);
				}
				return;
			}
			const std::string head = peer.in.substr(0, end + 2);
			const std::string accept = "sec-websocket-accept: " + WsTestClient::computeAcceptKey(peer.key);
			if (head.compare(0, 12, "HTTP/1.1 101") != 0 ||
			    lower(head).find(lower(accept) + "\r\n") == std::string::npos)
			{
				setProblem(peer, "handshake refused: " + head.substr(0, head.find("\r\n")) + " " +
				                     peer.in.substr(end + 4, 200));
				markClosed(peer);
				return;
			}
			peer.upgraded = true;
			position = end + 4;
		}
		const std::string& in = peer.in;
		while (in.size() - position >= 2)
		{
			const unsigned char b0 = static_cast<unsigned char>(in[position]);
			const unsigned char b1 = static_cast<unsigned char>(in[position + 1]);
			std::size_t header = 2;
			std::uint64_t length = b1 & 0x7f;
			if (length == 126)
			{
				if (in.size() - position < 4)
					break;
				length =
				    (static_cast<unsigned char>(in[position + 2]) << 8) | static_cast<unsigned char>(in[position + 3]);
				header = 4;
			}
			else if (length == 127)
			{
				if (in.size() - position < 10)
					break;
				length = 0;
				for (int i = 0; i < 8; ++i)
					length = (length << 8) | static_cast<unsigned char>(in[position + 2 + static_cast<std::size_t>(i)]);
				header = 10;
			}
			if ((b1 & 0x80) != 0)
			{
				setProblem(peer, "the server masked a frame");
				markClosed(peer);
				return;
			}
			if (in.size() - position - header < length)
				break;
			const std::string payload = in.substr(position + header, static_cast<std::size_t>(length));
			position += header + static_cast<std::size_t>(length);
			frame(peer, (b0 & 0x80) != 0, b0 & 0x0f, payload);
			if (peer.closed)
				return;
		}
		peer.in.erase(0, position);
	}

	void frame(Peer& peer, bool fin, int opcode, const std::string& payload)
	{
		if (opcode == WsTestClient::OPCODE_PING)
		{
			writeAll(peer, maskedFrame(WsTestClient::OPCODE_PONG, payload));
			return;
		}
		if (opcode == WsTestClient::OPCODE_PONG)
			return;
		if (opcode == WsTestClient::OPCODE_CLOSE)
		{
			peer.closeCode = payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
			                                           static_cast<unsigned char>(payload[1])
			                                     : 1005;
			setProblem(peer, "closed by the server: " + std::to_string(peer.closeCode) + " " +
			                     (payload.size() > 2 ? payload.substr(2) : ""));
			markClosed(peer);
			return;
		}
		if (opcode != WsTestClient::OPCODE_TEXT || !fin)
		{
			setProblem(peer,
			           "not a whole text frame: opcode " + std::to_string(opcode) + " fin " + std::to_string(fin));
			return;
		}
		if (!oneObjectDocument(payload))
		{
			setProblem(peer, "a frame that is not exactly one JSON object: " + payload.substr(0, 200));
			return;
		}
		Poco::JSON::Object::Ptr json = parseObject(payload);
		if (!json || !json->has("type") || !json->get("type").isString())
		{
			setProblem(peer, "not a JSON message: " + payload.substr(0, 200));
			return;
		}
		const std::string type = json->getValue<std::string>("type");
		if (type == "pong")
		{
			++peer.pongs;
			return;
		}
		const std::string expectedKey = "k" + std::to_string(peer.events);
		Poco::JSON::Object::Ptr data = json->has("data") && json->isObject("data") ? json->getObject("data") : nullptr;
		const std::string key = data && data->has("key") && data->get("key").isString()
		                            ? data->getValue<std::string>("key")
		                            : std::string("(none)");
		const std::string topic =
		    json->has("topic") && json->get("topic").isString() ? json->getValue<std::string>("topic") : "";
		if (type != "file_uploaded" || topic != "file_operations" || key != expectedKey)
		{
			setProblem(peer, "expected the event with data.key " + expectedKey + ", got " + payload.substr(0, 200));
			return;
		}
		++peer.events;
	}

	int _port;
	int _receiveBuffer;
	int _epoll;
	std::mt19937 _random;
	std::vector<Peer> _peers;
};


struct Flood
/// What one flooding thread did.
{
	std::atomic<bool> done{false};
	std::atomic<int> sent{0};
	std::string stoppedBy; ///< the send failure that ended it, "" if every message went out
	double seconds = 0;
};


void floodPings(WsTestClient& client, int count, bool controlPings, Flood& flood)
/// Sends count pings (app-level {"type":"ping"} text frames, or WebSocket Ping frames) as fast as the
/// socket takes them and never reads; stops at the first failed send.
{
	const auto start = std::chrono::steady_clock::now();
	try
	{
		for (int i = 0; i < count; ++i)
		{
			if (controlPings)
				client.sendPing("flood");
			else
				client.sendText(PING);
			flood.sent.store(i + 1);
		}
	}
	catch (const std::exception& error)
	{
		flood.stoppedBy = error.what();
	}
	flood.seconds = secondsSince(start);
	flood.done.store(true);
}


std::string pongOrWhy(WsTestClient& client, int timeoutMs)
/// Sends an app-level ping and reads until its pong: "" when it came in time, else why not. Other
/// data frames before the pong are skipped (none are expected).
{
	try
	{
		client.sendText(PING);
	}
	catch (const std::exception& error)
	{
		return std::string("send failed: ") + error.what();
	}
	const Deadline deadline(timeoutMs);
	for (;;)
	{
		WsTestClient::Message message = client.receiveMessage(deadline.remainingMs());
		if (message.timedOut())
			return "no pong within " + std::to_string(timeoutMs) + " ms";
		if (!message.ok())
			return "connection ended: " + message.error;
		if (message.opcode == WsTestClient::OPCODE_CLOSE)
			return "closed by the server";
		if (message.opcode != WsTestClient::OPCODE_TEXT)
			continue;
		Poco::JSON::Object::Ptr json = parseObject(message.payload);
		if (json && json->has("type") && json->get("type").isString() && json->getValue<std::string>("type") == "pong")
			return "";
	}
}


std::string subscribeAndConfirm(WsTestClient& client)
/// subscribe to file_operations, then a ping whose pong proves the subscription is active (§2).
{
	client.sendText(SUBSCRIBE_FILES);
	return pongOrWhy(client, 5000);
}


WsTestClient openClient(int port, int receiveBuffer = 0)
{
	WsTestClient client;
	if (receiveBuffer > 0)
		client.setReceiveBufferSize(receiveBuffer);
	HttpResponse response = client.connect(LOOPBACK, port, "/ws");
	CPPUNIT_ASSERT_EQUAL_MESSAGE("upgrade of /ws: " + response.body, 101, response.status);
	return client;
}


std::int64_t activeConnections(int port)
/// websocket.active_connections from GET /ws/metrics, -1 if unreadable.
{
	try
	{
		HttpResponse response = HttpTestClient::get(LOOPBACK, port, "/ws/metrics");
		Poco::JSON::Object::Ptr json = parseObject(response.body);
		if (response.status == 200 && json && json->isObject("websocket"))
		{
			Poco::JSON::Object::Ptr ws = json->getObject("websocket");
			if (ws->has("active_connections") && ws->get("active_connections").isInteger())
				return ws->getValue<std::int64_t>("active_connections");
		}
	}
	catch (const std::exception&)
	{
	}
	return -1;
}


int healthStatus(int port)
{
	try
	{
		return HttpTestClient::get(LOOPBACK, port, "/ws/health", {}, 3000).status;
	}
	catch (const std::exception&)
	{
		return -1;
	}
}


std::int64_t slowConsumerCloses(TestServer& server)
/// The host's slow-consumer counter on the admin listener, -1 if absent.
{
	try
	{
		return HttpTestClient::metricValue(HttpTestClient::get(LOOPBACK, server.adminPort(), "/metrics").body,
		                                   "switchboard_slow_consumer_closes_total");
	}
	catch (const std::exception&)
	{
		return -1;
	}
}


std::string describeClose(const WsTestClient::CloseInfo& close)
{
	if (close.code == WsTestClient::CloseInfo::TIMED_OUT)
		return "still open (no close frame, no EOF)";
	if (close.code == WsTestClient::CloseInfo::NO_CLOSE_FRAME)
		return "TCP closed without a close frame";
	return "close " + std::to_string(close.code) + " '" + close.reason + "'";
}


} // namespace


class PeerVaultFanoutIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(PeerVaultFanoutIntegrationTest);
	CPPUNIT_TEST(testThousandSubscribersReceiveEveryEventInOrder);
	CPPUNIT_TEST(testStalledSubscriberIsClosedOthersKeepReceiving);
	CPPUNIT_TEST(testSlowConsumerCloseReachesAClientThatResumesReading);
	CPPUNIT_TEST(testPingFloodWithoutReadingIsBounded);
	CPPUNIT_TEST(testPingFloodWithRateLimitLiftedIsASlowConsumer);
	CPPUNIT_TEST_SUITE_END();

public:
	void testThousandSubscribersReceiveEveryEventInOrder()
	/// 1,000 subscribers (the default max_connections exactly) and 200 events published back to back:
	/// each publish reports delivered = 1000, and every subscriber gets k0..k199 in order, each in a
	/// frame of its own, and nothing more (a ping afterwards is answered with nothing before it).
	{
		const int clients = 1000;
		const int events = 200;
		TestServer server;
		configure(server);
		server.start();
		const int port = server.port("peervault");

		auto t0 = std::chrono::steady_clock::now();
		Crowd crowd(port);
		crowd.connect(clients, 100, 30000);
		const double connectSeconds = secondsSince(t0);
		std::string off = crowd.summary(0);
		CPPUNIT_ASSERT_MESSAGE("upgrades: " + off, off.empty());

		t0 = std::chrono::steady_clock::now();
		crowd.sendFramesToAll({SUBSCRIBE_FILES, PING});
		crowd.pump(20000, [&crowd] {
			for (std::size_t i = 0; i < crowd.size(); ++i)
			{
				if (crowd.peer(i).pongs < 1 && !crowd.peer(i).closed)
					return false;
			}
			return true;
		});
		const double subscribeSeconds = secondsSince(t0);
		off = crowd.summary(0);
		CPPUNIT_ASSERT_MESSAGE("subscriptions: " + off, off.empty());
		CPPUNIT_ASSERT_EQUAL_MESSAGE("active_connections after 1000 subscribers", std::int64_t(clients),
		                             activeConnections(port));

		// The publisher runs beside the reading loop, as fast as one HTTP client goes.
		std::vector<PublishOutcome> outcomes(static_cast<std::size_t>(events));
		std::atomic<bool> published{false};
		double publishSeconds = 0;
		t0 = std::chrono::steady_clock::now();
		std::thread publisher([&] {
			const auto start = std::chrono::steady_clock::now();
			for (int n = 0; n < events; ++n)
				outcomes[static_cast<std::size_t>(n)] = publish(port, eventBody(n, 0));
			publishSeconds = secondsSince(start);
			published.store(true);
		});
		const bool allDelivered = crowd.pump(60000, [&crowd] {
			for (std::size_t i = 0; i < crowd.size(); ++i)
			{
				const Peer& p = crowd.peer(i);
				if (p.events < events && !p.closed && p.problem.empty())
					return false;
			}
			return true;
		});
		const double deliverySeconds = secondsSince(t0);
		publisher.join();

		std::string publishProblems;
		int accepted = 0;
		for (int n = 0; n < events; ++n)
		{
			const PublishOutcome& o = outcomes[static_cast<std::size_t>(n)];
			if (o.status == 202 && o.delivered == clients)
				++accepted;
			else if (publishProblems.size() < 600)
				publishProblems += "\n  k" + std::to_string(n) + ": status " + std::to_string(o.status) +
				                   ", delivered " + std::to_string(o.delivered) + " " + o.problem;
		}
		std::cout << "\n  fan-out: " << clients << " clients upgraded in " << connectSeconds << " s, subscribed in "
		          << subscribeSeconds << " s; " << events << " publishes in " << publishSeconds << " s; all "
		          << clients * events << " deliveries done after " << deliverySeconds << " s" << std::endl;
		CPPUNIT_ASSERT_MESSAGE("publishes answered 202 with delivered = 1000: " + std::to_string(accepted) + "/" +
		                           std::to_string(events) + publishProblems,
		                       accepted == events);
		off = crowd.summary(events);
		CPPUNIT_ASSERT_MESSAGE("deliveries (all in " + std::string(allDelivered ? "time" : "60 s: no") + "): " + off,
		                       off.empty());

		// Nothing beyond the 200: the next frame after the events is the pong of a new ping.
		crowd.sendFramesToAll({PING});
		crowd.pump(20000, [&crowd] {
			for (std::size_t i = 0; i < crowd.size(); ++i)
			{
				if (crowd.peer(i).pongs < 2 && !crowd.peer(i).closed)
					return false;
			}
			return true;
		});
		off = crowd.summary(events);
		CPPUNIT_ASSERT_MESSAGE("after the burst: " + off, off.empty());
		for (std::size_t i = 0; i < crowd.size(); ++i)
			CPPUNIT_ASSERT_EQUAL_MESSAGE("pongs of client " + std::to_string(i), 2, crowd.peer(i).pongs);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testStalledSubscriberIsClosedOthersKeepReceiving()
	/// With send_queue_frames = 64, a subscriber with a small receive buffer that stops reading is
	/// dropped (publishes then report one delivery fewer, for good), its connection ends (a close
	/// frame, if it gets one, is 1013 "Slow consumer"; it is read only at the end here), and 20 reading
	/// subscribers get every event in order, before and after the drop.
	{
		StalledRun run = runStalledSubscriber(false);
		const WsTestClient::CloseInfo& close = run.close;
		CPPUNIT_ASSERT_MESSAGE("the stalled subscriber was never dropped: every one of " + std::to_string(run.total) +
		                           " publishes reported delivered = " + std::to_string(STALL_READERS + 1) +
		                           run.sequence,
		                       run.droppedAt >= 0);
		CPPUNIT_ASSERT_MESSAGE("publishes (delivered must drop by one, once, for good):" + run.sequence,
		                       run.sequence.empty());
		CPPUNIT_ASSERT_MESSAGE("the reading subscribers: " + run.readersOff, run.readersOff.empty());
		CPPUNIT_ASSERT_MESSAGE("the stalled client's connection did not end: " + describeClose(close),
		                       close.code != WsTestClient::CloseInfo::TIMED_OUT);
		CPPUNIT_ASSERT_MESSAGE("the stalled client's events are out of order: " + run.disorder, run.disorder.empty());
		CPPUNIT_ASSERT_MESSAGE("the stalled client got events published after it was dropped: " +
		                           std::to_string(run.prefix) + " events, dropped at k" + std::to_string(run.droppedAt),
		                       run.prefix <= run.droppedAt);
		if (close.code != WsTestClient::CloseInfo::NO_CLOSE_FRAME)
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE("the slow consumer's close code", 1013, close.code);
			CPPUNIT_ASSERT_EQUAL_MESSAGE("the slow consumer's close reason", std::string("Slow consumer"),
			                             close.reason);
		}
		if (run.slowBefore >= 0)
			CPPUNIT_ASSERT_EQUAL_MESSAGE("host slow-consumer closes", run.slowBefore + 1, run.slowAfter);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("active_connections after the drop", std::int64_t(STALL_READERS), run.active);
		CPPUNIT_ASSERT_EQUAL_MESSAGE("server exit code", 0, run.exitCode);
	}

	void testSlowConsumerCloseReachesAClientThatResumesReading()
	/// §7: "Close 1013 Slow consumer is attempted with a 1 s write timeout, then TCP is dropped". The
	/// stalled subscriber starts reading again as soon as a publish reports it dropped (a few ms after
	/// the overflow): after the events that were already on their way, it must receive Close 1013
	/// "Slow consumer" (the rest of the scenario is checked as above).
	{
		StalledRun run = runStalledSubscriber(true);
		const WsTestClient::CloseInfo& close = run.close;
		CPPUNIT_ASSERT_MESSAGE("the stalled subscriber was never dropped" + run.sequence, run.droppedAt >= 0);
		CPPUNIT_ASSERT_MESSAGE("publishes:" + run.sequence, run.sequence.empty());
		CPPUNIT_ASSERT_MESSAGE("the reading subscribers: " + run.readersOff, run.readersOff.empty());
		CPPUNIT_ASSERT_MESSAGE("the stalled client's events are out of order: " + run.disorder, run.disorder.empty());
		CPPUNIT_ASSERT_MESSAGE("the stalled client's drain started " + std::to_string(run.drainDelayMs) +
		                           " ms after the drop was seen; the check needs it within 500 ms",
		                       run.drainDelayMs >= 0 && run.drainDelayMs < 500);
		CPPUNIT_ASSERT_MESSAGE("a slow consumer that resumed reading " + std::to_string(run.drainDelayMs) +
		                           " ms after the drop was seen got " + std::to_string(run.prefix) +
		                           " events (dropped at k" + std::to_string(run.droppedAt) +
		                           "), then: " + describeClose(close) +
		                           "; expected Close 1013 'Slow consumer' (attempted for 1 s, contract §7)",
		                       close.code == 1013 && close.reason == "Slow consumer");
		CPPUNIT_ASSERT_EQUAL_MESSAGE("server exit code", 0, run.exitCode);
	}

	void testPingFloodWithoutReadingIsBounded()
	/// §12 case 23, default rate limit, send_queue_frames = 64: a client sends 100,000 app-level pings
	/// without reading, then another sends 100,000 WebSocket Ping frames. Each is disconnected (a close
	/// frame, if seen, is 1008 or 1013); meanwhile a probe's ping is answered every time, /ws/health
	/// answers 200 and the server's RSS grows by less than 64 MiB.
	{
		TestServer server;
		configure(server, {{"websocket.limits.send_queue_frames", "64"}});
		server.start();
		const int port = server.port("peervault");
		WsTestClient probe = openClient(port);
		probe.setAutoPong(true);
		const std::string first = pongOrWhy(probe, 5000);
		CPPUNIT_ASSERT_MESSAGE("the probe's first ping: " + first, first.empty());

		for (const bool controlPings : {false, true})
			floodAndWatch(server, probe, controlPings, {1008, 1013});
		CPPUNIT_ASSERT_EQUAL_MESSAGE("active_connections: only the probe", std::int64_t(1), activeConnections(port));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testPingFloodWithRateLimitLiftedIsASlowConsumer()
	/// The same app-level flood with the rate limit lifted, so every ping is answered: the pongs the
	/// flooder never reads overflow its queue of 64 frames, and it is closed as a slow consumer (§7,
	/// §11.1: the reference server crashed here), with the probe, health and RSS as above.
	{
		TestServer server;
		configure(server, {{"websocket.limits.send_queue_frames", "64"},
		                   {"websocket.limits.messages_per_second", "100000000"},
		                   {"websocket.limits.burst", "100000000"}});
		server.start();
		const int port = server.port("peervault");
		WsTestClient probe = openClient(port);
		probe.setAutoPong(true);
		const std::string first = pongOrWhy(probe, 5000);
		CPPUNIT_ASSERT_MESSAGE("the probe's first ping: " + first, first.empty());
		const std::int64_t slowBefore = slowConsumerCloses(server);

		floodAndWatch(server, probe, false, {1013});
		if (slowBefore >= 0)
			CPPUNIT_ASSERT_EQUAL_MESSAGE("host slow-consumer closes", slowBefore + 1, slowConsumerCloses(server));
		CPPUNIT_ASSERT_EQUAL_MESSAGE("active_connections: only the probe", std::int64_t(1), activeConnections(port));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

private:
	static constexpr int STALL_READERS = 20;

	struct StalledRun
	/// What runStalledSubscriber() saw.
	{
		int droppedAt = -1;             ///< the first event whose publish reported one delivery fewer
		int total = 0;                  ///< events published
		std::string sequence;           ///< publishes that did not answer as expected
		std::string readersOff;         ///< Crowd::summary() of the readers
		WsTestClient::CloseInfo close;  ///< how the stalled client's connection ended
		int prefix = 0;                 ///< events the stalled client got, in order
		std::string disorder;           ///< the first of them out of order
		std::int64_t drainDelayMs = -1; ///< from the drop being seen to the drain starting
		std::int64_t slowBefore = -1;
		std::int64_t slowAfter = -1;
		std::int64_t active = -1; ///< active_connections at the end
		int exitCode = -1;
	};

	static constexpr int READER_WINDOW = 16;

	StalledRun runStalledSubscriber(bool drainAtDrop)
	/// send_queue_frames = 64; STALL_READERS readers and one subscriber with a 4 KiB receive buffer
	/// that stops reading after its subscription is confirmed. Events carrying 16 KiB of extra data
	/// are published until a publish reports the stalled one dropped, then 50 more. The stalled client
	/// is read to its end either right after the drop (drainAtDrop, on a thread of its own) or after
	/// the last publish.
	{
		const std::size_t pad = 16 * 1024;
		const int afterDrop = 50;
		const int maxEvents = 1500;
		StalledRun run;
		TestServer server;
		configure(server, {{"websocket.limits.send_queue_frames", "64"}});
		server.start();
		const int port = server.port("peervault");

		Crowd crowd(port);
		crowd.connect(STALL_READERS, STALL_READERS, 10000);
		crowd.sendFramesToAll({SUBSCRIBE_FILES, PING});
		crowd.pump(10000, [&crowd] {
			for (std::size_t i = 0; i < crowd.size(); ++i)
			{
				if (crowd.peer(i).pongs < 1 && !crowd.peer(i).closed)
					return false;
			}
			return true;
		});
		const std::string off = crowd.summary(0);
		CPPUNIT_ASSERT_MESSAGE("readers: " + off, off.empty());

		WsTestClient stalled = openClient(port, 4096);
		const std::string why = subscribeAndConfirm(stalled);
		CPPUNIT_ASSERT_MESSAGE("the stalled client's subscription: " + why, why.empty());
		run.slowBefore = slowConsumerCloses(server);
		// From here on the stalled client is not read until it has been dropped.

		std::vector<PublishOutcome> outcomes;
		outcomes.reserve(maxEvents);
		std::atomic<int> publishedCount{0};
		std::atomic<bool> published{false};
		std::atomic<bool> dropped{false};
		std::atomic<std::int64_t> dropSeenMicros{0};
		// The fewest events any open reader has received, kept by the pump below: the publisher stays
		// at most READER_WINDOW events ahead of the readers, so on a loaded machine only the stalled
		// client (not read at all) can fall 64 frames behind, never a reader the test is slow to serve.
		std::atomic<int> readersReceived{0};
		int droppedAt = -1;
		const auto t0 = std::chrono::steady_clock::now();
		double dropSeconds = -1;
		std::thread publisher([&] {
			for (int n = 0; n < maxEvents; ++n)
			{
				const Deadline window(10000);
				while (n - readersReceived.load() > READER_WINDOW && !window.expired())
					std::this_thread::sleep_for(std::chrono::microseconds(100));
				outcomes.push_back(publish(port, eventBody(n, pad)));
				publishedCount.store(n + 1);
				const PublishOutcome& o = outcomes.back();
				if (o.status != 202)
					break;
				if (droppedAt < 0 && o.delivered == STALL_READERS)
				{
					droppedAt = n;
					dropSeconds = secondsSince(t0);
					dropSeenMicros.store(Deadline::nowMicros());
					dropped.store(true);
				}
				if (droppedAt >= 0 && n >= droppedAt + afterDrop)
					break;
			}
			published.store(true);
		});
		std::thread drainer;
		if (drainAtDrop)
		{
			drainer = std::thread([&] {
				const Deadline deadline(60000);
				while (!dropped.load() && !published.load() && !deadline.expired())
					std::this_thread::sleep_for(std::chrono::microseconds(200));
				if (dropped.load())
					run.drainDelayMs = (Deadline::nowMicros() - dropSeenMicros.load()) / 1000;
				run.close = stalled.expectClose(10000, false, true);
			});
		}
		crowd.pump(90000, [&] {
			int fewest = publishedCount.load();
			for (std::size_t i = 0; i < crowd.size(); ++i)
			{
				const Peer& p = crowd.peer(i);
				if (!p.closed && p.problem.empty())
					fewest = std::min(fewest, static_cast<int>(p.events));
			}
			readersReceived.store(fewest);
			if (!published.load())
				return false;
			for (std::size_t i = 0; i < crowd.size(); ++i)
			{
				const Peer& p = crowd.peer(i);
				if (p.events < publishedCount.load() && !p.closed && p.problem.empty())
					return false;
			}
			return true;
		});
		publisher.join();
		if (drainAtDrop)
			drainer.join();
		else
			run.close = stalled.expectClose(10000, false, true);
		run.droppedAt = droppedAt;
		run.total = publishedCount.load();
		run.readersOff = crowd.summary(run.total);

		for (int n = 0; n < run.total; ++n)
		{
			const PublishOutcome& o = outcomes[static_cast<std::size_t>(n)];
			const std::int64_t expected = droppedAt >= 0 && n >= droppedAt ? STALL_READERS : STALL_READERS + 1;
			if ((o.status != 202 || o.delivered != expected) && run.sequence.size() < 600)
				run.sequence += "\n  k" + std::to_string(n) + ": status " + std::to_string(o.status) + ", delivered " +
				                std::to_string(o.delivered) + " (expected " + std::to_string(expected) + ") " +
				                o.problem;
		}
		for (const WsTestClient::Frame& f : run.close.skippedFrames)
		{
			if (f.opcode != WsTestClient::OPCODE_TEXT)
				continue;
			Poco::JSON::Object::Ptr json = parseObject(f.payload);
			Poco::JSON::Object::Ptr data = json && json->isObject("data") ? json->getObject("data") : nullptr;
			const std::string key = data && data->has("key") ? data->get("key").toString() : "(none)";
			if (key != "k" + std::to_string(run.prefix) && run.disorder.empty())
				run.disorder = "frame " + std::to_string(run.prefix) + " has data.key " + key;
			++run.prefix;
		}
		run.slowAfter = slowConsumerCloses(server);
		run.active = activeConnections(port);
		std::cout << "\n  slow consumer" << (drainAtDrop ? " (read again at the drop)" : "") << ": dropped at k"
		          << droppedAt << " after " << dropSeconds << " s; " << run.total << " events of " << pad / 1024
		          << " KiB published; the stalled client";
		if (drainAtDrop)
			std::cout << " started reading " << run.drainDelayMs << " ms after the drop was seen and";
		std::cout << " read " << run.prefix << " events, then: " << describeClose(run.close)
		          << "; slow_consumer_closes_total " << run.slowBefore << " -> " << run.slowAfter << std::endl;
		run.exitCode = server.stop();
		return run;
	}

	void floodAndWatch(TestServer& server, WsTestClient& probe, bool controlPings, const std::vector<int>& codes)
	/// One flood of 100,000 pings from a new client that never reads, watched from the test's thread.
	{
		const int port = server.port("peervault");
		const std::string what = controlPings ? "WebSocket Ping flood" : "app-level ping flood";
		const std::int64_t rssBefore = residentBytes(server.pid());
		CPPUNIT_ASSERT_MESSAGE("cannot read the server's VmRSS", rssBefore > 0);

		WsTestClient flooder = openClient(port, 4096);
		flooder.setSendTimeout(3000);
		Flood flood;
		std::thread thread(floodPings, std::ref(flooder), 100000, controlPings, std::ref(flood));

		// Watch until the flood has ended (sent or cut off), at least 2 s and at most 60 s.
		const auto t0 = std::chrono::steady_clock::now();
		std::int64_t rssPeak = rssBefore;
		int probes = 0;
		std::string probeFailure;
		std::string healthFailure;
		double worstProbeMs = 0;
		while ((!flood.done.load() || secondsSince(t0) < 2) && secondsSince(t0) < 60)
		{
			const auto p0 = std::chrono::steady_clock::now();
			const std::string why = pongOrWhy(probe, 2000);
			worstProbeMs = std::max(worstProbeMs, secondsSince(p0) * 1000);
			++probes;
			if (!why.empty() && probeFailure.empty())
				probeFailure = "probe ping " + std::to_string(probes) + " after " + std::to_string(secondsSince(t0)) +
				               " s: " + why;
			const int health = healthStatus(port);
			if (health != 200 && healthFailure.empty())
				healthFailure = "GET /ws/health answered " + std::to_string(health);
			rssPeak = std::max(rssPeak, residentBytes(server.pid()));
			std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
		const bool ended = flood.done.load();
		if (!ended)
			flooder.abort(); // unblocks a send; the thread then ends
		thread.join();

		// The flooder must have been disconnected: now read what it holds up to a close frame or EOF.
		WsTestClient::CloseInfo close = flooder.expectClose(10000, false, true);
		rssPeak = std::max(rssPeak, residentBytes(server.pid()));
		// And the probe still gets its pong afterwards.
		const std::string after = pongOrWhy(probe, 5000);
		std::cout << "\n  " << what << ": " << flood.sent.load() << " sent in " << flood.seconds << " s"
		          << (flood.stoppedBy.empty() ? "" : " (stopped: " + flood.stoppedBy + ")") << "; flooder "
		          << describeClose(close) << "; " << probes << " probe pings, worst " << worstProbeMs << " ms; RSS "
		          << rssBefore / MIB << " -> peak " << rssPeak / MIB << " MiB" << std::endl;

		CPPUNIT_ASSERT_MESSAGE(
		    what + ": the flood did not end within 60 s (" + std::to_string(flood.sent.load()) + " sent)", ended);
		CPPUNIT_ASSERT_MESSAGE(what + ": the flooder was not disconnected: " + describeClose(close),
		                       close.code != WsTestClient::CloseInfo::TIMED_OUT);
		if (close.code != WsTestClient::CloseInfo::NO_CLOSE_FRAME)
			CPPUNIT_ASSERT_MESSAGE(what + ": the flooder's close code: " + describeClose(close),
			                       std::find(codes.begin(), codes.end(), close.code) != codes.end());
		CPPUNIT_ASSERT_MESSAGE(what + ": " + probeFailure, probeFailure.empty());
		CPPUNIT_ASSERT_MESSAGE(what + ": " + healthFailure, healthFailure.empty());
		CPPUNIT_ASSERT_MESSAGE(what + ": the probe after the flood: " + after, after.empty());
		CPPUNIT_ASSERT_EQUAL_MESSAGE(what + ": /ws/health after the flood", 200, healthStatus(port));
		CPPUNIT_ASSERT_MESSAGE(what + ": the server's RSS grew by " + std::to_string((rssPeak - rssBefore) / MIB) +
		                           " MiB (limit 64)",
		                       rssPeak - rssBefore < 64 * MIB);
		CPPUNIT_ASSERT_MESSAGE(what + ": the server exited", server.running());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(PeerVaultFanoutIntegrationTest);
