//
// TogetherDurabilityIntegrationTest.cpp
//
// What the Together plugin keeps across restarts of the real switchboard binary
// (docs/protocols/together.md §2.1, §2.2, §3):
//
// - a graceful restart (SIGTERM, then start): users, servers, members, channels and messages are
//   served as before, access tokens stay valid (the secret persists) and refresh-token families
//   keep their rotation state (rotation, reuse detection, logout); voice state is not persisted;
// - kill -9 under concurrent message posts and registrations: every message whose POST was
//   answered 201 is returned by GET /channels/:id/messages after the restart, paging with
//   before=..., unchanged; every acknowledged user logs in and finds its acknowledged server.
//


#include "Deadline.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include "TogetherTestSupport.h"
#include <Poco/JSON/Parser.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <csignal>
#include <cstdint>
#include <iostream>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <thread>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Together;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


const TestServer::Keys FAST_HASH = {{"password.memlimit", "8192"}, {"password.opslimit", "1"}};
const std::string REFRESH_GONE = "Session not found, expired, or token already rotated";


std::string describe(const HttpResponse& response)
{
	return "HTTP " + std::to_string(response.status) + " " + response.body;
}


Object::Ptr expectObject(const HttpResponse& response, int status)
{
	CPPUNIT_ASSERT_EQUAL_MESSAGE(describe(response), status, response.status);
	return object(response.body);
}


std::string refreshBody(const std::string& token)
{
	return "{\"refresh_token\":" + quote(token) + "}";
}


std::string get(TestServer& server, const std::string& path, const std::string& token)
/// The body of a GET that must answer 200.
{
	HttpResponse response = call(server, "GET", path, token);
	CPPUNIT_ASSERT_EQUAL_MESSAGE(path + ": " + describe(response), 200, response.status);
	return response.body;
}


struct Acked
/// A message whose POST was answered 201.
{
	std::string id;
	std::string channelId;
	std::string authorId;
	std::string content;
	std::string createdAt;
};


std::map<std::string, Object::Ptr> allMessages(TestServer& server, const User& reader, const std::string& channelId,
                                               std::size_t expectedAtMost)
/// Every message of the channel by paging newest first with limit=100 and before=<last id>;
/// asserts the pages are in (created_at, id) DESC order without duplicates.
{
	std::map<std::string, Object::Ptr> messages;
	std::string cursor;
	std::pair<std::string, std::string> previous;
	const std::size_t maxPages = expectedAtMost / 100 + 3;
	for (std::size_t pages = 0;; ++pages)
	{
		CPPUNIT_ASSERT_MESSAGE("more pages than messages posted", pages < maxPages);
		const std::string path =
		    "/channels/" + channelId + "/messages?limit=100" + (cursor.empty() ? "" : "&before=" + cursor);
		Array::Ptr page = array(get(server, path, reader.accessToken));
		for (std::size_t i = 0; i < page->size(); ++i)
		{
			Object::Ptr message = page->getObject(static_cast<unsigned>(i));
			const std::string id = text(message, "id");
			const std::pair<std::string, std::string> key(text(message, "created_at"), id);
			CPPUNIT_ASSERT_MESSAGE("order at " + id, previous.second.empty() || key < previous);
			previous = key;
			CPPUNIT_ASSERT_MESSAGE("listed twice: " + id, messages.emplace(id, message).second);
			cursor = id;
		}
		if (page->size() < 100)
			break;
	}
	return messages;
}


} // namespace


class TogetherDurabilityIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(TogetherDurabilityIntegrationTest);
	CPPUNIT_TEST(testGracefulRestartKeepsEverything);
	CPPUNIT_TEST(testKillDuringMessageLoad);
	CPPUNIT_TEST_SUITE_END();

public:
	void testGracefulRestartKeepsEverything()
	{
		TestServer server;
		configure(server, FAST_HASH);
		server.start();
		User alice = registerUser(server, "alice");
		User bob = registerUser(server, "bob");
		const std::string s = createServer(server, alice, "Durable");
		expectObject(call(server, "PATCH", "/servers/" + s, alice.accessToken, "{\"description\":\"kept\"}"), 200);
		joinServer(server, bob, s);
		const std::string general = createChannel(server, alice, s, "general", "text");
		const std::string voice = createChannel(server, alice, s, "voice", "voice");
		const std::string news =
		    text(expectObject(call(server, "POST", "/servers/" + s + "/channels", alice.accessToken,
		                           "{\"name\":\"news\",\"type\":\"text\",\"topic\":\"t\","
		                           "\"category\":\"c\"}"),
		                      201),
		         "id");
		const std::string first = text(postMessage(server, alice, general, "first"), "id");
		const std::string second = text(postMessage(server, bob, general, "second"), "id");
		expectObject(call(server, "POST", "/channels/" + general + "/messages", bob.accessToken,
		                  "{\"content\":\"a reply\",\"reply_to\":" + quote(first) + "}"),
		             201);
		expectObject(call(server, "PATCH", "/messages/" + second, bob.accessToken, "{\"content\":\"second, edited\"}"),
		             200);
		const std::string removed = text(postMessage(server, alice, general, "removed"), "id");
		CPPUNIT_ASSERT_EQUAL(204, call(server, "DELETE", "/messages/" + removed, alice.accessToken).status);
		postMessage(server, bob, news, "news item");
		expectObject(call(server, "PATCH", "/users/@me", alice.accessToken,
		                  "{\"custom_status\":\"busy\",\"avatar_url\":\"https://example.com/a.png\"}"),
		             200);
		expectObject(call(server, "POST", "/channels/" + voice + "/voice", bob.accessToken), 201);

		// Refresh state: alice rotated R1 -> R2; bob has a second family he logged out.
		const std::string r1 = alice.refreshToken;
		const std::string r2 =
		    text(expectObject(call(server, "POST", "/auth/refresh", "", refreshBody(r1)), 200), "refresh_token");
		Object::Ptr bobLogin =
		    expectObject(call(server, "POST", "/auth/login", "",
		                      "{\"username\":" + quote(bob.username) + ",\"password\":\"password123\"}"),
		                 200);
		const std::string loggedOut = text(bobLogin, "refresh_token");
		CPPUNIT_ASSERT_EQUAL(204, call(server, "POST", "/auth/logout", "", refreshBody(loggedOut)).status);

		const std::vector<std::string> paths = {"/servers",
		                                        "/servers/" + s,
		                                        "/servers/" + s + "/members",
		                                        "/servers/" + s + "/channels",
		                                        "/servers/" + s + "/channels/" + news,
		                                        "/channels/" + general + "/messages?limit=100",
		                                        "/channels/" + news + "/messages",
		                                        "/users/@me"};
		std::vector<std::string> before;
		for (const std::string& path : paths)
			before.push_back(get(server, path, alice.accessToken));
		const std::string bobServers = get(server, "/servers", bob.accessToken);

		// A graceful restart (what TestServer::restart() does, with the exit code checked).
		CPPUNIT_ASSERT_EQUAL(0, server.stop(SIGTERM));
		server.start();

		// Everything is served as before, with the access tokens issued before the restart.
		for (std::size_t i = 0; i < paths.size(); ++i)
			CPPUNIT_ASSERT_EQUAL_MESSAGE(paths[i], before[i], get(server, paths[i], alice.accessToken));
		CPPUNIT_ASSERT_EQUAL(bobServers, get(server, "/servers", bob.accessToken));
		Object::Ptr me = object(get(server, "/users/@me", alice.accessToken));
		CPPUNIT_ASSERT_EQUAL(std::string("busy"), text(me, "custom_status"));
		CPPUNIT_ASSERT_EQUAL(std::string("offline"), text(me, "status"));
		Array::Ptr listed = array(get(server, "/channels/" + general + "/messages", alice.accessToken));
		CPPUNIT_ASSERT_EQUAL(std::size_t(3), listed->size());
		CPPUNIT_ASSERT_EQUAL(std::string("second, edited"), text(listed->getObject(1), "content"));
		CPPUNIT_ASSERT_EQUAL(text(listed->getObject(1), "edited_at"), text(listed->getObject(1), "updated_at"));
		CPPUNIT_ASSERT_EQUAL(first, text(listed->getObject(0), "reply_to"));
		// Voice state is not persisted.
		CPPUNIT_ASSERT_EQUAL(std::string("[]"), get(server, "/channels/" + voice + "/voice", alice.accessToken));

		// Refresh families: the rotated R1 is still known (reuse revokes the family), bob's logout holds.
		expectError(call(server, "POST", "/auth/refresh", "", refreshBody(loggedOut)), 401, REFRESH_GONE);
		const std::string r3 =
		    text(expectObject(call(server, "POST", "/auth/refresh", "", refreshBody(r2)), 200), "refresh_token");
		expectError(call(server, "POST", "/auth/refresh", "", refreshBody(r1)), 401, REFRESH_GONE);
		expectError(call(server, "POST", "/auth/refresh", "", refreshBody(r3)), 401, REFRESH_GONE);
		Object::Ptr bobRefreshed =
		    expectObject(call(server, "POST", "/auth/refresh", "", refreshBody(bob.refreshToken)), 200);
		CPPUNIT_ASSERT_EQUAL(bob.id, text(bobRefreshed->getObject("user"), "id"));
		expectObject(call(server, "POST", "/auth/login", "",
		                  "{\"username\":" + quote(alice.username) + ",\"password\":\"password123\"}"),
		             200);

		// Writes continue where they left off: positions, ordering, membership.
		Object::Ptr channel = expectObject(call(server, "POST", "/servers/" + s + "/channels", alice.accessToken,
		                                        "{\"name\":\"later\",\"type\":\"text\"}"),
		                                   201);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(3), channel->getValue<std::int64_t>("position"));
		const std::string after = text(postMessage(server, bob, general, "after the restart"), "id");
		Array::Ptr newest = array(get(server, "/channels/" + general + "/messages?limit=2", bob.accessToken));
		CPPUNIT_ASSERT_EQUAL(after, text(newest->getObject(0), "id"));
		CPPUNIT_ASSERT_EQUAL(text(listed->getObject(0), "id"), text(newest->getObject(1), "id"));
		expectError(call(server, "POST", "/servers/" + s + "/join", bob.accessToken), 409,
		            "Already a member of this server");
		User carol = registerUser(server, "carol");
		joinServer(server, carol, s);
		CPPUNIT_ASSERT_EQUAL(
		    std::int64_t(3),
		    object(get(server, "/servers/" + s, carol.accessToken))->getValue<std::int64_t>("member_count"));
		expectError(call(server, "POST", "/auth/register", "",
		                 "{\"username\":" + quote(alice.username) + ",\"password\":\"password123\"}"),
		            409, "Username already taken");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}

	void testKillDuringMessageLoad()
	{
		TestServer server;
		configure(server, FAST_HASH);
		server.start();
		std::vector<User> users = {registerUser(server, "load_a"), registerUser(server, "load_b"),
		                           registerUser(server, "load_c")};
		const std::string s = createServer(server, users[0], "Load");
		joinServer(server, users[1], s);
		joinServer(server, users[2], s);
		const std::vector<std::string> channels = {createChannel(server, users[0], s, "one", "text"),
		                                           createChannel(server, users[0], s, "two", "text")};

		constexpr int THREADS = 4;
		constexpr int MAX_POSTS_PER_THREAD = 4000;
		std::mutex mutex;
		std::vector<Acked> acked;
		std::vector<std::string> unexpected;
		std::atomic<bool> killed(false);
		std::atomic<int> ackCount(0);
		std::vector<std::thread> threads;
		for (int t = 0; t < THREADS; ++t)
		{
			threads.emplace_back([&, t] {
				const User& user = users[static_cast<std::size_t>(t) % users.size()];
				const std::string& channel = channels[static_cast<std::size_t>(t) % channels.size()];
				const int serverPort = port(server);
				for (int n = 0; n < MAX_POSTS_PER_THREAD; ++n)
				{
					const std::string content = "t" + std::to_string(t) + "-" + std::to_string(n);
					HttpResponse response;
					try
					{
						response = HttpTestClient::request(
						    LOOPBACK, serverPort, "POST", "/channels/" + channel + "/messages",
						    {{"Authorization", "Bearer " + user.accessToken}, {"Content-Type", "application/json"}},
						    "{\"content\":\"" + content + "\"}", 10000);
					}
					catch (const std::exception& error)
					{
						if (!killed)
						{
							std::lock_guard<std::mutex> lock(mutex);
							unexpected.push_back(content + ": " + error.what());
						}
						return;
					}
					if (response.status != 201)
					{
						std::lock_guard<std::mutex> lock(mutex);
						unexpected.push_back(content + ": " + describe(response));
						return;
					}
					try
					{
						Poco::JSON::Parser parser;
						Object::Ptr message = parser.parse(response.body).extract<Object::Ptr>();
						Acked entry{message->getValue<std::string>("id"), channel, user.id,
						            message->getValue<std::string>("content"),
						            message->getValue<std::string>("created_at")};
						std::lock_guard<std::mutex> lock(mutex);
						if (entry.content != content)
							unexpected.push_back(content + ": echoed as " + entry.content);
						acked.push_back(entry);
						++ackCount;
					}
					catch (const std::exception& error)
					{
						std::lock_guard<std::mutex> lock(mutex);
						unexpected.push_back(content + ": bad 201 body " + response.body + " (" + error.what() + ")");
						return;
					}
				}
			});
		}

		// Beside the posts: registrations, each followed by the new user's own server (users and
		// servers rows written under the same kill).
		struct AckedAccount
		{
			std::string username;
			std::string userId;
			std::string serverId; ///< empty if the server was not acknowledged
		};
		std::vector<AckedAccount> accounts;
		threads.emplace_back([&] {
			const int serverPort = port(server);
			for (int n = 0; n < MAX_POSTS_PER_THREAD && !killed; ++n)
			{
				AckedAccount account{uniqueName("kill"), "", ""};
				try
				{
					HttpResponse registered = HttpTestClient::request(
					    LOOPBACK, serverPort, "POST", "/auth/register", {{"Content-Type", "application/json"}},
					    "{\"username\":\"" + account.username + "\",\"password\":\"password123\"}", 10000);
					if (registered.status != 201)
					{
						std::lock_guard<std::mutex> lock(mutex);
						unexpected.push_back(account.username + ": " + describe(registered));
						return;
					}
					Poco::JSON::Parser parser;
					Object::Ptr body = parser.parse(registered.body).extract<Object::Ptr>();
					account.userId = body->getObject("user")->getValue<std::string>("id");
					{
						std::lock_guard<std::mutex> lock(mutex);
						accounts.push_back(account);
					}
					HttpResponse created = HttpTestClient::request(
					    LOOPBACK, serverPort, "POST", "/servers",
					    {{"Authorization", "Bearer " + body->getValue<std::string>("access_token")},
					     {"Content-Type", "application/json"}},
					    "{\"name\":\"S" + std::to_string(n) + "\"}", 10000);
					if (created.status != 201)
					{
						std::lock_guard<std::mutex> lock(mutex);
						unexpected.push_back(account.username + " server: " + describe(created));
						return;
					}
					Object::Ptr guild = Poco::JSON::Parser().parse(created.body).extract<Object::Ptr>();
					std::lock_guard<std::mutex> lock(mutex);
					accounts.back().serverId = guild->getValue<std::string>("id");
				}
				catch (const std::exception& error)
				{
					if (!killed)
					{
						std::lock_guard<std::mutex> lock(mutex);
						unexpected.push_back(account.username + ": " + error.what());
					}
					return;
				}
			}
		});

		// Kill once the load is well under way (or after a bounded wait).
		Deadline loadDeadline(20000);
		while (ackCount < 300 && !loadDeadline.expired())
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		const int ackedBeforeKill = ackCount;
		killed = true;
		server.stop(SIGKILL);
		for (std::thread& thread : threads)
			thread.join();
		std::string problems;
		for (const std::string& problem : unexpected)
			problems += problem + "\n";
		CPPUNIT_ASSERT_MESSAGE(problems, unexpected.empty());
		CPPUNIT_ASSERT_MESSAGE("only " + std::to_string(ackedBeforeKill) + " posts acknowledged before the kill",
		                       ackedBeforeKill >= 300);
		CPPUNIT_ASSERT_MESSAGE("the load ended before the kill", acked.size() < THREADS * MAX_POSTS_PER_THREAD);
		CPPUNIT_ASSERT_MESSAGE(server.lastExit().describe(), !server.lastExit().exited);

		server.start();
		std::size_t listedTotal = 0;
		static const std::regex loadContent("^t[0-9]+-[0-9]+$");
		for (const std::string& channel : channels)
		{
			std::map<std::string, Object::Ptr> listed =
			    allMessages(server, users[0], channel, THREADS * MAX_POSTS_PER_THREAD);
			listedTotal += listed.size();
			for (const auto& entry : listed)
			{
				const std::string content = text(entry.second, "content");
				CPPUNIT_ASSERT_MESSAGE("unexpected content '" + content + "'", std::regex_match(content, loadContent));
				CPPUNIT_ASSERT_EQUAL(channel, text(entry.second, "channel_id"));
			}
			for (const Acked& message : acked)
			{
				if (message.channelId != channel)
					continue;
				auto found = listed.find(message.id);
				CPPUNIT_ASSERT_MESSAGE("acknowledged message " + message.id + " (" + message.content +
				                           ") lost after kill -9",
				                       found != listed.end());
				CPPUNIT_ASSERT_EQUAL(message.content, text(found->second, "content"));
				CPPUNIT_ASSERT_EQUAL(message.authorId, text(found->second, "author_id"));
				CPPUNIT_ASSERT_EQUAL(message.createdAt, text(found->second, "created_at"));
			}
		}
		// At most one message per thread was in flight at the kill.
		CPPUNIT_ASSERT_MESSAGE(std::to_string(listedTotal) + " listed, " + std::to_string(acked.size()) +
		                           " acknowledged",
		                       listedTotal >= acked.size() && listedTotal <= acked.size() + THREADS);
		std::cerr << "\n  " << acked.size() << " acknowledged posts, " << listedTotal << " listed after kill -9"
		          << std::endl;
		// Every acknowledged registration logs in, with its acknowledged server listed.
		std::size_t serversAcknowledged = 0;
		for (const AckedAccount& account : accounts)
		{
			HttpResponse login = call(server, "POST", "/auth/login", "",
			                          "{\"username\":\"" + account.username + "\",\"password\":\"password123\"}");
			CPPUNIT_ASSERT_EQUAL_MESSAGE(account.username + " lost after kill -9: " + login.body, 200, login.status);
			Object::Ptr body = object(login.body);
			CPPUNIT_ASSERT_EQUAL(account.userId, body->getObject("user")->getValue<std::string>("id"));
			if (account.serverId.empty())
				continue;
			++serversAcknowledged;
			HttpResponse listed = call(server, "GET", "/servers", body->getValue<std::string>("access_token"));
			CPPUNIT_ASSERT_EQUAL(200, listed.status);
			CPPUNIT_ASSERT_MESSAGE("server of " + account.username + " lost after kill -9",
			                       listed.body.find(account.serverId) != std::string::npos);
		}
		std::cerr << "  " << accounts.size() << " acknowledged registrations (" << serversAcknowledged
		          << " with their server) all there after kill -9" << std::endl;
		CPPUNIT_ASSERT_MESSAGE("no registration acknowledged before the kill", !accounts.empty());
		// The plugin keeps working on the recovered data.
		postMessage(server, users[1], channels[0], "after the crash");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(TogetherDurabilityIntegrationTest);
