//
// WsLimitsIntegrationTest.cpp
//
// The real switchboard binary with the echo plugin against clients that send without reading
// (issue 9): a ping flood must not stall other connections, backed-up output stops the reading
// of its connection, an unfinished message has a deadline, and the memory held across all
// connections has a budget.
//


#include "HttpTestClient.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <fstream>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <vector>


using namespace Switchboard::Test;


namespace {

const char* LOOPBACK = "127.0.0.1";
const unsigned char MASK[4] = {0x11, 0x22, 0x33, 0x44};

std::int64_t metric(TestServer& server, const std::string& series)
{
	return HttpTestClient::metricValue(HttpTestClient::get(LOOPBACK, server.adminPort(), "/metrics").body, series);
}

std::int64_t residentKiB(pid_t pid)
/// VmRSS of a process, from /proc; -1 if unreadable.
{
	std::ifstream status("/proc/" + std::to_string(pid) + "/status");
	std::string line;
	while (std::getline(status, line))
	{
		if (line.rfind("VmRSS:", 0) == 0)
			return std::stoll(line.substr(6));
	}
	return -1;
}

double millisecondsSince(std::chrono::steady_clock::time_point t0)
{
	return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string repeatedFrames(int opcode, const std::string& payload, int count)
/// count masked frames back to back, so a buffer of them can be resent from any frame boundary.
{
	std::string one = WsTestClient::encodeFrame(opcode, payload, true, true, 0, MASK);
	std::string all;
	all.reserve(one.size() * static_cast<std::size_t>(count));
	for (int i = 0; i < count; ++i)
		all += one;
	return all;
}

enum class SendStep
{
	PROGRESS,
	WOULD_BLOCK,
	FAILED
};

SendStep sendSome(int fd, const std::string& bytes, std::size_t& offset, std::uint64_t& total)
/// One non-blocking send of bytes from offset; wraps to the start at the end (whole frames).
{
	ssize_t n = ::send(fd, bytes.data() + offset, bytes.size() - offset, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n > 0)
	{
		offset += static_cast<std::size_t>(n);
		if (offset == bytes.size())
			offset = 0;
		total += static_cast<std::uint64_t>(n);
		return SendStep::PROGRESS;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return SendStep::WOULD_BLOCK;
	return SendStep::FAILED;
}

void waitWritable(int fd, int timeoutMs)
{
	pollfd p{fd, POLLOUT, 0};
	::poll(&p, 1, timeoutMs);
}

void startFixture(TestServer& server, const TestServer::Keys& options)
// The fixture plugin at /g with its endpoint's WebSocketOptions from options (ws.* keys), a
// host idle timeout of 600 ms (the endpoint's default) and a 256 KiB output cap.
{
	server.set("host", "plugin_dir", SWITCHBOARD_FIXTURE_PLUGIN_DIR);
	server.set("websocket", "idle_timeout_ms", "600");
	server.set("websocket", "max_output_queue", std::to_string(256 * 1024));
	server.set("websocket", "high_watermark", std::to_string(128 * 1024));
	TestServer::Keys keys = options;
	keys["required_text"] = "x";
	server.addPlugin("good", "main", "/g", keys);
	server.start();
}

std::string lastClose(TestServer& server)
/// The code and reason the fixture's onClose saw last ("1008 slow consumer"), once it has.
{
	std::string seen;
	for (int i = 0; i < 100 && seen.empty(); ++i)
	{
		seen = HttpTestClient::get(LOOPBACK, server.port("main"), "/g/closes").body;
		if (seen.empty())
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	return seen;
}

std::string describe(const WsTestClient::CloseInfo& info)
{
	return "close " + std::to_string(info.code) + " \"" + info.reason + "\", eof " + (info.eof ? "yes" : "no") + ", " +
	       std::to_string(info.skippedFrames.size()) + " frames skipped";
}

double echoRoundTripMs(WsTestClient& client, const std::string& text)
{
	auto t0 = std::chrono::steady_clock::now();
	client.sendText(text);
	WsTestClient::Message m = client.receiveMessage(5000);
	CPPUNIT_ASSERT_MESSAGE("echo: " + m.error, m.ok());
	CPPUNIT_ASSERT_EQUAL(text, m.payload);
	return millisecondsSince(t0);
}

} // namespace


class WsLimitsIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(WsLimitsIntegrationTest);
	CPPUNIT_TEST(testPingFloodDoesNotStallOthers);
	CPPUNIT_TEST(testBackedUpOutputPausesReading);
	CPPUNIT_TEST(testStalledConsumerIsClosed);
	CPPUNIT_TEST(testUnfinishedMessageTimesOut);
	CPPUNIT_TEST(testMemoryBudgetClosesOldestOffenders);
	CPPUNIT_TEST(testHostClosesByDefault);
	CPPUNIT_TEST(testEndpointNamesItsCloses);
	CPPUNIT_TEST(testBadCloseOptionsAreRefused);
	CPPUNIT_TEST(testEndpointCloseTimeout);
	CPPUNIT_TEST(testEndpointSendStallTimeout);
	CPPUNIT_TEST(testEndpointInvalidTextClose);
	CPPUNIT_TEST(testEndpointMaxOutputMessages);
	CPPUNIT_TEST(testPingsDeliveredToPlugin);
	CPPUNIT_TEST(testShutdownCloseTimeout);
	CPPUNIT_TEST_SUITE_END();

public:
	void testPingFloodDoesNotStallOthers()
	{
		TestServer server;
		server.set("host", "event_loops", "1"); // the flooder and the measured client share a loop
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");
		WsTestClient probe;
		CPPUNIT_ASSERT_EQUAL(101, probe.connect(LOOPBACK, port, "/echo/ws").status);
		echoRoundTripMs(probe, "warm-up");
		WsTestClient flooder;
		flooder.setReceiveBufferSize(4096);
		CPPUNIT_ASSERT_EQUAL(101, flooder.connect(LOOPBACK, port, "/echo/ws").status);
		std::int64_t rssBefore = residentKiB(server.pid());

		// Pings as fast as the server takes them, never reading a pong.
		const std::string burst = repeatedFrames(WsTestClient::OPCODE_PING, std::string(125, 'p'), 512);
		std::atomic<bool> stop{false};
		std::atomic<bool> cut{false};
		std::atomic<std::uint64_t> flooded{0};
		int fd = flooder.fd();
		std::thread flood([&] {
			auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
			std::size_t offset = 0;
			std::uint64_t total = 0;
			while (!stop.load() && std::chrono::steady_clock::now() < end)
			{
				SendStep step = sendSome(fd, burst, offset, total);
				if (step == SendStep::FAILED)
				{
					cut = true; // the server closed it
					break;
				}
				if (step == SendStep::WOULD_BLOCK)
					waitWritable(fd, 5);
			}
			flooded = total;
		});

		std::vector<double> roundTrips;
		auto floodEnd = std::chrono::steady_clock::now() + std::chrono::milliseconds(2000);
		for (int i = 0; i < 60 && std::chrono::steady_clock::now() < floodEnd; ++i)
		{
			roundTrips.push_back(echoRoundTripMs(probe, "probe " + std::to_string(i)));
			std::this_thread::sleep_for(std::chrono::milliseconds(30));
		}
		stop = true;
		flood.join();
		std::int64_t rssAfter = residentKiB(server.pid());

		double worst = *std::max_element(roundTrips.begin(), roundTrips.end());
		std::string summary = std::to_string(roundTrips.size()) + " round trips, worst " + std::to_string(worst) +
		                      " ms; flooded " + std::to_string(flooded.load()) + " bytes; RSS " +
		                      std::to_string(rssBefore) + " -> " + std::to_string(rssAfter) + " KiB";
		CPPUNIT_ASSERT_MESSAGE(summary, roundTrips.size() >= 20);
		CPPUNIT_ASSERT_MESSAGE(summary, worst < 50.0);
		// The flooder is cut, or at least what the server holds for it stays bounded.
		CPPUNIT_ASSERT_MESSAGE(summary, cut.load() || rssAfter - rssBefore < 64 * 1024);
		CPPUNIT_ASSERT(flooded.load() > 0);

		flooder.abort();
		echoRoundTripMs(probe, "after the flood");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testBackedUpOutputPausesReading()
	{
		TestServer server;
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");
		WsTestClient hog;
		hog.setReceiveBufferSize(4096);
		CPPUNIT_ASSERT_EQUAL(101, hog.connect(LOOPBACK, port, "/echo/ws").status);
		std::int64_t rssBefore = residentKiB(server.pid());

		// Echo requests without ever reading the echoes, until the kernel takes no more.
		const std::string requests = repeatedFrames(WsTestClient::OPCODE_BINARY, std::string(16 * 1024, 'r'), 16);
		std::size_t offset = 0;
		std::uint64_t sent = 0;
		bool blocked = false;
		bool failed = false;
		auto lastProgress = std::chrono::steady_clock::now();
		auto giveUp = lastProgress + std::chrono::seconds(10);
		while (std::chrono::steady_clock::now() < giveUp)
		{
			SendStep step = sendSome(hog.fd(), requests, offset, sent);
			if (step == SendStep::FAILED)
			{
				failed = true;
				break;
			}
			if (step == SendStep::PROGRESS)
			{
				lastProgress = std::chrono::steady_clock::now();
				continue;
			}
			if (millisecondsSince(lastProgress) >= 300)
			{
				blocked = true;
				break;
			}
			waitWritable(hog.fd(), 10);
		}
		// Not read: the bytes the server has taken in stay the same while the client waits, and
		// are a small part of what the client pushed (the rest filled kernel buffers, until the
		// server cut it for still sending while not reading).
		std::int64_t readBefore = metric(server, "switchboard_received_bytes_total");
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		std::int64_t readAfter = metric(server, "switchboard_received_bytes_total");
		std::string summary = "sent " + std::to_string(sent) + " bytes (" + (blocked ? "blocked" : "") +
		                      (failed ? "cut" : "") + "), the server read " + std::to_string(readAfter);
		CPPUNIT_ASSERT_MESSAGE(summary, blocked || failed);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(summary, readBefore, readAfter);
		CPPUNIT_ASSERT_MESSAGE(summary, static_cast<std::uint64_t>(readAfter) < sent);
		std::int64_t rssAfter = residentKiB(server.pid());
		CPPUNIT_ASSERT_MESSAGE(summary + "; RSS " + std::to_string(rssBefore) + " -> " + std::to_string(rssAfter),
		                       rssAfter - rssBefore < 64 * 1024);

		// Others are served meanwhile.
		WsTestClient other;
		CPPUNIT_ASSERT_EQUAL(101, other.connect(LOOPBACK, port, "/echo/ws").status);
		echoRoundTripMs(other, "still served");

		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testStalledConsumerIsClosed()
	{
		// A client that sends a few requests and then neither reads nor sends: its output backs
		// up, it is no longer read, and after send_stall_timeout_ms of taking nothing it is cut.
		// It sends too little for the unread-input rule (more than max_output_queue waiting).
		TestServer server;
		server.set("websocket", "send_stall_timeout_ms", "1500");
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");
		WsTestClient hog;
		hog.setReceiveBufferSize(4096);
		CPPUNIT_ASSERT_EQUAL(101, hog.connect(LOOPBACK, port, "/echo/ws").status);
		// One request at a time, each read by the server before the next, until one is not read
		// within 200 ms: the server stopped reading. What waits unread is then one request.
		const std::string request =
		    WsTestClient::encodeFrame(WsTestClient::OPCODE_BINARY, std::string(16 * 1024, 's'), true, true, 0, MASK);
		std::uint64_t sent = 0;
		bool paused = false;
		for (int i = 0; i < 2048 && !paused; ++i)
		{
			std::int64_t readBefore = metric(server, "switchboard_received_bytes_total");
			std::uint64_t total = 0;
			auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(5);
			while (total < request.size() && std::chrono::steady_clock::now() < giveUp)
			{
				std::string rest = request.substr(static_cast<std::size_t>(total));
				std::size_t restOffset = 0;
				SendStep step = sendSome(hog.fd(), rest, restOffset, total);
				CPPUNIT_ASSERT(step != SendStep::FAILED);
				if (step == SendStep::WOULD_BLOCK)
					waitWritable(hog.fd(), 10);
			}
			sent += total;
			auto readDeadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
			paused = true;
			while (std::chrono::steady_clock::now() < readDeadline)
			{
				if (metric(server, "switchboard_received_bytes_total") >=
				    readBefore + static_cast<std::int64_t>(request.size()))
				{
					paused = false;
					break;
				}
				std::this_thread::sleep_for(std::chrono::milliseconds(2));
			}
		}
		auto stoppedAt = std::chrono::steady_clock::now();
		CPPUNIT_ASSERT_MESSAGE("the server kept reading " + std::to_string(sent) + " bytes", paused);
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		std::string summary = "sent " + std::to_string(sent) + " bytes, the server read " +
		                      std::to_string(metric(server, "switchboard_received_bytes_total"));
		CPPUNIT_ASSERT_EQUAL_MESSAGE(summary, std::int64_t(0),
		                             metric(server, "switchboard_slow_consumer_closes_total"));
		bool cut = false;
		while (!cut && millisecondsSince(stoppedAt) < 8000)
		{
			cut = metric(server, "switchboard_slow_consumer_closes_total") == 1;
			if (!cut)
				std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
		double afterMs = millisecondsSince(stoppedAt);
		summary += "; closed after " + std::to_string(afterMs) + " ms";
		CPPUNIT_ASSERT_MESSAGE(summary, cut);
		CPPUNIT_ASSERT_MESSAGE(summary, afterMs >= 1000);
		// The client sees the connection end (a close frame it never reads, then a reset or FIN).
		pollfd p{hog.fd(), POLLRDHUP, 0};
		CPPUNIT_ASSERT_MESSAGE(summary, ::poll(&p, 1, 5000) == 1);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testUnfinishedMessageTimesOut()
	{
		TestServer server;
		server.set("websocket", "fragment_timeout_ms", "1000");
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");

		// A fragmented message completed in time is delivered.
		WsTestClient prompt;
		CPPUNIT_ASSERT_EQUAL(101, prompt.connect(LOOPBACK, port, "/echo/ws").status);
		prompt.sendFrame(WsTestClient::OPCODE_TEXT, "hel", false);
		std::this_thread::sleep_for(std::chrono::milliseconds(300));
		prompt.sendFrame(WsTestClient::OPCODE_CONTINUATION, "lo", true);
		CPPUNIT_ASSERT_EQUAL(std::string("hello"), prompt.receiveMessage(2000).payload);

		// A first fragment, then only pings: pings keep the connection alive, not the message.
		WsTestClient stalling;
		CPPUNIT_ASSERT_EQUAL(101, stalling.connect(LOOPBACK, port, "/echo/ws").status);
		auto t0 = std::chrono::steady_clock::now();
		stalling.sendFrame(WsTestClient::OPCODE_BINARY, std::string(1000, 'f'), false);
		int closeCode = -1;
		std::string closeReason;
		double closedAfterMs = 0;
		int pings = 0;
		auto lastPing = t0;
		while (closeCode < 0 && millisecondsSince(t0) < 5000)
		{
			if (millisecondsSince(lastPing) >= 500)
			{
				lastPing = std::chrono::steady_clock::now();
				try
				{
					stalling.sendPing("still typing");
					++pings;
				}
				catch (std::exception&)
				{
					// closed meanwhile: the close frame is already buffered
				}
			}
			WsTestClient::Frame f = stalling.receive(50);
			if (f.ok() && f.opcode == WsTestClient::OPCODE_CLOSE && f.payload.size() >= 2)
			{
				closeCode = (static_cast<unsigned char>(f.payload[0]) << 8) | static_cast<unsigned char>(f.payload[1]);
				closeReason = f.payload.substr(2);
				closedAfterMs = millisecondsSince(t0);
			}
			else if (f.closed())
				break;
		}
		std::string summary = "closed with " + std::to_string(closeCode) + " \"" + closeReason + "\" after " +
		                      std::to_string(closedAfterMs) + " ms and " + std::to_string(pings) + " pings";
		CPPUNIT_ASSERT_EQUAL_MESSAGE(summary, 1008, closeCode);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(summary, std::string("message not completed in time"), closeReason);
		CPPUNIT_ASSERT_MESSAGE(summary, closedAfterMs >= 900 && closedAfterMs < 2500);
		CPPUNIT_ASSERT_MESSAGE(summary, pings >= 1);
		CPPUNIT_ASSERT_MESSAGE(summary, stalling.waitForEof(3000));

		echoRoundTripMs(prompt, "unaffected");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testHostClosesByDefault()
	{
		// Without close options: 1001 "idle timeout" on the wire; a slow consumer is cut without
		// a close frame and onClose sees 1008 "slow consumer".
		TestServer server;
		startFixture(server, {});
		int port = server.port("main");
		WsTestClient idle;
		CPPUNIT_ASSERT_EQUAL(101, idle.connect(LOOPBACK, port, "/g/ws").status);
		WsTestClient::CloseInfo info = idle.expectClose(3000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), 1001, info.code);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), std::string("idle timeout"), info.reason);
		CPPUNIT_ASSERT_EQUAL(std::string("1001 idle timeout"), lastClose(server));

		WsTestClient burst;
		CPPUNIT_ASSERT_EQUAL(101, burst.connect(LOOPBACK, port, "/g/ws").status);
		burst.sendText("burst 64"); // 1 MiB at once over a 256 KiB cap
		info = burst.expectClose(3000, false);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), WsTestClient::CloseInfo::NO_CLOSE_FRAME, info.code);
		CPPUNIT_ASSERT_MESSAGE(describe(info), info.eof);
		CPPUNIT_ASSERT_EQUAL(std::string("1008 slow consumer"), lastClose(server));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), metric(server, "switchboard_slow_consumer_closes_total"));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testEndpointNamesItsCloses()
	{
		TestServer server;
		startFixture(server, {{"ws.idle_close.code", "4009"},
		                      {"ws.idle_close.reason", "Session timed out"},
		                      {"ws.overflow_close.code", "4008"},
		                      {"ws.overflow_close.reason", "Slow consumer"}});
		int port = server.port("main");

		// The idle close carries the endpoint's code and reason.
		WsTestClient idle;
		CPPUNIT_ASSERT_EQUAL(101, idle.connect(LOOPBACK, port, "/g/ws").status);
		auto t0 = std::chrono::steady_clock::now();
		WsTestClient::CloseInfo info = idle.expectClose(3000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), 4009, info.code);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), std::string("Session timed out"), info.reason);
		CPPUNIT_ASSERT_MESSAGE(describe(info), millisecondsSince(t0) >= 500);
		CPPUNIT_ASSERT_EQUAL(std::string("4009 Session timed out"), lastClose(server));

		// Over the output cap: the messages not yet started are dropped and the close frame is
		// sent in their place, so a peer that reads gets it; onClose reports the same.
		WsTestClient burst;
		CPPUNIT_ASSERT_EQUAL(101, burst.connect(LOOPBACK, port, "/g/ws").status);
		burst.sendText("burst 64");
		info = burst.expectClose(3000, false);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), 4008, info.code);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), std::string("Slow consumer"), info.reason);
		CPPUNIT_ASSERT_MESSAGE(describe(info), info.eof);
		CPPUNIT_ASSERT_EQUAL(std::string("4008 Slow consumer"), lastClose(server));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), metric(server, "switchboard_slow_consumer_closes_total"));

		// A stalled consumer (the send-stall timeout) is reported with the endpoint's code too.
		WsTestClient hog;
		hog.setReceiveBufferSize(4096);
		CPPUNIT_ASSERT_EQUAL(101, hog.connect(LOOPBACK, port, "/g/ws").status);
		for (int i = 0; i < 40; ++i)
			hog.sendText("burst 1"); // 640 KiB of replies it never reads: read is paused, then cut
		bool cut = false;
		for (int i = 0; i < 200 && !cut; ++i)
		{
			cut = metric(server, "switchboard_slow_consumer_closes_total") == 2;
			if (!cut)
				std::this_thread::sleep_for(std::chrono::milliseconds(50));
		}
		CPPUNIT_ASSERT(cut);
		CPPUNIT_ASSERT_EQUAL(std::string("4008 Slow consumer"), lastClose(server));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testBadCloseOptionsAreRefused()
	{
		// Codes a server may not send, over-long reasons and timeouts out of range fail
		// addWebSocket, so the plugin.
		for (const TestServer::Keys& bad :
		     {TestServer::Keys{{"ws.idle_close.code", "1006"}}, TestServer::Keys{{"ws.overflow_close.code", "1005"}},
		      TestServer::Keys{{"ws.overflow_close.reason", std::string(124, 'r')}},
		      TestServer::Keys{{"ws.close_timeout_ms", "99"}},
		      TestServer::Keys{{"ws.send_stall_timeout_ms", "3600001"}},
		      TestServer::Keys{{"ws.invalid_text_close.code", "1006"}},
		      TestServer::Keys{{"ws.invalid_text_close.reason", std::string(124, 'r')}},
		      TestServer::Keys{{"ws.max_output_messages", "-1"}},
		      TestServer::Keys{{"ws.max_output_messages", "100000001"}}})
		{
			TestServer server;
			server.set("host", "plugin_dir", SWITCHBOARD_FIXTURE_PLUGIN_DIR);
			TestServer::Keys keys = bad;
			keys["required_text"] = "x";
			server.addPlugin("good", "main", "/g", keys);
			TestServer::RunResult r = server.runWithConfig({});
			CPPUNIT_ASSERT_MESSAGE(r.describe(), r.exitCode != 0);
			CPPUNIT_ASSERT_MESSAGE(r.describe(),
			                       r.output().find("the WebSocket options were refused") != std::string::npos);
			CPPUNIT_ASSERT_MESSAGE(r.describe(), r.output().find("cannot be sent") != std::string::npos ||
			                                         r.output().find("at most 123") != std::string::npos ||
			                                         r.output().find("is outside") != std::string::npos);
		}
	}

	void testEndpointInvalidTextClose()
	{
		// A TEXT message that is not UTF-8 gets the endpoint's close, not 1007 with the host's
		// reason, on the wire and in onClose; the plugin never sees the message.
		TestServer server;
		startFixture(server, {{"ws.invalid_text_close.code", "4002"},
		                      {"ws.invalid_text_close.reason", "Invalid message format"}});
		WsTestClient client;
		CPPUNIT_ASSERT_EQUAL(101, client.connect(LOOPBACK, server.port("main"), "/g/ws").status);
		client.sendFrame(1, "ok \xc3\x28");
		WsTestClient::CloseInfo info = client.expectClose(3000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), 4002, info.code);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), std::string("Invalid message format"), info.reason);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), std::size_t(0), info.skippedFrames.size());
		CPPUNIT_ASSERT_EQUAL(std::string("4002 Invalid message format"), lastClose(server));

		// An invalid close reason is not a TEXT message: still the host's 1007.
		WsTestClient closer;
		CPPUNIT_ASSERT_EQUAL(101, closer.connect(LOOPBACK, server.port("main"), "/g/ws").status);
		closer.sendFrame(8, std::string("\x03\xe8\xff", 3));
		info = closer.expectClose(3000);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), 1007, info.code);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testEndpointMaxOutputMessages()
	{
		// A byte cap of 64 MiB and at most 10 queued messages: 10 small messages at once are
		// queued (and, once read, free their places); the 11th of a burst is DROPPED and the
		// connection closed as a slow consumer, though its 100 bytes are far below the byte cap.
		TestServer server;
		startFixture(server, {{"ws.max_output_queue", std::to_string(64 * 1024 * 1024)},
		                      {"ws.max_output_messages", "10"},
		                      {"ws.idle_timeout_ms", "0"}});
		int port = server.port("main");
		WsTestClient reader;
		CPPUNIT_ASSERT_EQUAL(101, reader.connect(LOOPBACK, port, "/g/ws").status);
		for (int round = 0; round < 3; ++round)
		{
			reader.sendText("tiny 10");
			for (int i = 0; i < 10; ++i)
			{
				WsTestClient::Message m = reader.receiveMessage(3000);
				CPPUNIT_ASSERT_MESSAGE("round " + std::to_string(round) + ": " + m.error, m.ok());
				CPPUNIT_ASSERT_EQUAL(std::string("tinytiny"), m.payload);
			}
		}
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), metric(server, "switchboard_slow_consumer_closes_total"));

		WsTestClient burst;
		CPPUNIT_ASSERT_EQUAL(101, burst.connect(LOOPBACK, port, "/g/ws").status);
		burst.sendText("tiny 50");
		WsTestClient::CloseInfo info = burst.expectClose(3000, false);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), WsTestClient::CloseInfo::NO_CLOSE_FRAME, info.code);
		CPPUNIT_ASSERT_MESSAGE(describe(info), info.eof);
		CPPUNIT_ASSERT_EQUAL(std::string("1008 slow consumer"), lastClose(server));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), metric(server, "switchboard_slow_consumer_closes_total"));

		// The reader is unaffected.
		CPPUNIT_ASSERT(echoRoundTripMs(reader, "still here") < 3000);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testEndpointCloseTimeout()
	{
		// The idle close (600 ms) is sent; the client never answers it. The host drops TCP after
		// the endpoint's close timeout, not after [websocket] close_timeout_ms (5 s here).
		TestServer withDefault;
		withDefault.set("websocket", "close_timeout_ms", "5000");
		startFixture(withDefault, {});
		WsTestClient waiting;
		CPPUNIT_ASSERT_EQUAL(101, waiting.connect(LOOPBACK, withDefault.port("main"), "/g/ws").status);
		WsTestClient::CloseInfo info = waiting.expectClose(3000, false, false);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), 1001, info.code);
		// -1: the host's 5 s applies, so TCP is still up a second later.
		CPPUNIT_ASSERT_MESSAGE("dropped before [websocket] close_timeout_ms", !waiting.waitForEof(1000));
		waiting.abort();
		CPPUNIT_ASSERT_EQUAL(0, withDefault.stop());

		TestServer server;
		server.set("websocket", "close_timeout_ms", "5000");
		startFixture(server, {{"ws.close_timeout_ms", "300"}});
		WsTestClient silent;
		CPPUNIT_ASSERT_EQUAL(101, silent.connect(LOOPBACK, server.port("main"), "/g/ws").status);
		info = silent.expectClose(3000, false, false);
		auto closeSeen = std::chrono::steady_clock::now();
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), 1001, info.code);
		CPPUNIT_ASSERT_MESSAGE(describe(info), !info.eof);
		bool eof = silent.waitForEof(3000);
		double afterMs = millisecondsSince(closeSeen);
		std::string summary = "TCP dropped " + std::to_string(afterMs) + " ms after the close frame";
		CPPUNIT_ASSERT_MESSAGE(summary, eof);
		CPPUNIT_ASSERT_MESSAGE(summary, afterMs >= 150 && afterMs < 2000);
		// onClose was reported with the close, not when TCP went.
		CPPUNIT_ASSERT_EQUAL(std::string("1001 idle timeout"), lastClose(server));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testPingsDeliveredToPlugin()
	{
		// By default the host answers every ping; with deliverPings the plugin decides: the
		// fixture answers pings whose payload starts with "answer" and drops the rest.
		for (bool deliver : {false, true})
		{
			TestServer server;
			startFixture(server, {{"ws.deliver_pings", deliver ? "true" : "false"}});
			WsTestClient client;
			CPPUNIT_ASSERT_EQUAL(101, client.connect(LOOPBACK, server.port("main"), "/g/ws").status);
			client.sendPing("ignore me");
			client.sendPing("answer 1");
			client.sendText("after");
			std::vector<std::string> seen;
			for (int i = 0; i < 3; ++i)
			{
				WsTestClient::Frame frame = client.receive(2000);
				if (!frame.ok())
					break;
				seen.push_back(std::to_string(frame.opcode) + " " + frame.payload);
				if (frame.opcode == WsTestClient::OPCODE_TEXT)
					break;
			}
			std::vector<std::string> expected;
			if (!deliver)
				expected.push_back(std::to_string(WsTestClient::OPCODE_PONG) + " ignore me");
			expected.push_back(std::to_string(WsTestClient::OPCODE_PONG) + " answer 1");
			expected.push_back(std::to_string(WsTestClient::OPCODE_TEXT) + " after");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(deliver ? "deliverPings" : "host answers", expected.size(), seen.size());
			for (std::size_t i = 0; i < expected.size(); ++i)
				CPPUNIT_ASSERT_EQUAL(expected[i], seen[i]);
			client.close();
			CPPUNIT_ASSERT_EQUAL(0, server.stop());
		}
	}

	void testShutdownCloseTimeout()
	{
		// A client that never answers the 1001 of a shutdown: with shutdownCloseTimeoutMs 300 the
		// host drops it well before the endpoint's 8 s close timeout (and the 20 s deadline).
		TestServer server;
		server.set("host", "shutdown_deadline_ms", "20000");
		startFixture(
		    server,
		    {{"ws.close_timeout_ms", "8000"}, {"ws.shutdown_close_timeout_ms", "300"}, {"ws.idle_timeout_ms", "0"}});
		WsTestClient silent;
		CPPUNIT_ASSERT_EQUAL(101, silent.connect(LOOPBACK, server.port("main"), "/g/ws").status);
		server.sendSignal(SIGTERM);
		WsTestClient::CloseInfo info = silent.expectClose(5000, false, false);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(info), 1001, info.code);
		auto closeSeen = std::chrono::steady_clock::now();
		bool eof = silent.waitForEof(6000);
		double afterMs = millisecondsSince(closeSeen);
		std::string summary = "TCP dropped " + std::to_string(afterMs) + " ms after the shutdown's close frame";
		CPPUNIT_ASSERT_MESSAGE(summary, eof);
		CPPUNIT_ASSERT_MESSAGE(summary, afterMs < 3000);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testEndpointSendStallTimeout()
	{
		// One burst of 8 MiB, more than the kernel buffers take, under an endpoint cap of 64 MiB:
		// the output stays above the high watermark, the client reads nothing, and the host closes
		// it as a slow consumer after the endpoint's 300 ms, not [websocket]
		// send_stall_timeout_ms (60 s here).
		TestServer server;
		server.set("websocket", "send_stall_timeout_ms", "60000");
		startFixture(server, {{"ws.send_stall_timeout_ms", "300"},
		                      {"ws.max_output_queue", std::to_string(64 << 20)},
		                      {"ws.idle_timeout_ms", "0"}});
		WsTestClient hog;
		hog.setReceiveBufferSize(4096);
		CPPUNIT_ASSERT_EQUAL(101, hog.connect(LOOPBACK, server.port("main"), "/g/ws").status);
		auto t0 = std::chrono::steady_clock::now();
		hog.sendText("burst 512");
		bool cut = false;
		while (!cut && millisecondsSince(t0) < 5000)
		{
			cut = metric(server, "switchboard_slow_consumer_closes_total") == 1;
			if (!cut)
				std::this_thread::sleep_for(std::chrono::milliseconds(10));
		}
		double afterMs = millisecondsSince(t0);
		std::string summary = "closed " + std::to_string(afterMs) + " ms after the burst";
		CPPUNIT_ASSERT_MESSAGE(summary, cut);
		CPPUNIT_ASSERT_MESSAGE(summary, afterMs >= 250 && afterMs < 2500);
		CPPUNIT_ASSERT_EQUAL(std::string("1008 slow consumer"), lastClose(server));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testMemoryBudgetClosesOldestOffenders()
	{
		TestServer server;
		server.set("websocket", "max_buffered_total", std::to_string(4 << 20));
		server.set("websocket", "max_message_size", std::to_string(1 << 20));
		server.addPlugin("echo", "main", "/echo");
		server.start();
		int port = server.port("main");
		WsTestClient good;
		CPPUNIT_ASSERT_EQUAL(101, good.connect(LOOPBACK, port, "/echo/ws").status);

		// Each holder leaves 900 KiB of a message unfinished: 18 MiB wanted, 4 MiB allowed.
		const int holders = 20;
		std::vector<WsTestClient> clients(holders);
		for (auto& c : clients)
			CPPUNIT_ASSERT_EQUAL(101, c.connect(LOOPBACK, port, "/echo/ws").status);
		const std::string part(900 * 1024, 'm');
		for (int i = 0; i < holders; ++i)
		{
			try
			{
				clients[i].sendFrame(WsTestClient::OPCODE_BINARY, part, false);
			}
			catch (std::exception&)
			{
				// cut while sending: shed already
			}
			echoRoundTripMs(good, "well-behaved " + std::to_string(i));
		}

		int shed = 0;
		std::vector<bool> closed(holders, false);
		for (int i = 0; i < holders; ++i)
		{
			WsTestClient::CloseInfo info = clients[i].expectClose(1000, false, false);
			if (info.code == 1008 && info.reason == "server memory budget exceeded")
			{
				closed[i] = true;
				++shed;
			}
		}
		std::string summary = std::to_string(shed) + " of " + std::to_string(holders) + " shed";
		// At most 4 MiB stays held: 4 holders of 900 KiB.
		CPPUNIT_ASSERT_MESSAGE(summary, shed >= holders - 4);
		CPPUNIT_ASSERT_MESSAGE("the oldest offender goes first: " + summary, closed[0]);
		CPPUNIT_ASSERT_MESSAGE("the budget keeps what fits: " + summary, shed < holders);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(summary, std::int64_t(shed),
		                             metric(server, "switchboard_memory_budget_closes_total"));
		echoRoundTripMs(good, "still echoed");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(WsLimitsIntegrationTest);
