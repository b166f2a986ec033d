//
// SystemdNotifyTest.cpp
//
// The real binary under the service manager's readiness protocol (sd_notify(3)): with
// $NOTIFY_SOCKET set, as systemd sets it for Type=notify, the server sends READY=1 (with its
// MAINPID) once every listener is bound and every plugin started, RELOADING=1 (with
// MONOTONIC_USEC) and READY=1 around a SIGHUP reload, and STOPPING=1 when it begins to shut down.
// The test plays systemd: a datagram socket of its own, a path or an abstract name. A variable that
// names nothing usable is logged and changes nothing else.
//


#include "HttpTestClient.h"
#include "TempDir.h"
#include "TestServer.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <poll.h>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>


using namespace Switchboard::Test;


namespace {


const int WAIT_MS = 5000;


class NotifySocket
/// What systemd listens on: an AF_UNIX datagram socket at a path, or at an abstract name ("@...").
{
public:
	explicit NotifySocket(const std::string& name):
	    _name(name)
	{
		_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		CPPUNIT_ASSERT_MESSAGE("socket", _fd >= 0);
		sockaddr_un address{};
		address.sun_family = AF_UNIX;
		CPPUNIT_ASSERT(name.size() < sizeof(address.sun_path));
		std::memcpy(address.sun_path, name.data(), name.size());
		if (name[0] == '@')
			address.sun_path[0] = '\0';
		const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
		CPPUNIT_ASSERT_MESSAGE("bind " + name + ": " + std::strerror(errno),
		                       ::bind(_fd, reinterpret_cast<sockaddr*>(&address), length) == 0);
	}

	~NotifySocket()
	{
		::close(_fd);
		if (_name[0] == '/')
			::unlink(_name.c_str());
	}

	NotifySocket(const NotifySocket&) = delete;
	NotifySocket& operator=(const NotifySocket&) = delete;

	const std::string& name() const { return _name; }

	std::string next(int timeoutMs = WAIT_MS)
	/// The next datagram, or "" if none came in time.
	{
		pollfd entry{_fd, POLLIN, 0};
		if (::poll(&entry, 1, timeoutMs) != 1)
			return "";
		char buffer[4096];
		const ssize_t n = ::recv(_fd, buffer, sizeof(buffer), 0);
		return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
	}

private:
	std::string _name;
	int _fd = -1;
};


void startEcho(TestServer& server, const std::string& notifySocket)
{
	server.addPlugin("echo", "main", "/echo");
	server.setEnvironment("NOTIFY_SOCKET", notifySocket);
	server.start();
}


void expectLifecycle(TestServer& server, NotifySocket& systemd)
/// READY (the server is ready by then: GET /readyz), a reload's RELOADING and READY, then STOPPING.
{
	const std::string ready = systemd.next();
	CPPUNIT_ASSERT_EQUAL(std::string("READY=1\nSTATUS=serving\nMAINPID=") + std::to_string(server.pid()), ready);
	const HttpResponse health = HttpTestClient::get("127.0.0.1", server.adminPort(), "/readyz");
	CPPUNIT_ASSERT_EQUAL(200, health.status);
	CPPUNIT_ASSERT_EQUAL_MESSAGE("nothing more while serving", std::string(), systemd.next(200));

	CPPUNIT_ASSERT_EQUAL(0, ::kill(server.pid(), SIGHUP));
	const std::string reloading = systemd.next();
	CPPUNIT_ASSERT_MESSAGE(reloading,
	                       std::regex_match(reloading, std::regex("RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*")));
	CPPUNIT_ASSERT_EQUAL(std::string("READY=1"), systemd.next());
	CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get("127.0.0.1", server.adminPort(), "/readyz").status);

	CPPUNIT_ASSERT_EQUAL(0, server.stop());
	CPPUNIT_ASSERT_EQUAL(std::string("STOPPING=1"), systemd.next());
	CPPUNIT_ASSERT_EQUAL(std::string(), systemd.next(200));
}


} // namespace


class SystemdNotifyTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(SystemdNotifyTest);
	CPPUNIT_TEST(testPathSocket);
	CPPUNIT_TEST(testAbstractSocket);
	CPPUNIT_TEST(testUnusableSocketIsLoggedOnly);
	CPPUNIT_TEST_SUITE_END();

public:
	void testPathSocket()
	{
		TempDir dir("switchboard-notify");
		NotifySocket systemd(dir.path() + "/notify");
		TestServer server;
		startEcho(server, systemd.name());
		expectLifecycle(server, systemd);
	}

	void testAbstractSocket()
	{
		NotifySocket systemd("@switchboard-notify-test-" + std::to_string(::getpid()));
		TestServer server;
		startEcho(server, systemd.name());
		expectLifecycle(server, systemd);
	}

	void testUnusableSocketIsLoggedOnly()
	{
		TestServer server;
		startEcho(server, "relative/notify");
		CPPUNIT_ASSERT_EQUAL(200, HttpTestClient::get("127.0.0.1", server.adminPort(), "/readyz").status);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		CPPUNIT_ASSERT_MESSAGE(server.logTail(),
		                       server.logText().find("cannot notify the service manager: NOTIFY_SOCKET is neither") !=
		                           std::string::npos);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(SystemdNotifyTest);
