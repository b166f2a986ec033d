//
// StorageFailureIntegrationTest.cpp
//
// What the real switchboard binary does when its data directory runs out of space (issue 13,
// docs/storage.md "When the disk is full"): the server runs in a private mount namespace whose data
// directory is a small tmpfs, the test fills that file system through /proc/<pid>/root, then
//
// - writes fail with each protocol's own error (Together: 500 "Internal server error"; GoVPN:
//   "Error creating room in database"), and what was not acknowledged is nowhere to be seen;
// - everything that does not write keeps working: Together reads and the gateway, GoVPN Ping and
//   GetUserRooms, the admin listener;
// - once space returns, writes succeed again without a restart, every acknowledged write is there,
//   and the server still stops cleanly (its final checkpoint needs space too).
//
// Needs CAP_SYS_ADMIN for the mount namespace (CI runs as root); elsewhere it says why and skips.
//


#include "GovpnTestSupport.h"
#include "HttpResponse.h"
#include "TestServer.h"
#include "TogetherTestSupport.h"
#include "WsTestClient.h"
#include <Poco/JSON/Parser.h>
#include <cerrno>
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <map>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>


using namespace Switchboard::Test;
using Poco::JSON::Array;
using Poco::JSON::Object;


namespace {


constexpr int MAX_WRITES_UNTIL_FULL = 3000; // the WAL's slack is at most ~4 MB of 4 KB messages


bool canUseMountNamespace(std::string& why)
{
	const int status = std::system("unshare -m --propagation private true >/dev/null 2>&1");
	if (status == 0)
		return true;
	why = "'unshare -m' failed (needs root or CAP_SYS_ADMIN and util-linux's unshare)";
	return false;
}


std::string writeWrapper(TempDir& dir)
/// A script that runs the real binary (same pid, thanks to exec) in a new mount namespace after
/// running the shell command in $TEST_DATA_MOUNT there (which mounts something on the data directory).
{
	const std::string script =
	    "#!/bin/sh\n"
	    "exec unshare -m --propagation private sh -c 'eval \"$TEST_DATA_MOUNT\" && exec \"$0\" \"$@\"' \"" +
	    TestServer::defaultBinary() + "\" \"$@\"\n";
	return dir.writeFile("run-with-mount.sh", script, 0755);
}


std::string makeDataDirectory(TestServer& server)
/// The base config's [storage] directory, created so that something can be mounted on it.
{
	const std::string dataDirectory = server.dir().path() + "/data";
	CPPUNIT_ASSERT_EQUAL(0, ::mkdir(dataDirectory.c_str(), 0700));
	return dataDirectory;
}


std::string mountSource(pid_t pid, const std::string& mountPoint)
/// The source (e.g. /dev/loop3) of what is mounted on mountPoint in pid's mount namespace.
{
	std::ifstream in("/proc/" + std::to_string(pid) + "/mountinfo");
	std::string line;
	while (std::getline(in, line))
	{
		std::istringstream fields(line);
		std::vector<std::string> field{std::istream_iterator<std::string>(fields),
		                               std::istream_iterator<std::string>()};
		auto separator = std::find(field.begin(), field.end(), "-");
		if (field.size() > 4 && field[4] == mountPoint && separator != field.end() && separator + 2 < field.end())
			return *(separator + 2);
	}
	return "";
}


std::size_t fillFileSystem(const std::string& fillerPath)
/// Writes fillerPath until the file system is full; returns the bytes written.
{
	const int fd = ::open(fillerPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CPPUNIT_ASSERT_MESSAGE("cannot create " + fillerPath + ": " + std::strerror(errno), fd >= 0);
	std::vector<char> block(64 * 1024, 'x');
	std::size_t written = 0;
	for (int i = 0; i < 4096; ++i) // bounded: 256 MiB, far above the tmpfs size
	{
		const ssize_t n = ::write(fd, block.data(), block.size());
		if (n <= 0)
		{
			CPPUNIT_ASSERT_EQUAL_MESSAGE("the filler stopped for another reason than a full disk", ENOSPC, errno);
			break;
		}
		written += static_cast<std::size_t>(n);
	}
	::close(fd);
	return written;
}


std::string roomIdOf(const std::string& frame)
/// The room_id of a RoomCreated frame in object form, "" for anything else.
{
	Poco::JSON::Parser parser;
	Object::Ptr message = parser.parse(frame).extract<Object::Ptr>();
	if (message->getValue<std::string>("type") != "RoomCreated")
		return "";
	return message->getObject("payload")->getValue<std::string>("room_id");
}


std::set<std::string> userRoomIds(WsTestClient& client, const std::string& key)
{
	client.sendText(Govpn::envelope(Govpn::MODE_OBJECT, "g", "GetUserRooms", "{\"public_key\":\"" + key + "\"}"));
	Poco::JSON::Parser parser;
	Object::Ptr message = parser.parse(Govpn::receiveText(client)).extract<Object::Ptr>();
	CPPUNIT_ASSERT_EQUAL(std::string("UserRooms"), message->getValue<std::string>("type"));
	Array::Ptr rooms = message->getObject("payload")->getArray("rooms");
	std::set<std::string> ids;
	for (std::size_t i = 0; i < rooms->size(); ++i)
		ids.insert(rooms->getObject(static_cast<unsigned>(i))->getValue<std::string>("room_id"));
	return ids;
}


void expectRooms(TestServer& server, const std::map<std::string, std::string>& roomByOwner)
/// Each owner's GetUserRooms lists exactly its room (asked on a connection of its own).
{
	for (const auto& entry : roomByOwner)
	{
		WsTestClient client;
		Govpn::connectWs(client, server);
		CPPUNIT_ASSERT(std::set<std::string>{entry.second} == userRoomIds(client, entry.first));
	}
}


struct Written
/// What a test stores before the disk fails: Together messages and a GoVPN room.
{
	Together::User alice;
	std::string channel;
	std::set<std::string> messages;
	std::map<std::string, std::string> rooms; ///< owner's public key -> room (one room per key)
};


Written writeBeforeTheFailure(TestServer& server, WsTestClient& govpn)
/// Three messages in a new channel and one room created on govpn (connected here).
{
	Written written;
	written.alice = Together::registerUser(server, "alice");
	const std::string guild = Together::createServer(server, written.alice);
	written.channel = Together::createChannel(server, written.alice, guild, "general", "text");
	for (int i = 0; i < 3; ++i)
	{
		const std::string content = "before-" + std::to_string(i);
		Together::postMessage(server, written.alice, written.channel, content);
		written.messages.insert(content);
	}
	const std::string owner = Govpn::publicKey(1);
	Govpn::connectWs(govpn, server);
	written.rooms[owner] = Govpn::createRoom(govpn, "c0", owner, "Before", "1234");
	return written;
}


std::set<std::string> messageContents(TestServer& server, const Together::User& reader, const std::string& channelId,
                                      std::size_t expectedAtMost)
/// Every message content of the channel, paging newest first.
{
	std::set<std::string> contents;
	std::string cursor;
	for (std::size_t pages = 0; pages < expectedAtMost / 100 + 3; ++pages)
	{
		HttpResponse response = Together::call(server, "GET",
		                                       "/channels/" + channelId + "/messages?limit=100" +
		                                           (cursor.empty() ? "" : "&before=" + cursor),
		                                       reader.accessToken);
		CPPUNIT_ASSERT_EQUAL_MESSAGE(response.body, 200, response.status);
		Array::Ptr page = Together::array(response.body);
		for (std::size_t i = 0; i < page->size(); ++i)
		{
			Object::Ptr message = page->getObject(static_cast<unsigned>(i));
			contents.insert(message->getValue<std::string>("content"));
			cursor = message->getValue<std::string>("id");
		}
		if (page->size() < 100)
			return contents;
	}
	CPPUNIT_FAIL("more pages than messages posted");
	return contents;
}


} // namespace


class StorageFailureIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(StorageFailureIntegrationTest);
	CPPUNIT_TEST(testDiskFullFailsWritesKeepsReadsAndRecovers);
	CPPUNIT_TEST(testFileSystemTurnedReadOnlyFailsWritesKeepsReads);
	CPPUNIT_TEST(testReadOnlyDataDirectoryRefusedAtStartWithin2Seconds);
	CPPUNIT_TEST_SUITE_END();

public:
	void testReadOnlyDataDirectoryRefusedAtStartWithin2Seconds()
	{
		// Regression: Poco retried the failed open for 60 s before start-up failed.
		std::string why;
		if (!canUseMountNamespace(why))
		{
			std::cout << "\n[skipped] " << why << std::endl;
			return;
		}
		TempDir scripts("switchboard-rodir");
		TestServer server(writeWrapper(scripts));
		const std::string dataDirectory = makeDataDirectory(server);
		server.setEnvironment("TEST_DATA_MOUNT", "mount -t tmpfs -o ro tmpfs '" + dataDirectory + "'");
		server.addListener("govpn");
		server.addPlugin("govpn", "govpn", "");
		const auto startedAt = std::chrono::steady_clock::now();
		TestServer::RunResult run = server.runWithConfig({}, 20000);
		const auto elapsedMs =
		    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - startedAt).count();
		std::cout << "\n[read-only directory] exit " << run.exitCode << " after " << elapsedMs << " ms" << std::endl;
		CPPUNIT_ASSERT_EQUAL_MESSAGE(run.describe(), 70, run.exitCode);
		CPPUNIT_ASSERT_MESSAGE(run.describe(),
		                       run.output().find("cannot open database '" + dataDirectory +
		                                         "/govpn.sqlite' (its directory is not writable: Read-only file "
		                                         "system)") != std::string::npos);
		CPPUNIT_ASSERT_MESSAGE(std::to_string(elapsedMs) + " ms", elapsedMs < 2000 + 1000);
	}

	void testFileSystemTurnedReadOnlyFailsWritesKeepsReads()
	{
		// What ext4 does after an I/O error with errors=remount-ro: every write fails from then on
		// (until an fsck), reads go on. The kernel's own trigger_fs_error makes that happen.
		std::string why;
		if (!canUseMountNamespace(why))
		{
			std::cout << "\n[skipped] " << why << std::endl;
			return;
		}
		TempDir scripts("switchboard-ext4");
		const std::string image = scripts.path() + "/data.ext4";
		const std::string probeMount = scripts.path() + "/probe";
		const std::string prepare = "truncate -s 64M '" + image + "' && mkfs.ext4 -q -F '" + image + "' && mkdir '" +
		                            probeMount + "' && unshare -m --propagation private mount -o loop '" + image +
		                            "' '" + probeMount + "'";
		if (std::system(("(" + prepare + ") >/dev/null 2>&1").c_str()) != 0)
		{
			std::cout << "\n[skipped] cannot make and loop-mount an ext4 image (mkfs.ext4, loop devices)" << std::endl;
			return;
		}
		TestServer server(writeWrapper(scripts));
		const std::string dataDirectory = makeDataDirectory(server);
		server.setEnvironment("TEST_DATA_MOUNT",
		                      "mount -o loop,errors=remount-ro '" + image + "' '" + dataDirectory + "'");
		Together::configure(server);
		Govpn::startGovpn(server, {{"pwhash_opslimit", "1"}, {"pwhash_memlimit", "8192"}});

		WsTestClient govpn;
		Written written = writeBeforeTheFailure(server, govpn);
		Together::User& alice = written.alice;
		const std::string& channel = written.channel;
		std::set<std::string>& acknowledgedMessages = written.messages;
		std::map<std::string, std::string>& acknowledgedRooms = written.rooms;

		const std::string device = mountSource(server.pid(), dataDirectory);
		CPPUNIT_ASSERT_MESSAGE("no loop device on " + dataDirectory, device.rfind("/dev/loop", 0) == 0);
		const std::string trigger = "/sys/fs/ext4/" + device.substr(5) + "/trigger_fs_error";
		{
			std::ofstream out(trigger);
			if (!out)
			{
				std::cout << "\n[skipped] this kernel has no " << trigger << std::endl;
				return;
			}
			out << "switchboard StorageFailureIntegrationTest: simulated disk error\n";
		}
		std::cout << "\n[read-only] " << device << " turned read-only" << std::endl;

		HttpResponse refused = Together::call(server, "POST", "/channels/" + channel + "/messages", alice.accessToken,
		                                      "{\"content\":\"refused\"}");
		Together::expectError(refused, 500, "Internal server error");
		WsTestClient creator;
		Govpn::connectWs(creator, server);
		const std::string key = Govpn::publicKey(2);
		creator.sendText(
		    Govpn::envelope(Govpn::MODE_OBJECT, "c1", "CreateRoom",
		                    "{\"room_name\":\"Late\",\"password\":\"1234\",\"public_key\":\"" + key + "\"}"));
		Govpn::expectExact(creator, Govpn::serverFrame(Govpn::MODE_OBJECT, "c1", "Error",
		                                               "{\"error\":\"Error creating room in database\"}"));

		// Reads, pings and the gateway go on; nothing refused is visible.
		CPPUNIT_ASSERT(acknowledgedMessages == messageContents(server, alice, channel, acknowledgedMessages.size()));
		expectRooms(server, acknowledgedRooms);
		CPPUNIT_ASSERT(userRoomIds(creator, key).empty());
		Govpn::pingReply(Govpn::MODE_BASE64, "p1", govpn);
		Together::Session session = Together::openSession(server, alice);
		Together::expectNothingBut(session.client);
		CPPUNIT_ASSERT(server.running());
		CPPUNIT_ASSERT(server.logText().find("Read-only file system") != std::string::npos ||
		               server.logText().find("disk I/O error") != std::string::npos ||
		               server.logText().find("readonly") != std::string::npos);
		// The final checkpoint cannot be written: said in the log; what was committed is in the WAL.
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		CPPUNIT_ASSERT(server.logText().find("storage of 'together': the final checkpoint failed") !=
		               std::string::npos);
	}

	void testDiskFullFailsWritesKeepsReadsAndRecovers()
	{
		std::string why;
		if (!canUseMountNamespace(why))
		{
			std::cout << "\n[skipped] " << why << std::endl;
			return;
		}
		TempDir scripts("switchboard-diskfull");
		TestServer server(writeWrapper(scripts));
		const std::string dataDirectory = makeDataDirectory(server);
		server.setEnvironment("TEST_DATA_MOUNT", "mount -t tmpfs -o size=16m tmpfs '" + dataDirectory + "'");
		Together::configure(server);
		// Argon2id at libsodium's minimum: rooms are created until the disk fills.
		Govpn::startGovpn(server, {{"pwhash_opslimit", "1"}, {"pwhash_memlimit", "8192"}});
		const std::string dataSeenFromHere = "/proc/" + std::to_string(server.pid()) + "/root" + dataDirectory;

		// What is written before the disk fills.
		WsTestClient govpn; // no X-Client-ID: no connect-time pushes
		Written written = writeBeforeTheFailure(server, govpn);
		Together::User& alice = written.alice;
		const std::string& channel = written.channel;
		std::set<std::string>& acknowledgedMessages = written.messages;
		std::map<std::string, std::string>& acknowledgedRooms = written.rooms;

		const std::size_t filled = fillFileSystem(dataSeenFromHere + "/filler");
		std::cout << "\n[disk full] filler " << filled / 1024 << " KiB" << std::endl;

		// Together: posts succeed while the WAL has room, then fail with the protocol's 500.
		const std::string bulk(3900, 'm');
		int posts = 0;
		std::set<std::string> refusedMessages;
		for (; posts < MAX_WRITES_UNTIL_FULL && refusedMessages.empty(); ++posts)
		{
			const std::string content = "during-" + std::to_string(posts) + "-" + bulk;
			HttpResponse response = Together::call(server, "POST", "/channels/" + channel + "/messages",
			                                       alice.accessToken, "{\"content\":\"" + content + "\"}");
			if (response.status == 201)
				acknowledgedMessages.insert(content);
			else
			{
				Together::expectError(response, 500, "Internal server error");
				refusedMessages.insert(content);
			}
		}
		std::cout << "[disk full] Together: " << posts - 1 << " posts fitted before the first 500" << std::endl;
		CPPUNIT_ASSERT_MESSAGE("no post failed on a full disk", !refusedMessages.empty());
		HttpResponse again = Together::call(server, "POST", "/channels/" + channel + "/messages", alice.accessToken,
		                                    "{\"content\":\"refused-again\"}");
		Together::expectError(again, 500, "Internal server error");
		refusedMessages.insert("refused-again");

		// GoVPN: the same, with the contract's database error.
		int creates = 0;
		bool refusedRoom = false;
		for (; creates < MAX_WRITES_UNTIL_FULL && !refusedRoom; ++creates)
		{
			const std::string id = "c" + std::to_string(creates + 1);
			const std::string key = Govpn::publicKey(100 + creates);
			WsTestClient creator; // a connection speaks for one public key
			Govpn::connectWs(creator, server);
			creator.sendText(
			    Govpn::envelope(Govpn::MODE_OBJECT, id, "CreateRoom",
			                    "{\"room_name\":\"Full\",\"password\":\"1234\",\"public_key\":\"" + key + "\"}"));
			const std::string reply = Govpn::receiveText(creator);
			if (reply ==
			    Govpn::serverFrame(Govpn::MODE_OBJECT, id, "Error", "{\"error\":\"Error creating room in database\"}"))
			{
				refusedRoom = true;
				CPPUNIT_ASSERT(userRoomIds(creator, key).empty()); // nothing half-written
			}
			else
			{
				const std::string room = roomIdOf(reply);
				CPPUNIT_ASSERT_MESSAGE("unexpected reply: " + reply, !room.empty());
				acknowledgedRooms[key] = room;
			}
		}
		std::cout << "[disk full] GoVPN: " << creates - 1 << " rooms fitted before the first database error"
		          << std::endl;
		CPPUNIT_ASSERT_MESSAGE("no CreateRoom failed on a full disk", refusedRoom);

		// What does not write goes on: reads, pushes, pings, the admin listener.
		CPPUNIT_ASSERT(acknowledgedMessages == messageContents(server, alice, channel, acknowledgedMessages.size()));
		expectRooms(server, acknowledgedRooms);
		Govpn::pingReply(Govpn::MODE_BASE64, "p1", govpn);
		Together::Session session = Together::openSession(server, alice);
		Together::expectNothingBut(session.client);
		CPPUNIT_ASSERT(server.running());

		// Space returns: writes succeed at once, nothing refused shows up, nothing acknowledged is lost.
		CPPUNIT_ASSERT_EQUAL(0, ::unlink((dataSeenFromHere + "/filler").c_str()));
		Together::postMessage(server, alice, channel, "after");
		acknowledgedMessages.insert("after");
		const std::string lateOwner = Govpn::publicKey(99);
		WsTestClient lateSocket;
		Govpn::connectWs(lateSocket, server);
		acknowledgedRooms[lateOwner] = Govpn::createRoom(lateSocket, "c-after", lateOwner, "After", "1234");
		CPPUNIT_ASSERT(acknowledgedMessages == messageContents(server, alice, channel, acknowledgedMessages.size()));
		expectRooms(server, acknowledgedRooms);
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(StorageFailureIntegrationTest);
