//
// TransportHandOffTest.cpp
//
// The transport's hand-off racing its shutdown, made deterministic: an upgraded socket whose
// hand-off reaches its loop after shutdown closed that loop's connections still gets its 1001
// at once, instead of sitting open until the shutdown deadline cuts it without a close frame.
//


#include "net/Transport.h"
#include "plugin/PluginSlot.h"
#include "Poco/Net/ServerSocket.h"
#include "Poco/Net/StreamSocket.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>


using namespace Switchboard;
using namespace Switchboard::Core;


namespace {


class TestSlot: public PluginSlot
{
public:
	PluginId pluginId() const noexcept override { return 1; }
	const std::string& slotName() const noexcept override { return _name; }
	void timerFinished(TimerId) noexcept override {}
	void connectionFinished(ConnectionId) noexcept override {}

protected:
	void caught(PluginSite, const char*) noexcept override {}

private:
	std::string _name = "test";
};


class CountingHandler: public WebSocketHandler
{
public:
	void onOpen(Connection&, const HttpRequest&) override { ++opened; }
	void onMessage(Connection&, std::string_view, MessageKind) override {}
	void onClose(Connection&, std::uint16_t, std::string_view) override { ++closed; }

	std::atomic<int> opened{0};
	std::atomic<int> closed{0};
};


struct SocketPair
/// A connected loopback TCP pair: the server side as the HTTP front hands it over
/// (non-blocking), the client side a plain blocking descriptor.
{
	Poco::Net::StreamSocket server;
	int client = -1;

	explicit SocketPair(Poco::Net::ServerSocket& listener)
	{
		client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		sockaddr_in address{};
		address.sin_family = AF_INET;
		address.sin_port = htons(listener.address().port());
		address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
			throw std::runtime_error("connect failed");
		server = listener.acceptConnection();
		server.setBlocking(false);
	}

	~SocketPair()
	{
		if (client >= 0)
			::close(client);
	}
};


int closeCodeWithin(int fd, int timeoutMs)
/// The status code of the first frame the server sends if it is a close frame, -1 if nothing
/// arrives in time, 0 for anything else (or the connection ending without a close frame).
{
	pollfd p{fd, POLLIN, 0};
	if (::poll(&p, 1, timeoutMs) != 1)
		return -1;
	unsigned char frame[4] = {};
	ssize_t n = ::recv(fd, frame, sizeof(frame), MSG_WAITALL);
	if (n < 4 || (frame[0] & 0x0F) != 0x8)
		return 0;
	return (frame[2] << 8) | frame[3];
}


} // namespace


class TransportHandOffTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TransportHandOffTest);
	CPPUNIT_TEST(testHandOffAfterShutdownClosedTheLoopGets1001AtOnce);
	CPPUNIT_TEST_SUITE_END();

public:
	void testHandOffAfterShutdownClosedTheLoopGets1001AtOnce()
	{
		TransportSettings settings;
		settings.eventLoops = 1;
		settings.closeTimeoutMs = 60000; // only the shutdown deadline ends a close handshake here
		Transport transport(settings, Poco::Logger::get("test.transport"), TransportCounters());
		transport.start();
		TestSlot slot;
		CountingHandler handler;
		Endpoint endpoint{"/ws", &handler, &slot, 1 << 20, 0, 0, 1 << 20, CloseCode::NONE};
		Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0));

		// A first connection keeps the shutdown waiting: its client never answers the 1001.
		SocketPair first(listener);
		transport.handOff(first.server, nullptr, "", HttpRequest(), endpoint);
		for (int i = 0; i < 500 && handler.opened.load() < 1; ++i)
			std::this_thread::sleep_for(std::chrono::milliseconds(2));
		CPPUNIT_ASSERT_EQUAL(1, handler.opened.load());

		const std::int64_t deadlineMs = 4000;
		std::thread stopper([&] { transport.shutdown(CloseCode::GOING_AWAY, "", deadlineMs); });
		// The loop has closed its connections (the first client has its 1001)...
		int firstCode = closeCodeWithin(first.client, 2000);
		if (firstCode != CloseCode::GOING_AWAY || transport.accepting())
		{
			stopper.join();
			CPPUNIT_FAIL("the first connection got close code " + std::to_string(firstCode));
		}
		// ...and only then does an upgrade the HTTP front completed a moment earlier arrive.
		SocketPair late(listener);
		auto handedOff = std::chrono::steady_clock::now();
		transport.handOff(late.server, nullptr, "", HttpRequest(), endpoint);
		int code = closeCodeWithin(late.client, 2000);
		auto waited =
		    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - handedOff).count();
		stopper.join(); // before any assertion: a failed one must not leave the thread running
		std::string summary = "close code " + std::to_string(code) + " after " + std::to_string(waited) + " ms";
		CPPUNIT_ASSERT_EQUAL_MESSAGE(summary, int(CloseCode::GOING_AWAY), code);
		CPPUNIT_ASSERT_MESSAGE(summary, waited < deadlineMs / 2);
		CPPUNIT_ASSERT_EQUAL(2, handler.closed.load());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TransportHandOffTest);
