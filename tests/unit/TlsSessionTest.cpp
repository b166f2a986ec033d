//
// TlsSessionTest.cpp
//
// The host's non-blocking TLS session against a blocking OpenSSL client over a socket pair with
// small buffers: the kernel fills, a record stays pending in the session and goes out on
// writability, and every byte arrives once, in order; coalescing many small pieces into one
// record keeps their order too.
//


#include "TempDir.h"
#include "TestTls.h"
#include "net/Tls.h"
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <atomic>
#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>


using namespace Switchboard::Core;
using namespace Switchboard::Test;


namespace {


struct Pair
{
	int server = -1;
	int client = -1;

	Pair()
	{
		int fds[2];
		if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
			throw std::runtime_error("socketpair failed");
		server = fds[0];
		client = fds[1];
		int small = 4096;
		::setsockopt(server, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		::setsockopt(client, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		::fcntl(server, F_SETFL, O_NONBLOCK);
	}

	~Pair()
	{
		::close(server);
		::close(client);
	}
};


bool waitFor(int fd, short events, int timeoutMs = 5000)
{
	pollfd p{fd, events, 0};
	return ::poll(&p, 1, timeoutMs) == 1;
}


} // namespace


class TlsSessionTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TlsSessionTest);
	CPPUNIT_TEST(testPendingRecordGoesOutOnWritability);
	CPPUNIT_TEST_SUITE_END();

public:
	void testPendingRecordGoesOutOnWritability()
	{
		TempDir dir;
		TestCa ca;
		std::string caFile = dir.path() + "/ca.pem", cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
		ca.writeCertificate(caFile);
		ca.issue("session test", 2, cert, key);
		std::string error;
		std::shared_ptr<TlsContext> context = TlsContext::load(TlsFiles{cert, key, ""}, error);
		CPPUNIT_ASSERT_MESSAGE(error, context != nullptr);
		Pair pair;
		TlsSession session(*context, pair.server);

		// The client: handshake, then wait until the server reports a pending record, then read.
		std::atomic<bool> serverBlocked{false};
		std::string received;
		std::string clientError;
		std::thread client([&] {
			SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
			SSL_CTX_load_verify_locations(ctx, caFile.c_str(), nullptr);
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
			SSL* ssl = SSL_new(ctx);
			SSL_set_fd(ssl, pair.client);
			SSL_set1_host(ssl, "localhost");
			if (SSL_connect(ssl) != 1)
				clientError = "client handshake failed";
			for (int i = 0; i < 500 && !serverBlocked.load() && clientError.empty(); ++i)
				std::this_thread::sleep_for(std::chrono::milliseconds(10));
			char buffer[4096];
			std::size_t got = 0;
			while (clientError.empty() && SSL_read_ex(ssl, buffer, sizeof(buffer), &got) == 1)
				received.append(buffer, got);
			ERR_clear_error();
			SSL_free(ssl);
			SSL_CTX_free(ctx);
		});

		auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
		TlsSession::Io io;
		while ((io = session.handshake()) == TlsSession::Io::WOULD_BLOCK && std::chrono::steady_clock::now() < deadline)
			waitFor(pair.server, session.wantsWritable() ? POLLOUT : POLLIN);
		CPPUNIT_ASSERT(io == TlsSession::Io::OK);

		// 300 KiB: single large pieces, then many small ones gathered into records.
		std::string expected;
		for (int i = 0; i < 300 * 1024; ++i)
			expected.push_back(static_cast<char>('a' + (i * 7 + i / 1000) % 26));
		std::size_t offset = 0;
		bool sawPending = false;
		while (offset < expected.size() && std::chrono::steady_clock::now() < deadline)
		{
			if (session.hasPendingOutput())
			{
				sawPending = true;
				serverBlocked = true;
				waitFor(pair.server, POLLOUT, 100);
				CPPUNIT_ASSERT(session.flushPending() != TlsSession::Io::FAILED);
				continue;
			}
			std::vector<iovec> pieces;
			std::size_t pieceSize = offset < expected.size() / 2 ? 20000 : 37;
			for (std::size_t at = offset; at < expected.size() && pieces.size() < 64; at += pieceSize)
				pieces.push_back(
				    iovec{const_cast<char*>(expected.data() + at), std::min(pieceSize, expected.size() - at)});
			std::size_t taken = 0;
			io = session.write(pieces.data(), static_cast<int>(pieces.size()), taken);
			CPPUNIT_ASSERT(io == TlsSession::Io::OK || io == TlsSession::Io::WOULD_BLOCK);
			offset += taken;
		}
		while (session.hasPendingOutput() && std::chrono::steady_clock::now() < deadline)
		{
			serverBlocked = true;
			waitFor(pair.server, POLLOUT, 100);
			session.flushPending();
		}
		serverBlocked = true;
		session.shutdown();
		::shutdown(pair.server, SHUT_WR);
		client.join();
		CPPUNIT_ASSERT_MESSAGE(clientError, clientError.empty());
		CPPUNIT_ASSERT_MESSAGE("the kernel never filled: the pending path was not exercised", sawPending);
		CPPUNIT_ASSERT_EQUAL(expected.size(), received.size());
		CPPUNIT_ASSERT(expected == received);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TlsSessionTest);
