//
// TestSupportTest.cpp
//
// Self-tests of the integration-test support library against tiny in-process loopback servers
// and fake server programs: HTTP and WebSocket clients, ports, temp dirs, process control.
//


#include "HttpTestClient.h"
#include "PortPicker.h"
#include "TempDir.h"
#include "TestServer.h"
#include "TestSocket.h"
#include "WsTestClient.h"
#include "Poco/Base64Decoder.h"
#include "Poco/Base64Encoder.h"
#include "Poco/SHA1Engine.h"
#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <set>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>


using Switchboard::Test::HttpResponse;
using Switchboard::Test::HttpTestClient;
using Switchboard::Test::PortPicker;
using Switchboard::Test::TempDir;
using Switchboard::Test::TestServer;
using Switchboard::Test::TestSocket;
using Switchboard::Test::WsTestClient;


namespace {


// --- The peer side: a deliberately separate, minimal implementation of what the clients parse.


void require(bool condition, const std::string& message)
{
	if (!condition)
		throw std::runtime_error(message);
}


void writeAll(int fd, const std::string& data)
{
	std::size_t sent = 0;
	while (sent < data.size())
	{
		const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		require(n > 0, "peer: send failed: " + std::string(std::strerror(errno)));
		sent += static_cast<std::size_t>(n);
	}
}


void pause(int ms)
{
	std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}


int64_t elapsedMs(int64_t startMicros)
{
	return (WsTestClient::nowMicros() - startMicros) / 1000;
}


class PeerReader
/// Buffered reads on the peer's accepted socket, each bounded by a timeout.
{
public:
	explicit PeerReader(int fd):
	    _fd(fd)
	{
	}

	// Waits for more bytes; false on EOF, error or timeout.
	bool fill(int timeoutMs)
	{
		pollfd entry{_fd, POLLIN, 0};
		if (::poll(&entry, 1, timeoutMs) <= 0)
			return false;
		char chunk[65536];
		const ssize_t n = ::recv(_fd, chunk, sizeof(chunk), 0);
		if (n <= 0)
			return false;
		_buffer.append(chunk, static_cast<std::size_t>(n));
		return true;
	}

	std::string readUntil(const std::string& delimiter, int timeoutMs = 3000)
	{
		const int64_t start = WsTestClient::nowMicros();
		for (;;)
		{
			const std::size_t found = _buffer.find(delimiter);
			if (found != std::string::npos)
			{
				std::string text = _buffer.substr(0, found + delimiter.size());
				_buffer.erase(0, found + delimiter.size());
				return text;
			}
			const int left = timeoutMs - static_cast<int>(elapsedMs(start));
			require(left > 0 && fill(left), "peer: no '" + delimiter + "' received");
		}
	}

	std::string readExactly(std::size_t count, int timeoutMs = 3000)
	{
		const int64_t start = WsTestClient::nowMicros();
		while (_buffer.size() < count)
		{
			const int left = timeoutMs - static_cast<int>(elapsedMs(start));
			require(left > 0 && fill(left),
			        "peer: got " + std::to_string(_buffer.size()) + " of " + std::to_string(count) + " expected bytes");
		}
		std::string text = _buffer.substr(0, count);
		_buffer.erase(0, count);
		return text;
	}

	// True if the client closed its side within the timeout (bytes that arrive meanwhile are kept).
	bool waitEof(int timeoutMs)
	{
		const int64_t start = WsTestClient::nowMicros();
		for (;;)
		{
			const int left = timeoutMs - static_cast<int>(elapsedMs(start));
			if (left <= 0)
				return false;
			pollfd entry{_fd, POLLIN, 0};
			if (::poll(&entry, 1, left) <= 0)
				return false;
			char chunk[4096];
			const ssize_t n = ::recv(_fd, chunk, sizeof(chunk), 0);
			if (n <= 0)
				return true;
			_buffer.append(chunk, static_cast<std::size_t>(n));
		}
	}

	bool nothingWithin(int ms)
	{
		if (!_buffer.empty())
			return false;
		pollfd entry{_fd, POLLIN, 0};
		return ::poll(&entry, 1, ms) == 0;
	}

	const std::string& buffered() const { return _buffer; }

private:
	int _fd;
	std::string _buffer;
};


struct PeerFrame
{
	int opcode = -1;
	bool fin = false;
	int rsv = 0;
	bool masked = false;
	unsigned char key[4] = {0, 0, 0, 0};
	std::string wirePayload;
	std::string payload;
};


PeerFrame readClientFrame(PeerReader& reader)
{
	PeerFrame frame;
	const std::string head = reader.readExactly(2);
	const auto b0 = static_cast<unsigned char>(head[0]);
	const auto b1 = static_cast<unsigned char>(head[1]);
	frame.fin = (b0 & 0x80) != 0;
	frame.rsv = (b0 >> 4) & 7;
	frame.opcode = b0 & 0x0F;
	frame.masked = (b1 & 0x80) != 0;
	uint64_t length = b1 & 0x7F;
	if (length == 126)
	{
		const std::string ext = reader.readExactly(2);
		length = (uint64_t(static_cast<unsigned char>(ext[0])) << 8) | static_cast<unsigned char>(ext[1]);
	}
	else if (length == 127)
	{
		const std::string ext = reader.readExactly(8);
		length = 0;
		for (char c : ext)
			length = (length << 8) | static_cast<unsigned char>(c);
	}
	if (frame.masked)
	{
		const std::string key = reader.readExactly(4);
		std::memcpy(frame.key, key.data(), 4);
	}
	frame.wirePayload = reader.readExactly(static_cast<std::size_t>(length));
	frame.payload = frame.wirePayload;
	if (frame.masked)
	{
		for (std::size_t i = 0; i < frame.payload.size(); ++i)
			frame.payload[i] = static_cast<char>(frame.payload[i] ^ static_cast<char>(frame.key[i % 4]));
	}
	return frame;
}


// A server frame, unmasked unless a key is given.
std::string serverFrame(int opcode, const std::string& payload, bool fin = true, int rsv = 0,
                        const unsigned char* key = nullptr)
{
	std::string out;
	out += static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode);
	const char maskBit = key != nullptr ? static_cast<char>(0x80) : 0;
	if (payload.size() < 126)
		out += static_cast<char>(maskBit | static_cast<char>(payload.size()));
	else if (payload.size() < 65536)
	{
		out += static_cast<char>(maskBit | 126);
		out += static_cast<char>(payload.size() >> 8);
		out += static_cast<char>(payload.size() & 0xFF);
	}
	else
	{
		out += static_cast<char>(maskBit | 127);
		for (int shift = 56; shift >= 0; shift -= 8)
			out += static_cast<char>((static_cast<uint64_t>(payload.size()) >> shift) & 0xFF);
	}
	if (key == nullptr)
		return out + payload;
	out.append(reinterpret_cast<const char*>(key), 4);
	for (std::size_t i = 0; i < payload.size(); ++i)
		out += static_cast<char>(payload[i] ^ static_cast<char>(key[i % 4]));
	return out;
}


std::string closePayload(int code, const std::string& reason)
{
	std::string payload;
	payload += static_cast<char>(code >> 8);
	payload += static_cast<char>(code & 0xFF);
	return payload + reason;
}


std::string headerOf(const std::string& head, const std::string& name)
{
	std::istringstream lines(head);
	std::string line;
	while (std::getline(lines, line))
	{
		if (!line.empty() && line.back() == '\r')
			line.pop_back();
		const std::size_t colon = line.find(':');
		if (colon != std::string::npos && HttpResponse::equalsIgnoreCase(line.substr(0, colon), name))
		{
			std::size_t start = colon + 1;
			while (start < line.size() && line[start] == ' ')
				++start;
			return line.substr(start);
		}
	}
	return "";
}


std::string acceptFor(const std::string& key)
{
	Poco::SHA1Engine sha1;
	sha1.update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
	const Poco::DigestEngine::Digest& digest = sha1.digest();
	std::ostringstream out;
	Poco::Base64Encoder encoder(out);
	encoder.write(reinterpret_cast<const char*>(digest.data()), static_cast<std::streamsize>(digest.size()));
	encoder.close();
	return out.str();
}


// Reads the client's opening handshake and answers 101, with extra bytes in the same write.
std::string acceptHandshake(int fd, PeerReader& reader, const std::string& after = "")
{
	const std::string request = reader.readUntil("\r\n\r\n");
	const std::string key = headerOf(request, "Sec-WebSocket-Key");
	require(!key.empty(), "peer: no Sec-WebSocket-Key in " + request);
	writeAll(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	             "Sec-WebSocket-Accept: " +
	                 acceptFor(key) + "\r\n\r\n" + after);
	return request;
}


class LoopbackServer
/// Listens on 127.0.0.1:0 and runs handler on `connections` accepted sockets in one thread.
/// Exceptions from the handler are collected; errors() joins first. Every wait is bounded.
{
public:
	using Handler = std::function<void(int fd, int index)>;

	explicit LoopbackServer(Handler handler, int connections = 1)
	{
		_listenFd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sockaddr_in address;
		std::memset(&address, 0, sizeof(address));
		address.sin_family = AF_INET;
		address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (_listenFd < 0 || ::bind(_listenFd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
		    ::listen(_listenFd, 16) != 0)
			throw std::runtime_error("LoopbackServer: cannot listen");
		socklen_t length = sizeof(address);
		::getsockname(_listenFd, reinterpret_cast<sockaddr*>(&address), &length);
		_port = ntohs(address.sin_port);
		_thread = std::thread([this, handler, connections] { run(handler, connections); });
	}

	~LoopbackServer()
	{
		join();
		::close(_listenFd);
	}

	int port() const { return _port; }

	void join()
	{
		if (_thread.joinable())
			_thread.join();
	}

	std::string errors()
	{
		join();
		std::string all;
		for (const std::string& error : _errors)
			all += error + "\n";
		return all;
	}

	std::vector<std::string> peerAddresses()
	{
		join();
		return _peerAddresses;
	}

private:
	void run(const Handler& handler, int connections)
	{
		for (int index = 0; index < connections; ++index)
		{
			pollfd entry{_listenFd, POLLIN, 0};
			if (::poll(&entry, 1, 5000) <= 0)
			{
				_errors.push_back("peer: no connection #" + std::to_string(index) + " within 5 s");
				return;
			}
			sockaddr_in peer;
			socklen_t length = sizeof(peer);
			const int fd = ::accept4(_listenFd, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_CLOEXEC);
			if (fd < 0)
			{
				_errors.push_back("peer: accept failed");
				return;
			}
			char text[INET_ADDRSTRLEN] = {0};
			::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof(text));
			_peerAddresses.push_back(text);
			const int one = 1;
			::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			try
			{
				handler(fd, index);
			}
			catch (const std::exception& e)
			{
				_errors.push_back(e.what());
			}
			::close(fd);
		}
	}

	int _listenFd = -1;
	int _port = 0;
	std::thread _thread;
	std::vector<std::string> _errors;
	std::vector<std::string> _peerAddresses;
};


class EnvironmentGuard
/// Sets or clears an environment variable for one test and restores it afterwards.
{
public:
	EnvironmentGuard(const char* name, const char* value):
	    _name(name)
	{
		const char* old = std::getenv(name);
		_had = old != nullptr;
		if (_had)
			_old = old;
		if (value != nullptr)
			::setenv(name, value, 1);
		else
			::unsetenv(name);
	}

	~EnvironmentGuard()
	{
		if (_had)
			::setenv(_name.c_str(), _old.c_str(), 1);
		else
			::unsetenv(_name.c_str());
	}

private:
	std::string _name;
	bool _had = false;
	std::string _old;
};


// A stand-in for the switchboard binary: reads --config, serves GET /readyz on the admin port
// and exits 0 about 200 ms after SIGTERM (5 on a second SIGTERM). [fake] mode selects misbehaviour. perl-base is
// Essential in Debian, so the interpreter and IO::Socket::INET are always present.
const char* FAKE_SERVER = R"PERL(#!/usr/bin/perl
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
$| = 1;
my ($config) = map { /^--config=(.*)$/ ? $1 : () } @ARGV;
die "fake: no --config\n" unless defined $config;
print STDERR "fake: args @ARGV\n";
open(my $fh, '<', $config) or die "fake: cannot read $config: $!\n";
my $section = '';
my %ini;
while (my $line = <$fh>) {
	if ($line =~ /^\s*\[([^\]]+)\]/) { $section = $1; next; }
	if ($line =~ /^\s*([^=;#\s]+)\s*=\s*(.*?)\s*$/) { $ini{"$section.$1"} = $2; }
}
close $fh;
my $mode = $ini{'fake.mode'} // 'normal';
my $dir = $ini{'fake.dir'} // '.';
print STDERR "fake: mode $mode admin $ini{'admin.port'} main $ini{'listener.main.port'}\n";
if ($mode eq 'exit') { print STDERR "fake: giving up\n"; exit 3; }
if ($mode eq 'inuse_once' && ! -e "$dir/inuse-done") {
	open(my $marker, '>', "$dir/inuse-done") or die;
	close $marker;
	print STDERR "fake: bind 127.0.0.1:$ini{'listener.main.port'}: Address already in use\n";
	exit 1;
}
my $terms = 0;
if ($mode eq 'ignore_term') { $SIG{TERM} = 'IGNORE'; }
else { $SIG{TERM} = sub { $terms++; }; }
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ini{'admin.port'},
	Listen => 16, ReuseAddr => 1) or die "fake: admin listen: $!\n";
my $select = IO::Select->new($server);
my $requests = 0;
my $notReady = $ini{'fake.not_ready_requests'} // 0;
my $graceTicks = 0;
while (1) {
	# A graceful shutdown that takes 4 ticks of 50 ms; a second SIGTERM meanwhile aborts it.
	if ($terms > 1) { print STDERR "fake: second TERM\n"; exit 5; }
	if ($terms == 1) {
		print STDERR "fake: got TERM\n" if $graceTicks == 0;
		exit 0 if ++$graceTicks > 4;
	}
	next unless $select->can_read(0.05);
	my $client = $server->accept() or next;
	my $request = '';
	while (my $l = <$client>) { $request .= $l; last if $l eq "\r\n"; }
	$requests++;
	my $ok = $mode ne 'never_ready' && $requests > $notReady;
	my $body = $ok ? "ready\n" : "starting\n";
	print $client ($ok ? "HTTP/1.1 200 OK" : "HTTP/1.1 503 Service Unavailable"),
		"\r\nContent-Length: ", length($body), "\r\nConnection: close\r\n\r\n", $body;
	close $client;
	print STDERR "fake: readyz #$requests\n";
}
)PERL";


bool contains(const std::string& text, const std::string& part)
{
	return text.find(part) != std::string::npos;
}


bool startsWith(const std::string& text, const std::string& prefix)
{
	return text.compare(0, prefix.size(), prefix) == 0;
}


} // namespace


class TestSupportTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TestSupportTest);
	CPPUNIT_TEST(testPortPickerGivesDistinctFreePorts);
	CPPUNIT_TEST(testTempDirWritesAndRemoves);
	CPPUNIT_TEST(testTempDirKeepAndPathChecks);
	CPPUNIT_TEST(testLoopbackOnly);
	CPPUNIT_TEST(testHttpFixedResponse);
	CPPUNIT_TEST(testHttpChunkedResponse);
	CPPUNIT_TEST(testHttpHeadIgnoresContentLength);
	CPPUNIT_TEST(testHttpBodyUntilEofAndInterim);
	CPPUNIT_TEST(testHttpFailures);
	CPPUNIT_TEST(testHttpRawRequests);
	CPPUNIT_TEST(testEncodeFrameMatchesRfcExamples);
	CPPUNIT_TEST(testAcceptKeyMatchesRfcExample);
	CPPUNIT_TEST(testWsHandshakeRequest);
	CPPUNIT_TEST(testWsRejectsBadHandshakeResponse);
	CPPUNIT_TEST(testWsNon101Response);
	CPPUNIT_TEST(testWsKeepsBytesAfter101);
	CPPUNIT_TEST(testWsClientFramesAreMasked);
	CPPUNIT_TEST(testWsCraftedFrames);
	CPPUNIT_TEST(testWsReceiveReportsServerFrames);
	CPPUNIT_TEST(testWsFragmentedMessage);
	CPPUNIT_TEST(testWsPingNotAnsweredByDefault);
	CPPUNIT_TEST(testWsAutoPong);
	CPPUNIT_TEST(testWsCloseWithCode);
	CPPUNIT_TEST(testWsCloseEmptyAndWithoutFrame);
	CPPUNIT_TEST(testWsMalformedServerFrames);
	CPPUNIT_TEST(testWsTimeouts);
	CPPUNIT_TEST(testWsBindAddressAndReceiveBuffer);
	CPPUNIT_TEST(testRunOnceCapturesOutput);
	CPPUNIT_TEST(testRunOnceTimeout);
	CPPUNIT_TEST(testRunOnceMissingBinary);
	CPPUNIT_TEST(testServerConfig);
	CPPUNIT_TEST(testServerRunWithConfig);
	CPPUNIT_TEST(testServerStartStopRestart);
	CPPUNIT_TEST(testServerStartFailsWhenProcessExits);
	CPPUNIT_TEST(testServerStartTimesOut);
	CPPUNIT_TEST(testServerRetriesOnAddressInUse);
	CPPUNIT_TEST(testServerStopEscalatesToSigkill);
	CPPUNIT_TEST_SUITE_END();

public:
	// --- PortPicker, TempDir

	void testPortPickerGivesDistinctFreePorts()
	{
		// Checked right after each pick: another process may take a port once it is released.
		std::set<int> distinct;
		for (int i = 0; i < 40; ++i)
		{
			const int port = PortPicker::pick();
			CPPUNIT_ASSERT(port > 0 && port <= 65535);
			CPPUNIT_ASSERT(PortPicker::isFree(port));
			distinct.insert(port);
		}
		CPPUNIT_ASSERT_EQUAL(std::size_t(40), distinct.size());
		const std::vector<int> more = PortPicker::pick(10);
		for (int port : more)
			CPPUNIT_ASSERT(distinct.insert(port).second);

		LoopbackServer listening([](int, int) {}, 0);
		CPPUNIT_ASSERT(!PortPicker::isFree(listening.port()));
	}

	void testTempDirWritesAndRemoves()
	{
		EnvironmentGuard env("SWITCHBOARD_KEEP_TEST_DIRS", nullptr);
		TempDir outside("sbtest-outside");
		const std::string target = outside.writeFile("target.txt", "keep me");
		std::string path;
		{
			TempDir dir("sbtest");
			path = dir.path();
			CPPUNIT_ASSERT(startsWith(path, "/tmp/sbtest-"));
			struct stat info;
			CPPUNIT_ASSERT(::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode));
			CPPUNIT_ASSERT_EQUAL(0700u, static_cast<unsigned>(info.st_mode & 0777));

			const std::string written = dir.writeFile("a/b/c.txt", "hello");
			CPPUNIT_ASSERT_EQUAL(path + "/a/b/c.txt", written);
			CPPUNIT_ASSERT_EQUAL(std::string("hello"), dir.readFile("a/b/c.txt"));
			dir.writeFile("a/b/c.txt", "hi");
			CPPUNIT_ASSERT_EQUAL(std::string("hi"), dir.readFile("a/b/c.txt"));
			CPPUNIT_ASSERT(dir.exists("a/b"));
			CPPUNIT_ASSERT(!dir.exists("a/x"));
			dir.makeDirectory("x/y/z");
			CPPUNIT_ASSERT(dir.exists("x/y/z"));
			const std::string script = dir.writeFile("run.sh", "#!/bin/sh\n", 0755);
			CPPUNIT_ASSERT(::access(script.c_str(), X_OK) == 0);
			// A link to a file outside must be removed, not followed.
			CPPUNIT_ASSERT(::symlink(target.c_str(), dir.filePath("x/link").c_str()) == 0);
			CPPUNIT_ASSERT_THROW(dir.readFile("missing.txt"), std::runtime_error);
		}
		struct stat info;
		CPPUNIT_ASSERT(::lstat(path.c_str(), &info) != 0);
		CPPUNIT_ASSERT_EQUAL(std::string("keep me"), outside.readFile("target.txt"));
	}

	void testTempDirKeepAndPathChecks()
	{
		std::string path;
		{
			EnvironmentGuard env("SWITCHBOARD_KEEP_TEST_DIRS", "1");
			CPPUNIT_ASSERT(TempDir::keepRequested());
			TempDir dir("sbtest-keep");
			path = dir.path();
			dir.writeFile("data.txt", "x");
		}
		struct stat info;
		CPPUNIT_ASSERT(::stat((path + "/data.txt").c_str(), &info) == 0);
		CPPUNIT_ASSERT(TempDir::removeRecursively(path));
		CPPUNIT_ASSERT(::lstat(path.c_str(), &info) != 0);
		{
			EnvironmentGuard env("SWITCHBOARD_KEEP_TEST_DIRS", "0");
			CPPUNIT_ASSERT(!TempDir::keepRequested());
		}

		TempDir dir("sbtest-paths");
		CPPUNIT_ASSERT_THROW(dir.writeFile("../escape.txt", "x"), std::invalid_argument);
		CPPUNIT_ASSERT_THROW(dir.writeFile("a/../../escape.txt", "x"), std::invalid_argument);
		CPPUNIT_ASSERT_THROW(dir.writeFile("/tmp/absolute.txt", "x"), std::invalid_argument);
		CPPUNIT_ASSERT_THROW(dir.readFile(""), std::invalid_argument);
		CPPUNIT_ASSERT_THROW(TempDir("bad/prefix"), std::invalid_argument);
		dir.writeFile("..hidden/ok..txt", "dots in names are fine");
		CPPUNIT_ASSERT(dir.exists("..hidden/ok..txt"));
	}

	void testLoopbackOnly()
	{
		CPPUNIT_ASSERT(TestSocket::isLoopback("127.0.0.1"));
		CPPUNIT_ASSERT(TestSocket::isLoopback("127.3.2.1"));
		CPPUNIT_ASSERT(TestSocket::isLoopback("localhost"));
		CPPUNIT_ASSERT(TestSocket::isLoopback("::1"));
		CPPUNIT_ASSERT(TestSocket::isLoopback("[::1]"));
		CPPUNIT_ASSERT(!TestSocket::isLoopback("192.0.2.1"));
		CPPUNIT_ASSERT(!TestSocket::isLoopback("10.0.0.1"));
		CPPUNIT_ASSERT(!TestSocket::isLoopback("example.com"));
		// Refused before any socket exists: no packet leaves the machine.
		CPPUNIT_ASSERT_THROW(HttpTestClient::get("192.0.2.1", 80, "/"), std::invalid_argument);
		CPPUNIT_ASSERT_THROW(HttpTestClient::get("example.com", 80, "/"), std::invalid_argument);
		WsTestClient client;
		CPPUNIT_ASSERT_THROW(client.connect("192.0.2.1", 80, "/"), std::invalid_argument);
		CPPUNIT_ASSERT_THROW(client.setBindAddress("192.0.2.1"), std::invalid_argument);
		CPPUNIT_ASSERT_THROW(HttpTestClient::get("127.0.0.1", 0, "/"), std::invalid_argument);
	}

	// --- HttpTestClient

	void testHttpFixedResponse()
	{
		std::string request;
		bool closedByClient = false;
		LoopbackServer peer([&](int fd, int) {
			PeerReader reader(fd);
			request = reader.readUntil("\r\n\r\n");
			request += reader.readExactly(4);
			// Answer, then keep the connection open: the client must stop at Content-Length.
			writeAll(fd, "HTTP/1.1 201 Created\r\nX-First: 1\r\nSet-Cookie: a=1\r\nset-cookie:   b=2  \r\n"
			             "Content-Length: 5\r\n\r\nhello");
			closedByClient = reader.waitEof(3000);
		});
		const int64_t start = WsTestClient::nowMicros();
		const HttpResponse response =
		    HttpTestClient::request("127.0.0.1", peer.port(), "POST", "/path?q=1", {{"X-Test", "yes"}}, "data", 3000);
		CPPUNIT_ASSERT(elapsedMs(start) < 2000);
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());

		CPPUNIT_ASSERT_EQUAL(201, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string("Created"), response.reason);
		CPPUNIT_ASSERT_EQUAL(std::string("HTTP/1.1"), response.version);
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), response.headers.size());
		CPPUNIT_ASSERT_EQUAL(std::string("X-First"), response.headers[0].first);
		CPPUNIT_ASSERT_EQUAL(std::string("set-cookie"), response.headers[2].first);
		CPPUNIT_ASSERT_EQUAL(std::string("b=2"), response.headers[2].second);
		CPPUNIT_ASSERT_EQUAL(std::string("5"), response.header("content-LENGTH"));
		CPPUNIT_ASSERT_EQUAL(2, response.headerCount("SET-COOKIE"));
		CPPUNIT_ASSERT_EQUAL(0, response.headerCount("X-Missing"));
		CPPUNIT_ASSERT_EQUAL(std::string("none"), response.header("X-Missing", "none"));
		CPPUNIT_ASSERT_EQUAL(std::string("hello"), response.body);
		CPPUNIT_ASSERT(contains(response.rawHead, "X-First: 1\r\n"));

		CPPUNIT_ASSERT(startsWith(request, "POST /path?q=1 HTTP/1.1\r\n"));
		CPPUNIT_ASSERT(contains(request, "\r\nHost: 127.0.0.1:" + std::to_string(peer.port()) + "\r\n"));
		CPPUNIT_ASSERT(contains(request, "\r\nX-Test: yes\r\n"));
		CPPUNIT_ASSERT(contains(request, "\r\nConnection: close\r\n"));
		CPPUNIT_ASSERT(contains(request, "\r\nContent-Length: 4\r\n\r\ndata"));
		CPPUNIT_ASSERT(closedByClient);
	}

	void testHttpChunkedResponse()
	{
		LoopbackServer peer([](int fd, int) {
			PeerReader reader(fd);
			reader.readUntil("\r\n\r\n");
			writeAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWi");
			pause(20);
			writeAll(fd, "ki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchu");
			pause(20);
			writeAll(fd, "nks.\r\n0\r\nX-Trailer: t\r\n\r\n");
			reader.waitEof(3000);
		});
		const HttpResponse response = HttpTestClient::get("127.0.0.1", peer.port(), "/chunked", {}, 3000);
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT_EQUAL(200, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string("Wikipedia in\r\n\r\nchunks."), response.body);

		LoopbackServer badPeer([](int fd, int) {
			PeerReader reader(fd);
			reader.readUntil("\r\n\r\n");
			writeAll(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
			reader.waitEof(3000);
		});
		CPPUNIT_ASSERT_THROW(HttpTestClient::get("127.0.0.1", badPeer.port(), "/", {}, 3000), std::runtime_error);
	}

	void testHttpHeadIgnoresContentLength()
	{
		std::string request;
		LoopbackServer peer([&](int fd, int) {
			PeerReader reader(fd);
			request = reader.readUntil("\r\n\r\n");
			writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
			reader.waitEof(3000);
		});
		const int64_t start = WsTestClient::nowMicros();
		const HttpResponse response = HttpTestClient::request("127.0.0.1", peer.port(), "HEAD", "/file", {}, "", 3000);
		CPPUNIT_ASSERT(elapsedMs(start) < 1000);
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT_EQUAL(200, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string("1000"), response.header("Content-Length"));
		CPPUNIT_ASSERT(response.body.empty());
		CPPUNIT_ASSERT(startsWith(request, "HEAD /file HTTP/1.1\r\n"));
		CPPUNIT_ASSERT(!contains(request, "Content-Length"));
	}

	void testHttpBodyUntilEofAndInterim()
	{
		LoopbackServer peer([](int fd, int) {
			PeerReader reader(fd);
			reader.readUntil("\r\n\r\n");
			writeAll(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nServer: x\r\n\r\nfirst part, ");
			pause(20);
			writeAll(fd, "second part");
		});
		const HttpResponse response = HttpTestClient::get("127.0.0.1", peer.port(), "/", {}, 3000);
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT_EQUAL(200, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string("HTTP/1.0"), response.version);
		CPPUNIT_ASSERT_EQUAL(std::string("x"), response.header("Server"));
		CPPUNIT_ASSERT_EQUAL(std::string("first part, second part"), response.body);

		LoopbackServer noContent([](int fd, int) {
			PeerReader reader(fd);
			reader.readUntil("\r\n\r\n");
			writeAll(fd, "HTTP/1.1 204 No Content\r\n\r\n");
			reader.waitEof(3000);
		});
		const int64_t start = WsTestClient::nowMicros();
		const HttpResponse empty = HttpTestClient::get("127.0.0.1", noContent.port(), "/", {}, 3000);
		CPPUNIT_ASSERT(elapsedMs(start) < 1000);
		CPPUNIT_ASSERT_EQUAL(204, empty.status);
		CPPUNIT_ASSERT(empty.body.empty());
	}

	void testHttpFailures()
	{
		// A server that never answers: the call fails within its bound.
		LoopbackServer silent([](int fd, int) {
			PeerReader reader(fd);
			reader.readUntil("\r\n\r\n");
			reader.waitEof(3000);
		});
		int64_t start = WsTestClient::nowMicros();
		try
		{
			HttpTestClient::get("127.0.0.1", silent.port(), "/slow", {}, 300);
			CPPUNIT_FAIL("a silent server must time out");
		}
		catch (const std::runtime_error& e)
		{
			CPPUNIT_ASSERT(contains(e.what(), "timed out"));
			CPPUNIT_ASSERT(contains(e.what(), "/slow"));
		}
		CPPUNIT_ASSERT(elapsedMs(start) >= 250);
		CPPUNIT_ASSERT(elapsedMs(start) < 2000);

		// Nothing listening.
		const int closedPort = PortPicker::pick();
		start = WsTestClient::nowMicros();
		CPPUNIT_ASSERT_THROW(HttpTestClient::get("127.0.0.1", closedPort, "/", {}, 2000), std::runtime_error);
		CPPUNIT_ASSERT(elapsedMs(start) < 1000);

		// Body cut short by the server.
		LoopbackServer truncated([](int fd, int) {
			PeerReader reader(fd);
			reader.readUntil("\r\n\r\n");
			writeAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
		});
		try
		{
			HttpTestClient::get("127.0.0.1", truncated.port(), "/", {}, 3000);
			CPPUNIT_FAIL("a truncated body must fail");
		}
		catch (const std::runtime_error& e)
		{
			CPPUNIT_ASSERT(contains(e.what(), "3 of 10"));
		}

		// Not HTTP at all.
		LoopbackServer garbage([](int fd, int) {
			PeerReader reader(fd);
			reader.readUntil("\r\n\r\n");
			writeAll(fd, "SSH-2.0-OpenSSH\r\n\r\n");
		});
		CPPUNIT_ASSERT_THROW(HttpTestClient::get("127.0.0.1", garbage.port(), "/", {}, 3000), std::runtime_error);
	}

	void testHttpRawRequests()
	{
		std::string received;
		LoopbackServer peer(
		    [&](int fd, int index) {
			    PeerReader reader(fd);
			    received += reader.readUntil("\r\n\r\n");
			    writeAll(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad");
			    if (index == 1)
				    writeAll(fd, "trailing");
		    },
		    2);
		const HttpResponse response = HttpTestClient::requestRaw("127.0.0.1", peer.port(), "GARBAGE\r\n\r\n", 3000);
		CPPUNIT_ASSERT_EQUAL(400, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string("bad"), response.body);
		const std::string raw = HttpTestClient::exchangeRaw("127.0.0.1", peer.port(), "GET / HTTP/1.0\r\n\r\n", 3000);
		CPPUNIT_ASSERT_EQUAL(
		    std::string("HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbadtrailing"), raw);
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT_EQUAL(std::string("GARBAGE\r\n\r\nGET / HTTP/1.0\r\n\r\n"), received);
	}

	// --- WsTestClient

	void testEncodeFrameMatchesRfcExamples()
	{
		// RFC 6455 section 5.7.
		const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
		CPPUNIT_ASSERT_EQUAL(std::string("\x81\x05Hello", 7),
		                     WsTestClient::encodeFrame(WsTestClient::OPCODE_TEXT, "Hello", true, false, 0, key));
		CPPUNIT_ASSERT_EQUAL(std::string("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11),
		                     WsTestClient::encodeFrame(WsTestClient::OPCODE_TEXT, "Hello", true, true, 0, key));
		CPPUNIT_ASSERT_EQUAL(std::string("\x01\x03Hel", 5),
		                     WsTestClient::encodeFrame(WsTestClient::OPCODE_TEXT, "Hel", false, false, 0, key));
		CPPUNIT_ASSERT_EQUAL(std::string("\x8a\x05Hello", 7),
		                     WsTestClient::encodeFrame(WsTestClient::OPCODE_PONG, "Hello", true, false, 0, key));
		const std::string big =
		    WsTestClient::encodeFrame(WsTestClient::OPCODE_BINARY, std::string(256, 'x'), true, false, 0, key);
		CPPUNIT_ASSERT_EQUAL(std::string("\x82\x7e\x01\x00", 4), big.substr(0, 4));
		CPPUNIT_ASSERT_EQUAL(std::size_t(4 + 256), big.size());
		const std::string huge =
		    WsTestClient::encodeFrame(WsTestClient::OPCODE_BINARY, std::string(65536, 'x'), true, false, 0, key);
		CPPUNIT_ASSERT_EQUAL(std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10), huge.substr(0, 10));
		CPPUNIT_ASSERT_EQUAL(std::string("\xc1\x00", 2),
		                     WsTestClient::encodeFrame(WsTestClient::OPCODE_TEXT, "", true, false, 4, key));
	}

	void testAcceptKeyMatchesRfcExample()
	{
		CPPUNIT_ASSERT_EQUAL(std::string("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
		                     WsTestClient::computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="));
	}

	void testWsHandshakeRequest()
	{
		std::vector<std::string> requests;
		LoopbackServer peer(
		    [&](int fd, int) {
			    PeerReader reader(fd);
			    const std::string request = reader.readUntil("\r\n\r\n");
			    requests.push_back(request);
			    writeAll(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, "
			                 "Upgrade\r\nSec-WebSocket-Accept: " +
			                     acceptFor(headerOf(request, "Sec-WebSocket-Key")) + "\r\nX-Extra: 1\r\n\r\n");
			    reader.waitEof(3000);
		    },
		    2);
		WsTestClient first;
		const HttpResponse response =
		    first.connect("127.0.0.1", peer.port(), "/echo?x=1", {{"Origin", "http://localhost"}}, 3000);
		CPPUNIT_ASSERT_EQUAL(101, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string("1"), response.header("x-extra"));
		CPPUNIT_ASSERT(first.isOpen());
		const std::string firstKey = first.key();
		first.close();
		CPPUNIT_ASSERT(!first.isOpen());

		WsTestClient second;
		second.connect("127.0.0.1", peer.port(), "/", {{"sec-websocket-version", "8"}}, 3000);
		second.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), requests.size());

		const std::string& request = requests[0];
		CPPUNIT_ASSERT(startsWith(request, "GET /echo?x=1 HTTP/1.1\r\n"));
		CPPUNIT_ASSERT_EQUAL("127.0.0.1:" + std::to_string(peer.port()), headerOf(request, "Host"));
		CPPUNIT_ASSERT_EQUAL(std::string("websocket"), headerOf(request, "Upgrade"));
		CPPUNIT_ASSERT_EQUAL(std::string("Upgrade"), headerOf(request, "Connection"));
		CPPUNIT_ASSERT_EQUAL(std::string("13"), headerOf(request, "Sec-WebSocket-Version"));
		CPPUNIT_ASSERT_EQUAL(std::string("http://localhost"), headerOf(request, "Origin"));
		const std::string key = headerOf(request, "Sec-WebSocket-Key");
		CPPUNIT_ASSERT_EQUAL(firstKey, key);
		std::istringstream encoded(key);
		Poco::Base64Decoder decoder(encoded);
		std::string nonce((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
		CPPUNIT_ASSERT_EQUAL(std::size_t(16), nonce.size());
		CPPUNIT_ASSERT_EQUAL(std::size_t(24), key.size());

		// A replaced default header is sent once, with the new value; keys differ per connection.
		CPPUNIT_ASSERT_EQUAL(std::string("8"), headerOf(requests[1], "Sec-WebSocket-Version"));
		CPPUNIT_ASSERT(requests[1].find("ersion:") == requests[1].rfind("ersion:"));
		CPPUNIT_ASSERT(headerOf(requests[1], "Sec-WebSocket-Key") != key);
	}

	void testWsRejectsBadHandshakeResponse()
	{
		LoopbackServer peer(
		    [](int fd, int index) {
			    PeerReader reader(fd);
			    const std::string request = reader.readUntil("\r\n\r\n");
			    const std::string accept = acceptFor(headerOf(request, "Sec-WebSocket-Key"));
			    if (index == 0)
				    writeAll(fd, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				                 "Sec-WebSocket-Accept: " +
				                     acceptFor("dGhlIHNhbXBsZSBub25jZQ==") + "\r\n\r\n");
			    else if (index == 1)
				    writeAll(fd, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
				                     accept + "\r\n\r\n");
			    else
				    writeAll(fd,
				             "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
			    reader.waitEof(3000);
		    },
		    3);
		for (int i = 0; i < 3; ++i)
		{
			WsTestClient client;
			try
			{
				client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
				CPPUNIT_FAIL("a bad 101 must be refused");
			}
			catch (const std::runtime_error& e)
			{
				const std::string message = e.what();
				CPPUNIT_ASSERT(contains(message, i == 1 ? "Upgrade" : "Sec-WebSocket-Accept"));
			}
			CPPUNIT_ASSERT(!client.isOpen());
			CPPUNIT_ASSERT_THROW(client.sendText("x"), std::logic_error);
		}
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
	}

	void testWsNon101Response()
	{
		LoopbackServer peer([](int fd, int) {
			PeerReader reader(fd);
			reader.readUntil("\r\n\r\n");
			writeAll(fd, "HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nban");
			pause(20);
			writeAll(fd, "ned");
			reader.waitEof(3000);
		});
		WsTestClient client;
		const HttpResponse response = client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		CPPUNIT_ASSERT_EQUAL(403, response.status);
		CPPUNIT_ASSERT_EQUAL(std::string("banned"), response.body);
		CPPUNIT_ASSERT(!client.isOpen());
		CPPUNIT_ASSERT_THROW(client.sendText("x"), std::logic_error);
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
	}

	void testWsKeepsBytesAfter101()
	{
		LoopbackServer peer([](int fd, int) {
			PeerReader reader(fd);
			acceptHandshake(fd, reader,
			                serverFrame(WsTestClient::OPCODE_TEXT, "early") +
			                    serverFrame(WsTestClient::OPCODE_PING, "p") +
			                    serverFrame(WsTestClient::OPCODE_BINARY, std::string(1000, 'b')));
			reader.waitEof(3000);
		});
		WsTestClient client;
		CPPUNIT_ASSERT_EQUAL(101, client.connect("127.0.0.1", peer.port(), "/", {}, 3000).status);
		// One write on loopback arrives in one read: the frames came with the head and were kept.
		CPPUNIT_ASSERT(client.bufferedBytes() > 0);
		WsTestClient::Frame frame = client.receive(1000);
		CPPUNIT_ASSERT(frame.ok());
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_TEXT), frame.opcode);
		CPPUNIT_ASSERT_EQUAL(std::string("early"), frame.payload);
		frame = client.receive(1000);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_PING), frame.opcode);
		CPPUNIT_ASSERT_EQUAL(std::string("p"), frame.payload);
		frame = client.receive(1000);
		CPPUNIT_ASSERT_EQUAL(std::string(1000, 'b'), frame.payload);
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
	}

	void testWsClientFramesAreMasked()
	{
		std::vector<PeerFrame> frames;
		LoopbackServer peer([&](int fd, int) {
			PeerReader reader(fd);
			acceptHandshake(fd, reader);
			for (int i = 0; i < 5; ++i)
			{
				frames.push_back(readClientFrame(reader));
				const PeerFrame& frame = frames.back();
				if (frame.opcode == WsTestClient::OPCODE_CLOSE)
				{
					writeAll(fd, serverFrame(WsTestClient::OPCODE_CLOSE, frame.payload));
					::shutdown(fd, SHUT_WR);
				}
				else
					writeAll(fd, serverFrame(frame.opcode, frame.payload));
			}
			reader.waitEof(3000);
		});
		WsTestClient client;
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		std::string medium(300, '\0');
		for (std::size_t i = 0; i < medium.size(); ++i)
			medium[i] = static_cast<char>(i);
		std::string large(70000, '\0');
		for (std::size_t i = 0; i < large.size(); ++i)
			large[i] = static_cast<char>(i * 7);
		client.sendText("hello");
		client.sendBinary(medium);
		client.sendBinary(large);
		client.sendPing("pp");
		client.sendClose(1000, "bye");
		CPPUNIT_ASSERT(client.closeSent());

		const std::vector<std::pair<int, std::string>> expected = {{WsTestClient::OPCODE_TEXT, "hello"},
		                                                           {WsTestClient::OPCODE_BINARY, medium},
		                                                           {WsTestClient::OPCODE_BINARY, large},
		                                                           {WsTestClient::OPCODE_PING, "pp"}};
		for (const auto& entry : expected)
		{
			const WsTestClient::Frame echo = client.receive(2000);
			CPPUNIT_ASSERT(echo.ok());
			CPPUNIT_ASSERT_EQUAL(entry.first, echo.opcode);
			CPPUNIT_ASSERT(echo.payload == entry.second);
			CPPUNIT_ASSERT(echo.fin);
			CPPUNIT_ASSERT(!echo.masked);
		}
		const WsTestClient::CloseInfo close = client.expectClose(2000);
		CPPUNIT_ASSERT_EQUAL(1000, close.code);
		CPPUNIT_ASSERT_EQUAL(std::string("bye"), close.reason);
		CPPUNIT_ASSERT(close.eof);
		CPPUNIT_ASSERT(close.skippedFrames.empty());
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());

		CPPUNIT_ASSERT_EQUAL(std::size_t(5), frames.size());
		std::set<std::string> keys;
		for (const PeerFrame& frame : frames)
		{
			CPPUNIT_ASSERT(frame.masked);
			CPPUNIT_ASSERT(frame.fin);
			CPPUNIT_ASSERT_EQUAL(0, frame.rsv);
			keys.insert(std::string(reinterpret_cast<const char*>(frame.key), 4));
		}
		CPPUNIT_ASSERT(keys.size() >= 4); // fresh random keys (a repeat is a 1 in 2^32 event)
		CPPUNIT_ASSERT(frames[2].wirePayload != large);
		CPPUNIT_ASSERT_EQUAL(std::string("\x03\xe8"
		                                 "bye",
		                                 5),
		                     frames[4].payload);
	}

	void testWsCraftedFrames()
	{
		std::vector<PeerFrame> frames;
		std::string raw;
		LoopbackServer peer([&](int fd, int) {
			PeerReader reader(fd);
			acceptHandshake(fd, reader);
			for (int i = 0; i < 5; ++i)
				frames.push_back(readClientFrame(reader));
			raw = reader.readExactly(8);
			reader.waitEof(3000);
		});
		WsTestClient client;
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		client.sendFrame(WsTestClient::OPCODE_TEXT, "abc", false, false, 5);
		client.sendFrame(0xB, "reserved");
		client.sendFragmented(WsTestClient::OPCODE_BINARY, "0123456789", 4);
		client.sendRaw("RAWBYTES");
		CPPUNIT_ASSERT_THROW(client.sendFrame(16, ""), std::invalid_argument);
		CPPUNIT_ASSERT_THROW(client.sendFrame(1, "", true, true, 8), std::invalid_argument);
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());

		CPPUNIT_ASSERT_EQUAL(std::size_t(5), frames.size());
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_TEXT), frames[0].opcode);
		CPPUNIT_ASSERT(!frames[0].fin);
		CPPUNIT_ASSERT(!frames[0].masked);
		CPPUNIT_ASSERT_EQUAL(5, frames[0].rsv);
		CPPUNIT_ASSERT_EQUAL(std::string("abc"), frames[0].wirePayload);
		CPPUNIT_ASSERT_EQUAL(0xB, frames[1].opcode);
		CPPUNIT_ASSERT(frames[1].masked);
		CPPUNIT_ASSERT_EQUAL(std::string("reserved"), frames[1].payload);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_BINARY), frames[2].opcode);
		CPPUNIT_ASSERT(!frames[2].fin);
		CPPUNIT_ASSERT_EQUAL(std::string("0123"), frames[2].payload);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_CONTINUATION), frames[3].opcode);
		CPPUNIT_ASSERT(!frames[3].fin);
		CPPUNIT_ASSERT_EQUAL(std::string("4567"), frames[3].payload);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_CONTINUATION), frames[4].opcode);
		CPPUNIT_ASSERT(frames[4].fin);
		CPPUNIT_ASSERT_EQUAL(std::string("89"), frames[4].payload);
		CPPUNIT_ASSERT_EQUAL(std::string("RAWBYTES"), raw);
	}

	void testWsReceiveReportsServerFrames()
	{
		const unsigned char key[4] = {1, 2, 3, 4};
		LoopbackServer peer([&](int fd, int) {
			PeerReader reader(fd);
			acceptHandshake(fd, reader);
			writeAll(fd, serverFrame(WsTestClient::OPCODE_TEXT, "rsv", true, 4));
			writeAll(fd, serverFrame(WsTestClient::OPCODE_BINARY, "masked", true, 0, key));
			const std::string medium = serverFrame(WsTestClient::OPCODE_BINARY, std::string(200, 'm'));
			// Split inside the extended length, then inside the payload.
			writeAll(fd, medium.substr(0, 3));
			pause(20);
			writeAll(fd, medium.substr(3, 50));
			pause(20);
			writeAll(fd, medium.substr(53));
			writeAll(fd, serverFrame(WsTestClient::OPCODE_BINARY, std::string(70000, 'L')));
			writeAll(fd, serverFrame(0x3, "reserved"));
			reader.waitEof(3000);
		});
		WsTestClient client;
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		WsTestClient::Frame frame = client.receive(2000);
		CPPUNIT_ASSERT_EQUAL(std::string("rsv"), frame.payload);
		CPPUNIT_ASSERT_EQUAL(4, frame.rsv);
		CPPUNIT_ASSERT(!frame.masked);
		frame = client.receive(2000);
		CPPUNIT_ASSERT(frame.masked);
		CPPUNIT_ASSERT_EQUAL(std::string("masked"), frame.payload);
		frame = client.receive(2000);
		CPPUNIT_ASSERT_EQUAL(std::string(200, 'm'), frame.payload);
		frame = client.receive(2000);
		CPPUNIT_ASSERT_EQUAL(std::string(70000, 'L'), frame.payload);
		const WsTestClient::Message reserved = client.receiveMessage(2000);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::RESULT_PROTOCOL_ERROR), int(reserved.result));
		CPPUNIT_ASSERT_EQUAL(3, reserved.opcode);
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), client.bufferedBytes());
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
	}

	void testWsFragmentedMessage()
	{
		LoopbackServer peer([](int fd, int) {
			PeerReader reader(fd);
			acceptHandshake(fd, reader);
			writeAll(fd, serverFrame(WsTestClient::OPCODE_TEXT, "Hel", false));
			pause(10);
			writeAll(fd, serverFrame(WsTestClient::OPCODE_PING, "x"));
			writeAll(fd, serverFrame(WsTestClient::OPCODE_CONTINUATION, "lo ", false));
			pause(10);
			writeAll(fd, serverFrame(WsTestClient::OPCODE_CONTINUATION, "world", true));
			writeAll(fd, serverFrame(WsTestClient::OPCODE_BINARY, std::string("\0\1", 2)));
			writeAll(fd, serverFrame(WsTestClient::OPCODE_PONG, "y"));
			// Protocol errors by the "server": a continuation with nothing open, then a new data
			// frame inside an open message.
			writeAll(fd, serverFrame(WsTestClient::OPCODE_CONTINUATION, "stray"));
			writeAll(fd, serverFrame(WsTestClient::OPCODE_TEXT, "a", false));
			writeAll(fd, serverFrame(WsTestClient::OPCODE_TEXT, "b"));
			// Then a message cut by a client timeout and completed later.
			writeAll(fd, serverFrame(WsTestClient::OPCODE_BINARY, "part1-", false));
			reader.readExactly(1);
			writeAll(fd, serverFrame(WsTestClient::OPCODE_CONTINUATION, "part2"));
			reader.waitEof(3000);
		});
		WsTestClient client;
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		WsTestClient::Message message = client.receiveMessage(2000);
		CPPUNIT_ASSERT(message.ok());
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_TEXT), message.opcode);
		CPPUNIT_ASSERT_EQUAL(std::string("Hello world"), message.payload);
		CPPUNIT_ASSERT_EQUAL(3, message.frameCount);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), message.controlFrames.size());
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_PING), message.controlFrames[0].opcode);
		CPPUNIT_ASSERT_EQUAL(std::string("x"), message.controlFrames[0].payload);

		message = client.receiveMessage(2000);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_BINARY), message.opcode);
		CPPUNIT_ASSERT_EQUAL(std::string("\0\1", 2), message.payload);
		CPPUNIT_ASSERT_EQUAL(1, message.frameCount);
		message = client.receiveMessage(2000);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_PONG), message.opcode);
		CPPUNIT_ASSERT_EQUAL(std::string("y"), message.payload);

		message = client.receiveMessage(2000);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::RESULT_PROTOCOL_ERROR), int(message.result));
		CPPUNIT_ASSERT(contains(message.error, "continuation"));
		message = client.receiveMessage(2000);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::RESULT_PROTOCOL_ERROR), int(message.result));
		CPPUNIT_ASSERT(contains(message.error, "new data frame"));

		message = client.receiveMessage(150);
		CPPUNIT_ASSERT(message.timedOut());
		client.sendRaw("!");
		message = client.receiveMessage(2000);
		CPPUNIT_ASSERT(message.ok());
		CPPUNIT_ASSERT_EQUAL(std::string("part1-part2"), message.payload);
		CPPUNIT_ASSERT_EQUAL(2, message.frameCount);
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
	}

	void testWsPingNotAnsweredByDefault()
	{
		bool silent = false;
		LoopbackServer peer([&](int fd, int) {
			PeerReader reader(fd);
			acceptHandshake(fd, reader);
			writeAll(fd, serverFrame(WsTestClient::OPCODE_PING, "abc"));
			silent = reader.nothingWithin(300);
			writeAll(fd, serverFrame(WsTestClient::OPCODE_TEXT, "done"));
			reader.waitEof(3000);
		});
		WsTestClient client;
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		WsTestClient::Frame frame = client.receive(2000);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_PING), frame.opcode);
		CPPUNIT_ASSERT_EQUAL(std::string("abc"), frame.payload);
		frame = client.receive(2000);
		CPPUNIT_ASSERT_EQUAL(std::string("done"), frame.payload);
		CPPUNIT_ASSERT_EQUAL(0, client.pingsAnswered());
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT(silent);
	}

	void testWsAutoPong()
	{
		PeerFrame pong;
		LoopbackServer peer([&](int fd, int) {
			PeerReader reader(fd);
			acceptHandshake(fd, reader);
			writeAll(fd,
			         serverFrame(WsTestClient::OPCODE_PING, "abc") + serverFrame(WsTestClient::OPCODE_TEXT, "after"));
			pong = readClientFrame(reader);
			writeAll(fd, serverFrame(WsTestClient::OPCODE_TEXT, "done"));
			reader.waitEof(3000);
		});
		WsTestClient client;
		client.setAutoPong(true);
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		WsTestClient::Message message = client.receiveMessage(2000);
		CPPUNIT_ASSERT_EQUAL(std::string("after"), message.payload);
		CPPUNIT_ASSERT_EQUAL(1, client.pingsAnswered());
		message = client.receiveMessage(2000);
		CPPUNIT_ASSERT_EQUAL(std::string("done"), message.payload);
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_PONG), pong.opcode);
		CPPUNIT_ASSERT(pong.masked);
		CPPUNIT_ASSERT_EQUAL(std::string("abc"), pong.payload);
	}

	void testWsCloseWithCode()
	{
		PeerFrame reply;
		LoopbackServer peer([&](int fd, int) {
			PeerReader reader(fd);
			acceptHandshake(fd, reader);
			writeAll(fd, serverFrame(WsTestClient::OPCODE_TEXT, "last words") +
			                 serverFrame(WsTestClient::OPCODE_CLOSE, closePayload(1001, "going away")));
			reply = readClientFrame(reader);
			::shutdown(fd, SHUT_WR);
			reader.waitEof(3000);
		});
		WsTestClient client;
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		const int64_t start = WsTestClient::nowMicros();
		const WsTestClient::CloseInfo close = client.expectClose(3000);
		CPPUNIT_ASSERT(elapsedMs(start) < 2000);
		CPPUNIT_ASSERT_EQUAL(1001, close.code);
		CPPUNIT_ASSERT_EQUAL(std::string("going away"), close.reason);
		CPPUNIT_ASSERT(close.eof);
		CPPUNIT_ASSERT_EQUAL(std::size_t(1), close.skippedFrames.size());
		CPPUNIT_ASSERT_EQUAL(std::string("last words"), close.skippedFrames[0].payload);
		CPPUNIT_ASSERT(client.closeReceived());
		CPPUNIT_ASSERT(client.closeSent());
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_CLOSE), reply.opcode);
		CPPUNIT_ASSERT(reply.masked);
		CPPUNIT_ASSERT_EQUAL(std::string("\x03\xe9", 2), reply.payload);
	}

	void testWsCloseEmptyAndWithoutFrame()
	{
		PeerFrame reply;
		LoopbackServer peer(
		    [&](int fd, int index) {
			    PeerReader reader(fd);
			    acceptHandshake(fd, reader);
			    if (index == 0)
			    {
				    writeAll(fd, serverFrame(WsTestClient::OPCODE_CLOSE, ""));
				    reply = readClientFrame(reader);
			    }
			    else if (index == 2)
			    {
				    writeAll(fd, serverFrame(WsTestClient::OPCODE_CLOSE, closePayload(1000, "")));
				    require(reader.nothingWithin(200), "peer: a close reply despite reply=false");
			    }
			    // Index 1: TCP close without any close frame.
		    },
		    3);
		WsTestClient client;
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		WsTestClient::CloseInfo close = client.expectClose(3000);
		CPPUNIT_ASSERT_EQUAL(1005, close.code);
		CPPUNIT_ASSERT(close.reason.empty());
		CPPUNIT_ASSERT(close.eof);

		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		CPPUNIT_ASSERT(!client.closeReceived());
		close = client.expectClose(3000);
		CPPUNIT_ASSERT_EQUAL(WsTestClient::CloseInfo::NO_CLOSE_FRAME, close.code);
		CPPUNIT_ASSERT(close.eof);
		const WsTestClient::Frame after = client.receive(100);
		CPPUNIT_ASSERT(after.closed());

		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		close = client.expectClose(3000, false);
		CPPUNIT_ASSERT_EQUAL(1000, close.code);
		CPPUNIT_ASSERT(close.eof);
		CPPUNIT_ASSERT(!client.closeSent());
		client.close();

		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::OPCODE_CLOSE), reply.opcode);
		CPPUNIT_ASSERT(reply.masked);
		CPPUNIT_ASSERT(reply.payload.empty());
	}

	void testWsMalformedServerFrames()
	{
		LoopbackServer peer(
		    [](int fd, int index) {
			    PeerReader reader(fd);
			    acceptHandshake(fd, reader);
			    if (index == 0)
				    writeAll(fd, std::string("\x82\x0a"
				                             "abc",
				                             5)); // 10 bytes announced, 3 sent, then EOF
			    else if (index == 1)
			    {
				    writeAll(fd, std::string("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x01", 10));
				    reader.waitEof(3000);
			    }
			    else
			    {
				    writeAll(fd, serverFrame(WsTestClient::OPCODE_BINARY, std::string(2000, 'x')));
				    reader.waitEof(3000);
			    }
		    },
		    3);
		WsTestClient client;
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		WsTestClient::Frame frame = client.receive(2000);
		CPPUNIT_ASSERT(frame.closed());
		CPPUNIT_ASSERT(contains(frame.error, "incomplete frame"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(5), client.bufferedBytes());

		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		frame = client.receive(2000);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::RESULT_PROTOCOL_ERROR), int(frame.result));
		CPPUNIT_ASSERT(contains(frame.error, "most significant bit"));
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::RESULT_PROTOCOL_ERROR), int(client.receive(100).result));
		client.close();

		client.setMaxFrameSize(1000);
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		frame = client.receive(2000);
		CPPUNIT_ASSERT_EQUAL(int(WsTestClient::RESULT_PROTOCOL_ERROR), int(frame.result));
		CPPUNIT_ASSERT(contains(frame.error, "2000 bytes"));
		client.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
	}

	void testWsTimeouts()
	{
		bool sawEof = false;
		LoopbackServer peer(
		    [&](int fd, int index) {
			    PeerReader reader(fd);
			    if (index == 0)
			    {
				    acceptHandshake(fd, reader);
				    sawEof = reader.waitEof(4000);
			    }
			    else
				    reader.waitEof(4000); // never answers the handshake
		    },
		    2);
		WsTestClient client;
		client.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		int64_t start = WsTestClient::nowMicros();
		CPPUNIT_ASSERT(client.receive(200).timedOut());
		int64_t took = elapsedMs(start);
		CPPUNIT_ASSERT(took >= 190 && took < 1000);
		start = WsTestClient::nowMicros();
		CPPUNIT_ASSERT(client.receiveMessage(100).timedOut());
		CPPUNIT_ASSERT_EQUAL(WsTestClient::CloseInfo::TIMED_OUT, client.expectClose(100).code);
		CPPUNIT_ASSERT(!client.waitForEof(100));
		took = elapsedMs(start);
		CPPUNIT_ASSERT(took >= 290 && took < 1500);
		client.close();

		WsTestClient unanswered;
		start = WsTestClient::nowMicros();
		try
		{
			unanswered.connect("127.0.0.1", peer.port(), "/", {}, 300);
			CPPUNIT_FAIL("a handshake without answer must time out");
		}
		catch (const std::runtime_error& e)
		{
			CPPUNIT_ASSERT(contains(e.what(), "timed out"));
		}
		took = elapsedMs(start);
		CPPUNIT_ASSERT(took >= 250 && took < 1500);
		CPPUNIT_ASSERT_THROW(unanswered.receive(10), std::logic_error);
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		CPPUNIT_ASSERT(sawEof);
	}

	void testWsBindAddressAndReceiveBuffer()
	{
		LoopbackServer peer(
		    [](int fd, int) {
			    PeerReader reader(fd);
			    acceptHandshake(fd, reader);
			    reader.waitEof(3000);
		    },
		    2);
		WsTestClient small;
		small.setBindAddress("127.0.0.2");
		small.setReceiveBufferSize(4096);
		small.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		CPPUNIT_ASSERT(startsWith(small.localAddress(), "127.0.0.2:"));
		int smallBuffer = 0;
		socklen_t length = sizeof(smallBuffer);
		CPPUNIT_ASSERT(::getsockopt(small.fd(), SOL_SOCKET, SO_RCVBUF, &smallBuffer, &length) == 0);
		small.close();

		WsTestClient normal;
		normal.connect("127.0.0.1", peer.port(), "/", {}, 3000);
		int normalBuffer = 0;
		CPPUNIT_ASSERT(::getsockopt(normal.fd(), SOL_SOCKET, SO_RCVBUF, &normalBuffer, &length) == 0);
		normal.close();
		CPPUNIT_ASSERT_EQUAL(std::string(""), peer.errors());
		const std::vector<std::string> peers = peer.peerAddresses();
		CPPUNIT_ASSERT_EQUAL(std::size_t(2), peers.size());
		CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.2"), peers[0]);
		CPPUNIT_ASSERT_EQUAL(std::string("127.0.0.1"), peers[1]);
		CPPUNIT_ASSERT(smallBuffer <= 16384);
		CPPUNIT_ASSERT(smallBuffer < normalBuffer);
	}

	// --- TestServer

	void testRunOnceCapturesOutput()
	{
		TestServer::RunResult result = TestServer::runOnce({"-c", "echo out; echo err >&2; exit 3"}, 5000, "/bin/sh");
		CPPUNIT_ASSERT_EQUAL(3, result.exitCode);
		CPPUNIT_ASSERT_EQUAL(0, result.signal);
		CPPUNIT_ASSERT(!result.timedOut);
		CPPUNIT_ASSERT_EQUAL(std::string("out\n"), result.stdoutText);
		CPPUNIT_ASSERT_EQUAL(std::string("err\n"), result.stderrText);
		CPPUNIT_ASSERT_EQUAL(std::string("out\nerr\n"), result.output());
		CPPUNIT_ASSERT(contains(result.describe(), "exited with code 3"));

		result = TestServer::runOnce({"hello", "two words"}, 5000, "/bin/echo");
		CPPUNIT_ASSERT_EQUAL(0, result.exitCode);
		CPPUNIT_ASSERT_EQUAL(std::string("hello two words\n"), result.stdoutText);

		result = TestServer::runOnce({"-c", "kill -TERM $$"}, 5000, "/bin/sh");
		CPPUNIT_ASSERT_EQUAL(-1, result.exitCode);
		CPPUNIT_ASSERT_EQUAL(int(SIGTERM), result.signal);

		// Large output on both streams at once must not deadlock.
		result = TestServer::runOnce({"-c", "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2"}, 5000, "/bin/sh");
		CPPUNIT_ASSERT_EQUAL(0, result.exitCode);
		CPPUNIT_ASSERT_EQUAL(std::size_t(300000), result.stdoutText.size());
		CPPUNIT_ASSERT_EQUAL(std::size_t(200000), result.stderrText.size());
	}

	void testRunOnceTimeout()
	{
		const int64_t start = WsTestClient::nowMicros();
		const TestServer::RunResult result = TestServer::runOnce({"-c", "echo started; exec sleep 20"}, 300, "/bin/sh");
		const int64_t took = elapsedMs(start);
		CPPUNIT_ASSERT(took >= 290 && took < 2000);
		CPPUNIT_ASSERT(result.timedOut);
		CPPUNIT_ASSERT_EQUAL(int(SIGKILL), result.signal);
		CPPUNIT_ASSERT_EQUAL(std::string("started\n"), result.stdoutText);
	}

	void testRunOnceMissingBinary()
	{
		try
		{
			TestServer::runOnce({}, 1000, "/nonexistent/switchboard");
			CPPUNIT_FAIL("a missing binary must throw");
		}
		catch (const std::runtime_error& e)
		{
			CPPUNIT_ASSERT(contains(e.what(), "/nonexistent/switchboard"));
			CPPUNIT_ASSERT(contains(e.what(), "No such file"));
		}
		CPPUNIT_ASSERT_THROW(TestServer::runOnce({}, 1000, ""), std::runtime_error);
		TestServer server("/nonexistent/switchboard");
		CPPUNIT_ASSERT_THROW(server.start(1000), std::runtime_error);
		CPPUNIT_ASSERT(!server.running());
		CPPUNIT_ASSERT_THROW(server.stop(), std::logic_error);
	}

	void testServerConfig()
	{
		CPPUNIT_ASSERT(!TestServer::defaultBinary().empty());
		TestServer server("/bin/true");
		server.addListener("second", {{"max_connections", "5"}});
		server.addPlugin("echo", "main", "/echo", {{"greeting", "hi"}});
		server.set("host", "log_level", "debug");
		server.set("storage", "extra", "1");
		server.unset("storage", "extra");
		server.addSection("scratch", {{"a", "1"}});
		server.removeSection("scratch");
		server.reservePort("redis");
		server.appendIni("[plugin.other]\nother_port = @{port:second}\nredis = @{port:redis}\npath = @{dir}/x");

		const std::set<int> ports = {server.port("main"), server.port("second"), server.port("redis"),
		                             server.adminPort()};
		CPPUNIT_ASSERT_EQUAL(std::size_t(4), ports.size());
		CPPUNIT_ASSERT_EQUAL(server.port("redis"), server.reservePort("redis"));
		CPPUNIT_ASSERT_THROW(server.port("nope"), std::out_of_range);
		CPPUNIT_ASSERT_THROW(server.set("bad]name", "k", "v"), std::invalid_argument);
		CPPUNIT_ASSERT_THROW(server.set("host", "k", "line\nbreak"), std::invalid_argument);

		const std::string text = server.configText();
		const std::string dir = server.dir().path();
		CPPUNIT_ASSERT(startsWith(text, "[host]\n"));
		CPPUNIT_ASSERT(contains(text, "log_level = debug\nplugin_dir = " + TestServer::defaultPluginDir() + "\n"));
		CPPUNIT_ASSERT(contains(text, "event_loops = 2\nshutdown_deadline_ms = 3000\n"));
		CPPUNIT_ASSERT(contains(text, "[storage]\ndirectory = " + dir + "/data\n\n"));
		CPPUNIT_ASSERT(contains(text, "[admin]\naddress = 127.0.0.1\nport = " + std::to_string(server.adminPort())));
		CPPUNIT_ASSERT(
		    contains(text, "[listener.main]\naddress = 127.0.0.1\nport = " + std::to_string(server.port("main"))));
		CPPUNIT_ASSERT(contains(text, "[listener.second]\naddress = 127.0.0.1\nport = " +
		                                  std::to_string(server.port("second")) + "\nmax_connections = 5\n"));
		CPPUNIT_ASSERT(contains(text, "[plugin.echo]\nlistener = main\nprefix = /echo\ngreeting = hi\n"));
		CPPUNIT_ASSERT(contains(text, "other_port = " + std::to_string(server.port("second")) + "\n"));
		CPPUNIT_ASSERT(contains(text, "redis = " + std::to_string(server.port("redis")) + "\n"));
		CPPUNIT_ASSERT(contains(text, "path = " + dir + "/x\n"));
		CPPUNIT_ASSERT(!contains(text, "extra"));
		CPPUNIT_ASSERT(!contains(text, "scratch"));
		CPPUNIT_ASSERT(!contains(text, "@{"));

		TestServer broken("/bin/true");
		broken.appendIni("[x]\nport = @{port:nope}\n");
		CPPUNIT_ASSERT_THROW(broken.configText(), std::invalid_argument);
		TestServer unknown("/bin/true");
		unknown.set("x", "y", "@{mystery}");
		CPPUNIT_ASSERT_THROW(unknown.configText(), std::invalid_argument);
	}

	void testServerRunWithConfig()
	{
		TempDir scripts("sbtest-scripts");
		const std::string fake = scripts.writeFile(
		    "print-config",
		    "#!/bin/sh\nfor a; do case \"$a\" in --config=*) cat \"${a#--config=}\";; *) echo \"arg $a\";; esac; "
		    "done\n",
		    0755);
		TestServer server(fake);
		server.addArgument("--set=host.log_level=debug");
		const TestServer::RunResult result = server.runWithConfig({"--print-config"}, 5000);
		CPPUNIT_ASSERT_EQUAL(0, result.exitCode);
		CPPUNIT_ASSERT(contains(result.stdoutText, server.configText()));
		CPPUNIT_ASSERT(contains(result.stdoutText, "arg --set=host.log_level=debug\narg --print-config\n"));
		CPPUNIT_ASSERT_EQUAL(server.configText(), server.dir().readFile("switchboard.ini"));
	}

	void testServerStartStopRestart()
	{
		TempDir scripts("sbtest-scripts");
		TestServer server(scripts.writeFile("fake-server", FAKE_SERVER, 0755));
		server.set("fake", "mode", "normal");
		server.set("fake", "not_ready_requests", "3");
		server.addArgument("--set=host.log_level=debug");
		const int64_t start = WsTestClient::nowMicros();
		server.start();
		CPPUNIT_ASSERT(elapsedMs(start) < 5000);
		CPPUNIT_ASSERT(server.running());
		CPPUNIT_ASSERT(server.pid() > 0);
		// The fourth /readyz was the first 200: the client kept polling through the 503s.
		CPPUNIT_ASSERT(server.waitForLog("fake: readyz #4", 2000));
		CPPUNIT_ASSERT(contains(server.logText(), "--config=" + server.configPath() + " --set=host.log_level=debug"));
		CPPUNIT_ASSERT(contains(server.logText(), "main " + std::to_string(server.port("main"))));
		CPPUNIT_ASSERT(!server.waitForLog("never printed", 50));
		const HttpResponse ready = HttpTestClient::get("127.0.0.1", server.adminPort(), "/readyz", {}, 2000);
		CPPUNIT_ASSERT_EQUAL(200, ready.status);
		CPPUNIT_ASSERT_THROW(server.start(), std::logic_error);

		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		CPPUNIT_ASSERT(!server.running());
		CPPUNIT_ASSERT_EQUAL(-1, int(server.pid()));
		CPPUNIT_ASSERT(server.lastExit().exited);
		CPPUNIT_ASSERT(!server.lastExit().killedAfterTimeout);
		CPPUNIT_ASSERT(contains(server.logText(), "fake: got TERM"));
		CPPUNIT_ASSERT_EQUAL(0, server.stop()); // already stopped: the same status again

		server.dir().writeFile("data/survivor.txt", "still here");
		server.restart();
		CPPUNIT_ASSERT(server.running());
		CPPUNIT_ASSERT_EQUAL(std::string("still here"), server.dir().readFile("data/survivor.txt"));
		const std::string all = server.logText();
		CPPUNIT_ASSERT(all.find("fake: args") != all.rfind("fake: args"));
		const std::string run = server.runLogText();
		CPPUNIT_ASSERT(run.find("fake: args") == run.rfind("fake: args"));
		CPPUNIT_ASSERT(!contains(run, "got TERM"));
		CPPUNIT_ASSERT(contains(server.logTail(2), "fake: readyz"));

		// stop() after sendSignal() waits instead of sending a second SIGTERM.
		server.sendSignal(SIGTERM);
		CPPUNIT_ASSERT(server.waitForLog("fake: got TERM", 2000));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		CPPUNIT_ASSERT(!contains(server.logText(), "second TERM"));
		CPPUNIT_ASSERT_THROW(server.sendSignal(SIGTERM), std::logic_error);

		server.start();
		server.sendSignal(SIGTERM);
		CPPUNIT_ASSERT(!server.waitForExit(50).known);
		const TestServer::ExitStatus status = server.waitForExit(3000);
		CPPUNIT_ASSERT(status.known);
		CPPUNIT_ASSERT_EQUAL(0, status.code());
	}

	void testServerStartFailsWhenProcessExits()
	{
		TempDir scripts("sbtest-scripts");
		TestServer server(scripts.writeFile("fake-server", FAKE_SERVER, 0755));
		server.set("fake", "mode", "exit");
		const int64_t start = WsTestClient::nowMicros();
		try
		{
			server.start();
			CPPUNIT_FAIL("start() must fail when the server exits");
		}
		catch (const std::runtime_error& e)
		{
			CPPUNIT_ASSERT(contains(e.what(), "exited with code 3"));
			CPPUNIT_ASSERT(contains(e.what(), "fake: giving up"));
		}
		CPPUNIT_ASSERT(elapsedMs(start) < 3000);
		CPPUNIT_ASSERT(!server.running());
		CPPUNIT_ASSERT_EQUAL(3, server.lastExit().code());
	}

	void testServerStartTimesOut()
	{
		TempDir scripts("sbtest-scripts");
		TestServer server(scripts.writeFile("fake-server", FAKE_SERVER, 0755));
		server.set("fake", "mode", "never_ready");
		const int64_t start = WsTestClient::nowMicros();
		try
		{
			server.start(400);
			CPPUNIT_FAIL("start() must fail when /readyz never answers 200");
		}
		catch (const std::runtime_error& e)
		{
			CPPUNIT_ASSERT(contains(e.what(), "not ready within 400 ms"));
			CPPUNIT_ASSERT(contains(e.what(), "last answered 503 Service Unavailable"));
			CPPUNIT_ASSERT(contains(e.what(), "fake: readyz #1"));
		}
		const int64_t took = elapsedMs(start);
		CPPUNIT_ASSERT(took >= 390 && took < 3000);
		CPPUNIT_ASSERT(!server.running());
		CPPUNIT_ASSERT_EQUAL(int(SIGKILL), server.lastExit().signal);
	}

	void testServerRetriesOnAddressInUse()
	{
		TempDir scripts("sbtest-scripts");
		TestServer server(scripts.writeFile("fake-server", FAKE_SERVER, 0755));
		server.set("fake", "mode", "inuse_once");
		server.set("fake", "dir", "@{dir}");
		const int mainBefore = server.port("main");
		const int adminBefore = server.adminPort();
		server.start();
		CPPUNIT_ASSERT(server.running());
		CPPUNIT_ASSERT(server.port("main") != mainBefore);
		CPPUNIT_ASSERT(server.adminPort() != adminBefore);
		CPPUNIT_ASSERT(contains(server.logText(), "Address already in use"));
		CPPUNIT_ASSERT(!contains(server.runLogText(), "Address already in use"));
		CPPUNIT_ASSERT(contains(server.runLogText(), "main " + std::to_string(server.port("main"))));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testServerStopEscalatesToSigkill()
	{
		TempDir scripts("sbtest-scripts");
		TestServer server(scripts.writeFile("fake-server", FAKE_SERVER, 0755));
		server.set("fake", "mode", "ignore_term");
		server.start();
		const int64_t start = WsTestClient::nowMicros();
		CPPUNIT_ASSERT_EQUAL(128 + SIGKILL, server.stop(SIGTERM, 300));
		const int64_t took = elapsedMs(start);
		CPPUNIT_ASSERT(took >= 290 && took < 3000);
		CPPUNIT_ASSERT(server.lastExit().killedAfterTimeout);
		CPPUNIT_ASSERT_EQUAL(int(SIGKILL), server.lastExit().signal);
		CPPUNIT_ASSERT(contains(server.lastExit().describe(), "SIGKILL"));
		CPPUNIT_ASSERT(!server.running());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TestSupportTest);
