//
// GovpnDurabilityIntegrationTest.cpp
//
// What the GoVPN plugin keeps, and how, when the real switchboard binary is killed, stopped or
// slowed down (docs/protocols/govpn.md §6, §8, §11, §12, §13, §16), over real loopback sockets:
//
// - kill -9 under concurrent CreateRoom/JoinRoom load: every acknowledged room and membership is
//   in the SQLite file and served after a restart, and nothing is half-written;
// - the stored password is an Argon2id string without the PIN;
// - expiry: the start-up sweep before the first connection, and the periodic sweep with members
//   online (RoomDeleted, presence cleared), an activity refresh keeping a room alive;
// - graceful stop: ServerShutdown in each socket's mode, requests answered during the grace
//   period, close 1001, no PeerDisconnected, everyone offline after the restart;
// - a write lock held on govpn.sqlite by another process: writes fail after storage_timeout with
//   the database error strings, reads and pushes stay prompt, and writes succeed once released.
//
// The test reads and changes the plugin's file itself with the sqlite3 C API, only while the
// server is stopped (or, for the lock, exactly to hold it).
//


#include "Deadline.h"
#include "GovpnTestSupport.h"
#include "HttpTestClient.h"
#include "TestServer.h"
#include "WsTestClient.h"
#include <algorithm>
#include <memory>
#include <atomic>
#include <chrono>
#include <cppunit/TestFixture.h>
#include <cppunit/extensions/HelperMacros.h>
#include <csignal>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <regex>
#include <sqlite3.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>


using namespace Switchboard::Test;
using namespace Switchboard::Test::Govpn;


namespace {


const std::int64_t DAY_MS = 86400000;


std::int64_t wallMs()
{
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
	    .count();
}


std::int64_t steadyMs()
{
	return Deadline::nowMicros() / 1000;
}


std::string loadKey(int index)
/// A distinct valid public key for each index below 65536 (publicKey() has only 256).
{
	std::string bytes(32, '\0');
	bytes[0] = static_cast<char>(0xA5);
	bytes[1] = static_cast<char>((index >> 8) & 0xFF);
	bytes[2] = static_cast<char>(index & 0xFF);
	for (int i = 3; i < 32; ++i)
		bytes[static_cast<std::size_t>(i)] = static_cast<char>((i * 29 + index * 7) & 0xFF);
	return base64Encode(bytes);
}


std::string userRoomsEntry(const std::string& roomId, const std::string& name, bool connected)
/// One entry of a UserRooms template for expectFrame().
{
	return "{\"room_id\":\"" + roomId + "\",\"room_name\":\"" + name +
	       "\",\"is_connected\":" + (connected ? "true" : "false") +
	       ",\"joined_at\":\"<TIME>\",\"last_connected\":\"<TIME>\"}";
}


void expectConnectPushes(WsTestClient& socket, const std::string& roomsJson)
/// The compat-mode pushes of a socket upgraded with X-Client-ID: UserRooms, then ClientIPInfo (§5.1).
{
	expectFrame(socket, MODE_BASE64, "", "UserRooms", "{\"rooms\":" + roomsJson + "}");
	expectFrame(socket, MODE_BASE64, "", "ClientIPInfo", "{\"ipv4\":\"127.0.0.1\",\"ipv6\":\"\"}");
}


std::int64_t statsNumber(TestServer& server, const std::string& key)
{
	HttpResponse stats = HttpTestClient::get(LOOPBACK, server.port("govpn"), "/stats");
	CPPUNIT_ASSERT_EQUAL(200, stats.status);
	std::smatch match;
	CPPUNIT_ASSERT_MESSAGE(key + " in " + stats.body,
	                       std::regex_search(stats.body, match, std::regex("\"" + key + "\":([0-9]+)")));
	return std::stoll(match[1].str());
}


std::string databasePath(TestServer& server)
{
	return server.dir().filePath("data/govpn.sqlite");
}


class Database
/// The plugin's SQLite file opened by the test through the sqlite3 C API. Throws
/// std::runtime_error on any SQLite error (CppUnit reports it as a failure).
{
public:
	using Rows = std::vector<std::vector<std::string>>;

	Database(const std::string& path, bool readOnly)
	{
		int flags = readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
		if (sqlite3_open_v2(path.c_str(), &_db, flags, nullptr) != SQLITE_OK)
		{
			std::string error = _db ? sqlite3_errmsg(_db) : "out of memory";
			sqlite3_close(_db);
			throw std::runtime_error("cannot open " + path + ": " + error);
		}
		sqlite3_busy_timeout(_db, 5000);
	}

	~Database() { sqlite3_close(_db); }

	Database(const Database&) = delete;
	Database& operator=(const Database&) = delete;

	Rows query(const std::string& sql, const std::vector<std::string>& params = {})
	/// Every row of one statement, cells as text ("" for NULL); params bound as text.
	{
		sqlite3_stmt* statement = nullptr;
		if (sqlite3_prepare_v2(_db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK)
			throw std::runtime_error("prepare " + sql + ": " + sqlite3_errmsg(_db));
		for (std::size_t i = 0; i < params.size(); ++i)
			sqlite3_bind_text(statement, static_cast<int>(i + 1), params[i].c_str(), -1, SQLITE_TRANSIENT);
		Rows rows;
		int rc = SQLITE_ROW;
		while ((rc = sqlite3_step(statement)) == SQLITE_ROW)
		{
			std::vector<std::string> row;
			for (int c = 0; c < sqlite3_column_count(statement); ++c)
			{
				const unsigned char* text = sqlite3_column_text(statement, c);
				row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
			}
			rows.push_back(std::move(row));
		}
		std::string error = sqlite3_errmsg(_db);
		sqlite3_finalize(statement);
		if (rc != SQLITE_DONE)
			throw std::runtime_error("step " + sql + ": " + error);
		return rows;
	}

	std::string text(const std::string& sql, const std::vector<std::string>& params = {})
	/// The first cell of the first row; "" when there is no row.
	{
		Rows rows = query(sql, params);
		return rows.empty() || rows[0].empty() ? "" : rows[0][0];
	}

	std::int64_t number(const std::string& sql, const std::vector<std::string>& params = {})
	{
		std::string value = text(sql, params);
		return value.empty() ? -1 : std::stoll(value);
	}

	void run(const std::string& sql)
	{
		char* message = nullptr;
		if (sqlite3_exec(_db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK)
		{
			std::string error = message ? message : sqlite3_errmsg(_db);
			sqlite3_free(message);
			throw std::runtime_error(sql + ": " + error);
		}
	}

	void expectConsistent()
	/// SQLite's own checks, plus the plugin's invariants: no membership without its room, no room
	/// without its owner's membership (both are written in the CreateRoom transaction).
	{
		CPPUNIT_ASSERT_EQUAL(std::string("ok"), text("PRAGMA integrity_check"));
		CPPUNIT_ASSERT_EQUAL(std::size_t(0), query("PRAGMA foreign_key_check").size());
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     number("SELECT COUNT(*) FROM memberships WHERE room_id NOT IN (SELECT id FROM rooms)"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     number("SELECT COUNT(*) FROM rooms r WHERE NOT EXISTS (SELECT 1 FROM memberships m "
		                            "WHERE m.room_id = r.id AND m.public_key = r.owner_public_key AND "
		                            "m.username = 'Owner')"));
	}

private:
	sqlite3* _db = nullptr;
};


// --- concurrent load for the kill -9 test ------------------------------------------------------


struct AckedRoom
{
	std::string id;
	std::string name;
	std::string password;
	std::string owner;
};


struct AckedMember
{
	std::string roomId;
	std::string roomName;
	std::string key;
	std::string username;
};


struct LoadLedger
/// What the load clients saw acknowledged, shared between their threads.
{
	std::mutex mutex;
	std::vector<AckedRoom> rooms;
	std::vector<AckedMember> members;
	std::vector<std::string> problems; ///< anything wrong seen before the kill
	std::atomic<int> nextKey{0};
	std::atomic<int> activeClients{0};
	std::atomic<bool> killed{false};

	void problem(const std::string& what)
	{
		std::lock_guard<std::mutex> lock(mutex);
		if (!killed) // after the kill, failures are what the test is about
			problems.push_back(what);
	}

	std::size_t roomCount()
	{
		std::lock_guard<std::mutex> lock(mutex);
		return rooms.size();
	}

	std::size_t memberCount()
	{
		std::lock_guard<std::mutex> lock(mutex);
		return members.size();
	}
};


struct Reply
{
	bool received = false;
	std::string type;
	std::string inner;
	std::string frame;
};


bool splitFrame(Mode mode, const std::string& frame, std::string& messageId, std::string& type, std::string& inner)
/// A server frame's envelope and its decoded inner JSON; false if it is not a well-formed frame.
{
	static const std::regex pattern("^\\{\"message_id\":\"([^\"]*)\",\"type\":\"([A-Za-z]+)\",\"payload\":"
	                                "([\\s\\S]*)\\}\n$");
	std::smatch parts;
	if (!std::regex_match(frame, parts, pattern))
		return false;
	messageId = parts[1].str();
	type = parts[2].str();
	try
	{
		if (mode == MODE_OBJECT)
			inner = parts[3].str();
		else if (mode == MODE_BASE64)
			inner = base64Decode(jsonUnquote(parts[3].str()));
		else
			inner = jsonUnquote(parts[3].str());
	}
	catch (const std::exception&)
	{
		return false;
	}
	return true;
}


Reply awaitReply(WsTestClient& socket, Mode mode, const std::string& messageId, int timeoutMs)
/// The reply carrying messageId, skipping notifications (message_id ""); not received if the
/// connection ended or the time ran out. Thread-safe per socket; never asserts.
{
	Deadline deadline(timeoutMs);
	Reply reply;
	while (!deadline.expired())
	{
		WsTestClient::Message message = socket.receiveMessage(deadline.remainingMs());
		if (message.timedOut() || message.closed() || message.result == WsTestClient::RESULT_PROTOCOL_ERROR)
			return reply;
		if (message.opcode != WsTestClient::OPCODE_TEXT)
			continue;
		std::string id;
		reply.received = true;
		reply.frame = message.payload;
		if (!splitFrame(mode, message.payload, id, reply.type, reply.inner))
		{
			reply.type = "(malformed)";
			return reply;
		}
		if (id == messageId)
			return reply;
	}
	reply.received = false;
	return reply;
}


void runLoadClient(int port, Mode mode, unsigned seed, int maxOperations, LoadLedger& ledger)
/// Alternates CreateRoom (a fresh key each) and JoinRoom (a fresh key into a room acknowledged so
/// far), one socket per request, recording every acknowledgement, until the server dies.
{
	std::mt19937 random(seed);
	static const std::regex roomIdPattern("\"room_id\":\"([0-9a-f]{16})\"");
	for (int operation = 0; operation < maxOperations && !ledger.killed; ++operation)
	{
		AckedRoom target;
		bool join = operation % 2 == 1;
		if (join)
		{
			std::lock_guard<std::mutex> lock(ledger.mutex);
			if (ledger.rooms.empty())
				join = false;
			else
				target = ledger.rooms[random() % ledger.rooms.size()];
		}
		int index = ledger.nextKey++;
		std::string key = loadKey(index);
		std::string messageId = "m" + std::to_string(index);
		try
		{
			WsTestClient socket;
			HttpResponse response = socket.connect(LOOPBACK, port, "/ws", {}, WAIT_MS);
			if (response.status != 101)
			{
				ledger.problem("upgrade answered " + std::to_string(response.status));
				break;
			}
			if (!join)
			{
				std::string password = std::to_string(1000 + random() % 9000);
				std::string name = "Load room " + std::to_string(index);
				socket.sendText(envelope(mode, messageId, "CreateRoom",
				                         "{\"room_name\":\"" + name + "\",\"password\":\"" + password +
				                             "\",\"public_key\":\"" + key + "\"}"));
				Reply reply = awaitReply(socket, mode, messageId, 15000);
				if (!reply.received)
				{
					ledger.problem("no reply to CreateRoom " + messageId);
					break;
				}
				std::smatch match;
				std::string roomId = std::regex_search(reply.inner, match, roomIdPattern) ? match[1].str() : "";
				std::string expected = "{\"password\":\"" + password + "\",\"public_key\":\"" + key +
				                       "\",\"room_id\":\"" + roomId + "\",\"room_name\":\"" + name + "\"}";
				if (reply.type != "RoomCreated" || reply.inner != expected)
				{
					ledger.problem("CreateRoom " + messageId + " answered " + reply.frame);
					break;
				}
				std::lock_guard<std::mutex> lock(ledger.mutex);
				ledger.rooms.push_back({roomId, name, password, key});
			}
			else
			{
				std::string username = "User " + std::to_string(index);
				socket.sendText(envelope(mode, messageId, "JoinRoom",
				                         "{\"room_id\":\"" + target.id + "\",\"password\":\"" + target.password +
				                             "\",\"public_key\":\"" + key + "\",\"username\":\"" + username + "\"}"));
				Reply reply = awaitReply(socket, mode, messageId, 15000);
				if (!reply.received)
				{
					ledger.problem("no reply to JoinRoom " + messageId);
					break;
				}
				if (reply.type != "RoomJoined" ||
				    reply.inner != "{\"room_id\":\"" + target.id + "\",\"room_name\":\"" + target.name + "\"}")
				{
					ledger.problem("JoinRoom " + messageId + " answered " + reply.frame);
					break;
				}
				std::lock_guard<std::mutex> lock(ledger.mutex);
				ledger.members.push_back({target.id, target.name, key, username});
			}
		}
		catch (const std::exception& e)
		{
			ledger.problem(std::string("load client: ") + e.what());
			break;
		}
	}
	--ledger.activeClients;
}


class HeldLock
/// A write transaction on the plugin's file from the test process, as another program holding
/// the operator's database would (WAL: BEGIN IMMEDIATE takes the one write lock).
{
public:
	explicit HeldLock(const std::string& path):
	    _database(path, false)
	{
		_database.run("BEGIN IMMEDIATE");
	}

	~HeldLock()
	{
		try
		{
			release();
		}
		catch (...)
		{
			// Closing the connection rolls back anyway.
		}
	}

	void release()
	{
		if (_held)
			_database.run("ROLLBACK");
		_held = false;
	}

private:
	Database _database;
	bool _held = true;
};


} // namespace


class GovpnDurabilityIntegrationTest: public CppUnit::TestFixture
{
	CPPUNIT_TEST_SUITE(GovpnDurabilityIntegrationTest);
	CPPUNIT_TEST(testKillDuringWriteLoadKeepsAcknowledgedWrites);
	CPPUNIT_TEST(testStoredPasswordIsArgon2idHash);
	CPPUNIT_TEST(testExpiredRoomRemovedAtStart);
	CPPUNIT_TEST(testPeriodicSweepWithMembersOnline);
	CPPUNIT_TEST(testGracefulStopWithSocketsInAndOutOfRooms);
	CPPUNIT_TEST(testGraceBoundedByShutdownDeadline);
	CPPUNIT_TEST(testLockedDatabaseDelaysWritesNotReads);
	CPPUNIT_TEST(testLockedDatabaseLeavesWorkersForHashing);
	CPPUNIT_TEST(testJoinsAnsweredAsTheirHashesFinish);
	CPPUNIT_TEST_SUITE_END();

public:
	void testKillDuringWriteLoadKeepsAcknowledgedWrites()
	{
		TestServer server;
		// Every client is 127.0.0.1: lift the per-IP bucket out of the way of the load.
		startGovpn(server, {{"rate_limit_burst", "100000"}});
		const int clientCount = 4;
		const int maxOperations = 40;
		const std::size_t wantedRooms = 16;
		const std::size_t wantedMembers = 16;
		LoadLedger ledger;
		ledger.activeClients = clientCount;
		std::vector<std::thread> clients;
		const Mode modes[] = {MODE_BASE64, MODE_OBJECT, MODE_STRING, MODE_BASE64};
		for (int i = 0; i < clientCount; ++i)
			clients.emplace_back(runLoadClient, server.port("govpn"), modes[i], 7919u * (i + 1), maxOperations,
			                     std::ref(ledger));

		Deadline loadDeadline(40000);
		while (!loadDeadline.expired() && ledger.activeClients > 0 &&
		       (ledger.roomCount() < wantedRooms || ledger.memberCount() < wantedMembers))
			std::this_thread::sleep_for(std::chrono::milliseconds(10));
		int stillRunning = ledger.activeClients;
		{
			std::lock_guard<std::mutex> lock(ledger.mutex);
			ledger.killed = true;
		}
		int code = server.stop(SIGKILL);
		for (std::thread& client : clients)
			client.join();
		std::vector<AckedRoom> rooms;
		std::vector<AckedMember> members;
		{
			std::lock_guard<std::mutex> lock(ledger.mutex);
			rooms = ledger.rooms;
			members = ledger.members;
			std::string problems;
			for (const std::string& p : ledger.problems)
				problems += p + "\n";
			CPPUNIT_ASSERT_MESSAGE("before the kill:\n" + problems, ledger.problems.empty());
		}
		CPPUNIT_ASSERT_EQUAL(128 + SIGKILL, code);
		CPPUNIT_ASSERT_MESSAGE("the load had ended before the kill", stillRunning > 0);
		CPPUNIT_ASSERT(rooms.size() >= wantedRooms);
		CPPUNIT_ASSERT(members.size() >= wantedMembers);

		// The file as the crash left it (WAL included), read-only.
		{
			Database database(databasePath(server), true);
			database.expectConsistent();
			for (const AckedRoom& room : rooms)
			{
				Database::Rows row = database.query(
				    "SELECT name, owner_public_key, substr(password_hash, 1, 10) FROM rooms WHERE id = ?", {room.id});
				CPPUNIT_ASSERT_EQUAL_MESSAGE("acknowledged room " + room.id, std::size_t(1), row.size());
				CPPUNIT_ASSERT_EQUAL(room.name, row[0][0]);
				CPPUNIT_ASSERT_EQUAL(room.owner, row[0][1]);
				CPPUNIT_ASSERT_EQUAL(std::string("$argon2id$"), row[0][2]);
			}
			for (const AckedMember& member : members)
				CPPUNIT_ASSERT_EQUAL_MESSAGE(
				    "acknowledged membership of " + member.key + " in " + member.roomId, member.username,
				    database.text("SELECT username FROM memberships WHERE room_id = ? AND public_key = ?",
				                  {member.roomId, member.key}));
			std::cout << "\n[kill -9] acknowledged " << rooms.size() << " rooms and " << members.size()
			          << " joins; the file holds " << database.number("SELECT COUNT(*) FROM rooms") << " rooms and "
			          << database.number("SELECT COUNT(*) FROM memberships") << " memberships" << std::endl;
		}

		server.start();
		// Each owner's real-client handshake lists its room, offline.
		for (const AckedRoom& room : rooms)
		{
			WsTestClient owner;
			connectWs(owner, server, {{"X-Client-ID", room.owner}});
			expectConnectPushes(owner, "[" + userRoomsEntry(room.id, room.name, false) + "]");
		}
		// Each member comes back without the password (one at a time: nobody else online).
		for (const AckedMember& member : members)
		{
			WsTestClient socket;
			connectWs(socket, server, {{"X-Client-ID", member.key}});
			expectConnectPushes(socket, "[" + userRoomsEntry(member.roomId, member.roomName, false) + "]");
			socket.sendText(envelope(MODE_BASE64, "k1", "ConnectRoom",
			                         "{\"room_id\":\"" + member.roomId + "\",\"public_key\":\"" + member.key +
			                             "\",\"username\":\"User\"}"));
			expectFrame(socket, MODE_BASE64, "k1", "RoomConnected",
			            "{\"room_id\":\"" + member.roomId + "\",\"room_name\":\"" + member.roomName + "\"}");
		}
		// The stored hashes still check passwords: a wrong one fails, the right one joins.
		const std::size_t passwordChecks = std::min<std::size_t>(rooms.size(), 12);
		for (std::size_t i = 0; i < passwordChecks; ++i)
		{
			const AckedRoom& room = rooms[i];
			std::string key = loadKey(40000 + static_cast<int>(i));
			std::string wrong = room.password == "0000" ? "0001" : "0000";
			WsTestClient socket;
			connectWs(socket, server);
			socket.sendText(envelope(MODE_OBJECT, "w1", "JoinRoom",
			                         "{\"room_id\":\"" + room.id + "\",\"password\":\"" + wrong +
			                             "\",\"public_key\":\"" + key + "\",\"username\":\"Late\"}"));
			expectExact(socket, serverFrame(MODE_OBJECT, "w1", "Error", "{\"error\":\"Incorrect password\"}"));
			socket.sendText(envelope(MODE_OBJECT, "j1", "JoinRoom",
			                         "{\"room_id\":\"" + room.id + "\",\"password\":\"" + room.password +
			                             "\",\"public_key\":\"" + key + "\",\"username\":\"Late\"}"));
			expectFrame(socket, MODE_OBJECT, "j1", "RoomJoined",
			            "{\"room_id\":\"" + room.id + "\",\"room_name\":\"" + room.name + "\"}");
		}
		CPPUNIT_ASSERT_EQUAL(0, server.stop());

		Database database(databasePath(server), true);
		database.expectConsistent();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), database.number("SELECT COUNT(*) FROM memberships WHERE is_connected"));
		for (const AckedRoom& room : rooms)
			CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
			                     database.number("SELECT COUNT(*) FROM rooms WHERE id = ?", {room.id}));
	}

	void testStoredPasswordIsArgon2idHash()
	{
		TestServer server;
		startGovpn(server);
		const std::string pin = "9153";
		const std::string owner = publicKey(21);
		WsTestClient socket;
		connectWs(socket, server);
		socket.sendText(
		    envelope(MODE_OBJECT, "c1", "CreateRoom",
		             "{\"room_name\":\"Hashed\",\"password\":\"" + pin + "\",\"public_key\":\"" + owner + "\"}"));
		std::string room = expectFrame(socket, MODE_OBJECT, "c1", "RoomCreated",
		                               "{\"password\":\"" + pin + "\",\"public_key\":\"" + owner +
		                                   "\",\"room_id\":\"<ROOM>\",\"room_name\":\"Hashed\"}")
		                       .at(0);
		socket.close();
		CPPUNIT_ASSERT_EQUAL(0, server.stop());

		Database database(databasePath(server), true);
		std::string hash = database.text("SELECT password_hash FROM rooms WHERE id = ?", {room});
		CPPUNIT_ASSERT_MESSAGE(hash, hash.rfind("$argon2id$", 0) == 0);
		// libsodium's string: version, the configured cost (64 MiB, 2 passes), salt and hash.
		CPPUNIT_ASSERT_MESSAGE(hash,
		                       std::regex_match(hash, std::regex("\\$argon2id\\$v=19\\$m=65536,t=2,p=1\\$[A-Za-z0-9+/]+"
		                                                         "\\$[A-Za-z0-9+/]+")));
		CPPUNIT_ASSERT_MESSAGE(hash, hash.find(pin) == std::string::npos);
		// Nor anywhere else in the files or the log.
		for (const char* suffix : {"", "-wal", "-shm"})
		{
			std::ifstream file(databasePath(server) + suffix, std::ios::binary);
			std::stringstream bytes;
			bytes << file.rdbuf();
			CPPUNIT_ASSERT_MESSAGE(std::string("govpn.sqlite") + suffix, bytes.str().find(pin) == std::string::npos);
		}
		CPPUNIT_ASSERT(server.logText().find("\"" + pin + "\"") == std::string::npos);
	}

	void testExpiredRoomRemovedAtStart()
	{
		TestServer server;
		startGovpn(server);
		const std::string owner = publicKey(31);
		const std::string member = publicKey(32);
		const std::string keeper = publicKey(33);
		std::string stale, kept;
		{
			WsTestClient ownerSocket;
			connectWs(ownerSocket, server);
			ownerSocket.sendText(
			    envelope(MODE_OBJECT, "c1", "CreateRoom",
			             "{\"room_name\":\"Stale\",\"password\":\"1111\",\"public_key\":\"" + owner + "\"}"));
			stale = expectFrame(ownerSocket, MODE_OBJECT, "c1", "RoomCreated",
			                    "{\"password\":\"1111\",\"public_key\":\"" + owner +
			                        "\",\"room_id\":\"<ROOM>\",\"room_name\":\"Stale\"}")
			            .at(0);
			WsTestClient memberSocket;
			connectWs(memberSocket, server);
			memberSocket.sendText(envelope(MODE_OBJECT, "j1", "JoinRoom",
			                               "{\"room_id\":\"" + stale + "\",\"password\":\"1111\",\"public_key\":\"" +
			                                   member + "\",\"username\":\"Alice\"}"));
			expectFrame(memberSocket, MODE_OBJECT, "j1", "RoomJoined",
			            "{\"room_id\":\"" + stale + "\",\"room_name\":\"Stale\"}");
			WsTestClient keeperSocket;
			connectWs(keeperSocket, server);
			keeperSocket.sendText(
			    envelope(MODE_OBJECT, "c2", "CreateRoom",
			             "{\"room_name\":\"Fresh\",\"password\":\"2222\",\"public_key\":\"" + keeper + "\"}"));
			kept = expectFrame(keeperSocket, MODE_OBJECT, "c2", "RoomCreated",
			                   "{\"password\":\"2222\",\"public_key\":\"" + keeper +
			                       "\",\"room_id\":\"<ROOM>\",\"room_name\":\"Fresh\"}")
			           .at(0);
		}
		CPPUNIT_ASSERT_EQUAL(0, server.stop());
		{
			// 31 days without activity, as if the server had been down that long.
			Database database(databasePath(server), false);
			database.run("UPDATE rooms SET last_active = " + std::to_string(wallMs() - 31 * DAY_MS) + " WHERE id = '" +
			             stale + "'");
		}
		server.start();

		// The first connection already finds it gone: the sweep ran inside start().
		WsTestClient ownerSocket;
		connectWs(ownerSocket, server, {{"X-Client-ID", owner}});
		expectConnectPushes(ownerSocket, "[]");
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), statsNumber(server, "stale_rooms_removed"));
		WsTestClient memberSocket;
		connectWs(memberSocket, server);
		memberSocket.sendText(envelope(MODE_OBJECT, "g1", "GetUserRooms", "{\"public_key\":\"" + member + "\"}"));
		expectExact(memberSocket, serverFrame(MODE_OBJECT, "g1", "UserRooms", "{\"rooms\":[]}"));
		memberSocket.sendText(
		    envelope(MODE_OBJECT, "k1", "ConnectRoom",
		             "{\"room_id\":\"" + stale + "\",\"public_key\":\"" + member + "\",\"username\":\"User\"}"));
		expectExact(memberSocket, serverFrame(MODE_OBJECT, "k1", "Error", "{\"error\":\"Room does not exist\"}"));
		WsTestClient keeperSocket;
		connectWs(keeperSocket, server, {{"X-Client-ID", keeper}});
		expectConnectPushes(keeperSocket, "[" + userRoomsEntry(kept, "Fresh", false) + "]");
		// The owner is free to create a room again.
		ownerSocket.sendText(
		    envelope(MODE_OBJECT, "c3", "CreateRoom",
		             "{\"room_name\":\"Again\",\"password\":\"3333\",\"public_key\":\"" + owner + "\"}"));
		expectFrame(ownerSocket, MODE_OBJECT, "c3", "RoomCreated",
		            "{\"password\":\"3333\",\"public_key\":\"" + owner +
		                "\",\"room_id\":\"<ROOM>\",\"room_name\":\"Again\"}");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());

		Database database(databasePath(server), true);
		database.expectConsistent();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), database.number("SELECT COUNT(*) FROM rooms WHERE id = ?", {stale}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     database.number("SELECT COUNT(*) FROM memberships WHERE room_id = ?", {stale}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
		                     database.number("SELECT COUNT(*) FROM memberships WHERE public_key = ?", {member}));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), database.number("SELECT COUNT(*) FROM rooms WHERE id = ?", {kept}));
	}

	void testPeriodicSweepWithMembersOnline()
	{
		// 0.0001 days = 8.64 s without activity, swept every second.
		const std::int64_t expiryMs = 8640;
		TestServer server;
		startGovpn(server, {{"room_expiry_days", "0.0001"}, {"cleanup_interval", "1"}});
		HttpResponse stats = HttpTestClient::get(LOOPBACK, server.port("govpn"), "/stats");
		CPPUNIT_ASSERT_MESSAGE(stats.body, stats.body.find("\"room_expiry_days\":0.0001,") != std::string::npos);
		const std::string keeper = publicKey(41);
		const std::string owner = publicKey(42);
		const std::string member = publicKey(43);

		// The room kept alive by a Rename is created first, so the sweep that deletes the other one
		// has also passed this one's original deadline.
		WsTestClient keeperSocket;
		connectWs(keeperSocket, server);
		std::string kept = createRoom(keeperSocket, "c1", keeper, "Kept", "1212");
		const std::int64_t keptCreatedMs = steadyMs();

		WsTestClient ownerSocket;
		connectWs(ownerSocket, server);
		std::string doomed = createRoom(ownerSocket, "c2", owner, "Doomed", "3434");
		WsTestClient memberSocket;
		connectWs(memberSocket, server);
		const std::int64_t lastActivityMs = steadyMs(); // the join is the doomed room's last activity
		memberSocket.sendText(envelope(MODE_BASE64, "j1", "JoinRoom",
		                               "{\"room_id\":\"" + doomed + "\",\"password\":\"3434\",\"public_key\":\"" +
		                                   member + "\",\"username\":\"Alice\"}"));
		expectFrame(memberSocket, MODE_BASE64, "j1", "RoomJoined",
		            "{\"room_id\":\"" + doomed + "\",\"room_name\":\"Doomed\"}");
		std::string ownerConnection = expectFrame(memberSocket, MODE_BASE64, "", "PeerJoined",
		                                          "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + owner +
		                                              "\",\"room_id\":\"" + doomed + "\",\"username\":\"Owner\"}")
		                                  .at(0);
		expectFrame(ownerSocket, MODE_OBJECT, "", "PeerJoined",
		            "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + member + "\",\"room_id\":\"" + doomed +
		                "\",\"username\":\"Alice\"}");
		// The member's second socket: bound by X-Client-ID, not online in the room (string mode).
		WsTestClient boundSocket;
		connectWs(boundSocket, server, {{"X-Client-ID", member}});
		expectConnectPushes(boundSocket, "[" + userRoomsEntry(doomed, "Doomed", true) + "]");
		pingReply(MODE_STRING, "p1", boundSocket);
		CPPUNIT_ASSERT(steadyMs() - keptCreatedMs < 4000); // set-up fast enough for the timing below

		// Activity in the kept room well before its original deadline (and late enough that its
		// new deadline falls after the doomed room's sweep).
		std::this_thread::sleep_for(
		    std::chrono::milliseconds(std::max<std::int64_t>(0, keptCreatedMs + 5000 - steadyMs())));
		const std::int64_t renamedMs = steadyMs();
		keeperSocket.sendText(
		    envelope(MODE_OBJECT, "r1", "Rename", "{\"room_id\":\"" + kept + "\",\"room_name\":\"Kept Alive\"}"));
		expectExact(keeperSocket, serverFrame(MODE_OBJECT, "", "RoomRenamed",
		                                      "{\"room_id\":\"" + kept + "\",\"room_name\":\"Kept Alive\"}"));
		expectExact(keeperSocket, serverFrame(MODE_OBJECT, "r1", "RenameSuccess",
		                                      "{\"room_id\":\"" + kept + "\",\"room_name\":\"Kept Alive\"}"));

		// The doomed room goes with its members online: to the owner, the online member and the
		// member's other socket, each in its own mode.
		const std::string deleted = "{\"room_id\":\"" + doomed + "\"}";
		WsTestClient::Message first = ownerSocket.receiveMessage(static_cast<int>(expiryMs) + 6000);
		const std::int64_t deletedMs = steadyMs();
		CPPUNIT_ASSERT_MESSAGE(first.error, first.ok());
		CPPUNIT_ASSERT_EQUAL(serverFrame(MODE_OBJECT, "", "RoomDeleted", deleted), first.payload);
		std::cout << "\n[periodic sweep] RoomDeleted " << (deletedMs - lastActivityMs)
		          << " ms after the last activity (expiry " << expiryMs << " ms, sweep every 1000 ms)" << std::endl;
		CPPUNIT_ASSERT(deletedMs - lastActivityMs >= expiryMs - 100);
		expectExact(memberSocket, serverFrame(MODE_BASE64, "", "RoomDeleted", deleted));
		expectExact(boundSocket, serverFrame(MODE_STRING, "", "RoomDeleted", deleted));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(1), statsNumber(server, "stale_rooms_removed"));

		// Presence is gone: neither can relay to the other any more.
		memberSocket.sendText(envelope(MODE_BASE64, "o1", "Offer",
		                               "{\"room_id\":\"" + doomed + "\",\"destination_id\":\"" + ownerConnection +
		                                   "\",\"offer\":\"" + SDP + "\"}"));
		expectExact(memberSocket, serverFrame(MODE_BASE64, "o1", "Error", "{\"error\":\"Not connected to any room\"}"));
		ownerSocket.sendText(
		    envelope(MODE_OBJECT, "o2", "Offer", "{\"destination_id\":\"" + member + "\",\"offer\":\"" + SDP + "\"}"));
		expectExact(ownerSocket, serverFrame(MODE_OBJECT, "o2", "Error", "{\"error\":\"Not connected to any room\"}"));
		boundSocket.sendText(envelope(MODE_STRING, "g1", "GetUserRooms", "{\"public_key\":\"" + member + "\"}"));
		expectExact(boundSocket, serverFrame(MODE_STRING, "g1", "UserRooms", "{\"rooms\":[]}"));

		// The kept room outlived its original deadline (the sweep above passed it) thanks to the Rename.
		CPPUNIT_ASSERT_MESSAGE("checked too late to tell", steadyMs() < renamedMs + expiryMs - 200);
		keeperSocket.sendText(envelope(MODE_OBJECT, "g2", "GetUserRooms", "{\"public_key\":\"" + keeper + "\"}"));
		expectFrame(keeperSocket, MODE_OBJECT, "g2", "UserRooms",
		            "{\"rooms\":[" + userRoomsEntry(kept, "Kept Alive", true) + "]}");
		// ... until it too has been idle for the expiry.
		WsTestClient::Message late = keeperSocket.receiveMessage(static_cast<int>(expiryMs) + 6000);
		CPPUNIT_ASSERT_MESSAGE(late.error, late.ok());
		CPPUNIT_ASSERT_EQUAL(serverFrame(MODE_OBJECT, "", "RoomDeleted", "{\"room_id\":\"" + kept + "\"}"),
		                     late.payload);
		CPPUNIT_ASSERT(steadyMs() - renamedMs >= expiryMs - 100);
		CPPUNIT_ASSERT_EQUAL(std::int64_t(2), statsNumber(server, "stale_rooms_removed"));
		CPPUNIT_ASSERT_EQUAL(0, server.stop());

		Database database(databasePath(server), true);
		database.expectConsistent();
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), database.number("SELECT COUNT(*) FROM rooms"));
		CPPUNIT_ASSERT_EQUAL(std::int64_t(0), database.number("SELECT COUNT(*) FROM memberships"));
	}

	void testGracefulStopWithSocketsInAndOutOfRooms()
	{
		TestServer server;
		startGovpn(server);
		const std::string owner = publicKey(51);
		const std::string member = publicKey(52);
		const std::string bystander = publicKey(53);

		WsTestClient ownerSocket; // object mode, online in the room
		connectWs(ownerSocket, server);
		std::string room = createRoom(ownerSocket, "c1", owner, "Stays", "5656");
		WsTestClient memberSocket; // the real client: X-Client-ID and base64, online in the room
		connectWs(memberSocket, server, {{"X-Client-ID", member}});
		expectConnectPushes(memberSocket, "[]");
		memberSocket.sendText(envelope(MODE_BASE64, "j1", "JoinRoom",
		                               "{\"room_id\":\"" + room + "\",\"password\":\"5656\",\"public_key\":\"" +
		                                   member + "\",\"username\":\"Alice\"}"));
		expectFrame(memberSocket, MODE_BASE64, "j1", "RoomJoined",
		            "{\"room_id\":\"" + room + "\",\"room_name\":\"Stays\"}");
		expectFrame(memberSocket, MODE_BASE64, "", "PeerJoined",
		            "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + owner + "\",\"room_id\":\"" + room +
		                "\",\"username\":\"Owner\"}");
		expectFrame(ownerSocket, MODE_OBJECT, "", "PeerJoined",
		            "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + member + "\",\"room_id\":\"" + room +
		                "\",\"username\":\"Alice\"}");
		WsTestClient idleSocket; // no key, JSON-string mode
		connectWs(idleSocket, server);
		pingReply(MODE_STRING, "p1", idleSocket);
		WsTestClient boundSocket; // a key without rooms, base64
		connectWs(boundSocket, server, {{"X-Client-ID", bystander}});
		expectConnectPushes(boundSocket, "[]");

		const std::int64_t signalWallMs = wallMs();
		server.sendSignal(SIGTERM);
		const std::string notice = "{\"message\":\"Server is shutting down for maintenance\",\"shutdown_in_seconds\":2,"
		                           "\"restart_info\":\"Server is being restarted for maintenance.\"}";
		struct Expected
		{
			WsTestClient* socket;
			Mode mode;
			std::int64_t noticeMs;
		};
		std::vector<Expected> sockets = {{&ownerSocket, MODE_OBJECT, 0},
		                                 {&memberSocket, MODE_BASE64, 0},
		                                 {&idleSocket, MODE_STRING, 0},
		                                 {&boundSocket, MODE_BASE64, 0}};
		for (Expected& expected : sockets)
		{
			expectExact(*expected.socket, serverFrame(expected.mode, "", "ServerShutdown", notice));
			expected.noticeMs = steadyMs();
		}

		// The grace period: requests are still answered, a room change still persisted.
		pingReply(MODE_STRING, "p2", idleSocket);
		boundSocket.sendText(envelope(MODE_BASE64, "g1", "GetUserRooms", "{\"public_key\":\"" + bystander + "\"}"));
		expectExact(boundSocket, serverFrame(MODE_BASE64, "g1", "UserRooms", "{\"rooms\":[]}"));
		ownerSocket.sendText(
		    envelope(MODE_OBJECT, "r1", "Rename", "{\"room_id\":\"" + room + "\",\"room_name\":\"Renamed In Grace\"}"));
		const std::string renamed = "{\"room_id\":\"" + room + "\",\"room_name\":\"Renamed In Grace\"}";
		expectExact(ownerSocket, serverFrame(MODE_OBJECT, "", "RoomRenamed", renamed));
		expectExact(ownerSocket, serverFrame(MODE_OBJECT, "r1", "RenameSuccess", renamed));
		expectExact(memberSocket, serverFrame(MODE_BASE64, "", "RoomRenamed", renamed));
		pingReply(MODE_BASE64, "p3", memberSocket);
		const std::int64_t answeredMs = steadyMs();

		// Then close 1001 about shutdown_in_seconds after the notice, and nothing else before it
		// (no PeerDisconnected as the room's sockets go).
		for (Expected& expected : sockets)
		{
			WsTestClient::CloseInfo close = expected.socket->expectClose(6000);
			std::int64_t afterNotice = steadyMs() - expected.noticeMs;
			std::string skipped;
			for (const WsTestClient::Frame& frame : close.skippedFrames)
				skipped += frame.payload + "\n";
			CPPUNIT_ASSERT_MESSAGE("before the close: " + skipped, close.skippedFrames.empty());
			CPPUNIT_ASSERT_EQUAL(1001, close.code);
			std::cout << (expected.socket == &ownerSocket ? "\n" : "") << "[graceful stop] close 1001 about "
			          << afterNotice << " ms after ServerShutdown" << std::endl;
			CPPUNIT_ASSERT(afterNotice >= 1500 && afterNotice <= 5000);
		}
		CPPUNIT_ASSERT(answeredMs < sockets[0].noticeMs + 2000); // the requests really were in the grace
		CPPUNIT_ASSERT_EQUAL(0, server.stop());

		{
			Database database(databasePath(server), true);
			database.expectConsistent();
			CPPUNIT_ASSERT_EQUAL(std::int64_t(0),
			                     database.number("SELECT COUNT(*) FROM memberships WHERE is_connected"));
			CPPUNIT_ASSERT_EQUAL(std::string("Renamed In Grace"),
			                     database.text("SELECT name FROM rooms WHERE id = ?", {room}));
			// §16: last_active recorded at stop for a room with members online.
			CPPUNIT_ASSERT(database.number("SELECT last_active FROM rooms WHERE id = ?", {room}) >= signalWallMs);
		}

		server.start();
		WsTestClient ownerAgain;
		connectWs(ownerAgain, server, {{"X-Client-ID", owner}});
		expectConnectPushes(ownerAgain, "[" + userRoomsEntry(room, "Renamed In Grace", false) + "]");
		WsTestClient memberAgain;
		connectWs(memberAgain, server, {{"X-Client-ID", member}});
		expectConnectPushes(memberAgain, "[" + userRoomsEntry(room, "Renamed In Grace", false) + "]");
		memberAgain.sendText(
		    envelope(MODE_BASE64, "k1", "ConnectRoom",
		             "{\"room_id\":\"" + room + "\",\"public_key\":\"" + member + "\",\"username\":\"User\"}"));
		expectFrame(memberAgain, MODE_BASE64, "k1", "RoomConnected",
		            "{\"room_id\":\"" + room + "\",\"room_name\":\"Renamed In Grace\"}");
		expectQuiet(ownerAgain);
	}

	void testGraceBoundedByShutdownDeadline()
	{
		// The grace is a wait the host takes (Host::holdConnectionsOpen), so [host]
		// shutdown_deadline_ms bounds it; the plugin used to sleep the whole grace in stopping().
		TestServer server;
		server.set("host", "shutdown_deadline_ms", "1500");
		startGovpn(server, {{"shutdown_grace", "30"}});
		WsTestClient client;
		connectWs(client, server);
		pingReply(MODE_OBJECT, "p1", client);
		std::int64_t startMs = steadyMs();
		CPPUNIT_ASSERT_EQUAL(0, server.stop(SIGTERM, 20000));
		std::int64_t stopMs = steadyMs() - startMs;
		std::cout << "\n[shutdown] grace 30 s, deadline 1.5 s: stopped after " << stopMs << " ms" << std::endl;
		CPPUNIT_ASSERT_MESSAGE(std::to_string(stopMs) + " ms", stopMs < 5000);
		expectExact(client, serverFrame(MODE_OBJECT, "", "ServerShutdown",
		                                "{\"message\":\"Server is shutting down for maintenance\","
		                                "\"shutdown_in_seconds\":30,\"restart_info\":\"Server is being restarted "
		                                "for maintenance.\"}"));
	}

	void testLockedDatabaseDelaysWritesNotReads()
	{
		const std::int64_t timeoutMs = 2000;
		TestServer server;
		startGovpn(server, {{"storage_timeout", "2"}});
		const std::string owner = publicKey(61);
		const std::string creator = publicKey(62);
		const std::string joiner = publicKey(63);
		WsTestClient ownerSocket;
		connectWs(ownerSocket, server);
		std::string room = createRoom(ownerSocket, "c1", owner, "Before", "7878");
		const std::string create =
		    "{\"room_name\":\"Blocked\",\"password\":\"9090\",\"public_key\":\"" + creator + "\"}";
		const std::string join = "{\"room_id\":\"" + room + "\",\"password\":\"7878\",\"public_key\":\"" + joiner +
		                         "\",\"username\":\"Bob\"}";
		WsTestClient creatorSocket;
		connectWs(creatorSocket, server);
		WsTestClient joinerSocket;
		connectWs(joinerSocket, server);

		HeldLock lock(databasePath(server));
		std::cout << "\n";

		// CreateRoom waits for the storage, then fails with the database error.
		std::int64_t sentMs = steadyMs();
		creatorSocket.sendText(envelope(MODE_OBJECT, "c2", "CreateRoom", create));
		// Meanwhile reads and pushes come from memory, promptly.
		{
			std::int64_t startMs = steadyMs();
			WsTestClient pusher;
			connectWs(pusher, server, {{"X-Client-ID", owner}});
			expectConnectPushes(pusher, "[" + userRoomsEntry(room, "Before", true) + "]");
			std::int64_t pushMs = steadyMs() - startMs;
			startMs = steadyMs();
			pingReply(MODE_BASE64, "p1", pusher);
			std::int64_t pingMs = steadyMs() - startMs;
			std::cout << "[locked storage] connect + UserRooms + ClientIPInfo " << pushMs << " ms, Ping " << pingMs
			          << " ms" << std::endl;
			CPPUNIT_ASSERT(pushMs < 1000);
			CPPUNIT_ASSERT(pingMs < 500);
			CPPUNIT_ASSERT(steadyMs() - sentMs < timeoutMs); // all of it while CreateRoom was waiting
		}
		expectExact(creatorSocket,
		            serverFrame(MODE_OBJECT, "c2", "Error", "{\"error\":\"Error creating room in database\"}"));
		std::int64_t createMs = steadyMs() - sentMs;
		std::cout << "[locked storage] CreateRoom answered Error after " << createMs << " ms" << std::endl;
		CPPUNIT_ASSERT(createMs >= timeoutMs - 100 && createMs < timeoutMs + 2500);
		creatorSocket.sendText(envelope(MODE_OBJECT, "g1", "GetUserRooms", "{\"public_key\":\"" + creator + "\"}"));
		expectExact(creatorSocket, serverFrame(MODE_OBJECT, "g1", "UserRooms", "{\"rooms\":[]}"));

		// JoinRoom likewise, while a Ping on the same server stays prompt.
		sentMs = steadyMs();
		joinerSocket.sendText(envelope(MODE_OBJECT, "j1", "JoinRoom", join));
		{
			std::int64_t startMs = steadyMs();
			pingReply(MODE_OBJECT, "p2", ownerSocket);
			std::int64_t pingMs = steadyMs() - startMs;
			std::cout << "[locked storage] Ping during JoinRoom " << pingMs << " ms" << std::endl;
			CPPUNIT_ASSERT(pingMs < 500);
		}
		expectExact(joinerSocket, serverFrame(MODE_OBJECT, "j1", "Error",
		                                      "{\"error\":\"Error updating room membership in database\"}"));
		std::int64_t joinMs = steadyMs() - sentMs;
		std::cout << "[locked storage] JoinRoom answered Error after " << joinMs << " ms" << std::endl;
		CPPUNIT_ASSERT(joinMs >= timeoutMs - 100 && joinMs < timeoutMs + 2500);
		expectQuiet(ownerSocket); // the failed join announced nothing

		// Released: the same requests succeed.
		lock.release();
		sentMs = steadyMs();
		creatorSocket.sendText(envelope(MODE_OBJECT, "c3", "CreateRoom", create));
		std::string created = expectFrame(creatorSocket, MODE_OBJECT, "c3", "RoomCreated",
		                                  "{\"password\":\"9090\",\"public_key\":\"" + creator +
		                                      "\",\"room_id\":\"<ROOM>\",\"room_name\":\"Blocked\"}")
		                          .at(0);
		std::cout << "[locked storage] released: CreateRoom succeeded after " << steadyMs() - sentMs << " ms"
		          << std::endl;
		sentMs = steadyMs();
		joinerSocket.sendText(envelope(MODE_OBJECT, "j2", "JoinRoom", join));
		expectFrame(joinerSocket, MODE_OBJECT, "j2", "RoomJoined",
		            "{\"room_id\":\"" + room + "\",\"room_name\":\"Before\"}");
		std::cout << "[locked storage] released: JoinRoom succeeded after " << steadyMs() - sentMs << " ms"
		          << std::endl;
		expectFrame(joinerSocket, MODE_OBJECT, "", "PeerJoined",
		            "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + owner + "\",\"room_id\":\"" + room +
		                "\",\"username\":\"Owner\"}");
		expectFrame(ownerSocket, MODE_OBJECT, "", "PeerJoined",
		            "{\"connection_id\":\"<CONN>\",\"public_key\":\"" + joiner + "\",\"room_id\":\"" + room +
		                "\",\"username\":\"Bob\"}");
		creatorSocket.sendText(envelope(MODE_OBJECT, "g2", "GetUserRooms", "{\"public_key\":\"" + creator + "\"}"));
		expectFrame(creatorSocket, MODE_OBJECT, "g2", "UserRooms",
		            "{\"rooms\":[" + userRoomsEntry(created, "Blocked", true) + "]}");
		CPPUNIT_ASSERT_EQUAL(0, server.stop());

		// The failed CreateRoom left nothing behind, not even once the lock was gone.
		{
			Database database(databasePath(server), true);
			database.expectConsistent();
			CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
			                     database.number("SELECT COUNT(*) FROM rooms WHERE owner_public_key = ?", {creator}));
			CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
			                     database.number("SELECT COUNT(*) FROM memberships WHERE public_key = ?", {creator}));
			CPPUNIT_ASSERT_EQUAL(std::int64_t(1),
			                     database.number("SELECT COUNT(*) FROM memberships WHERE public_key = ?", {joiner}));
			CPPUNIT_ASSERT_EQUAL(std::int64_t(2), database.number("SELECT COUNT(*) FROM rooms"));
		}
		server.start();
		WsTestClient creatorAgain;
		connectWs(creatorAgain, server, {{"X-Client-ID", creator}});
		expectConnectPushes(creatorAgain, "[" + userRoomsEntry(created, "Blocked", false) + "]");
		WsTestClient joinerAgain;
		connectWs(joinerAgain, server, {{"X-Client-ID", joiner}});
		expectConnectPushes(joinerAgain, "[" + userRoomsEntry(room, "Before", false) + "]");
	}

	void testLockedDatabaseLeavesWorkersForHashing()
	{
		// Regression: every write that timed out on a locked file kept a worker waiting in
		// SQLite's busy handler (5 s), so after a few of them no worker was left for Argon2id and
		// even a wrong-password JoinRoom (a hash, no write) waited seconds.
		TestServer server;
		startGovpn(server, {{"storage_timeout", "1"}});
		const std::string owner = publicKey(71);
		WsTestClient ownerSocket;
		connectWs(ownerSocket, server);
		std::string room = createRoom(ownerSocket, "c1", owner, "Open", "4545");

		HeldLock lock(databasePath(server));
		const int queued = 8;
		std::vector<std::unique_ptr<WsTestClient>> creators;
		for (int i = 0; i < queued; ++i)
		{
			creators.push_back(std::make_unique<WsTestClient>());
			connectWs(*creators.back(), server);
			creators.back()->sendText(envelope(MODE_OBJECT, "c", "CreateRoom",
			                                   "{\"room_name\":\"Queued\",\"password\":\"1111\",\"public_key\":\"" +
			                                       publicKey(80 + i) + "\"}"));
		}
		for (auto& creator : creators) // one after another, each on its own 1 s deadline
		{
			WsTestClient::Message reply = creator->receiveMessage(queued * 1000 + 10000);
			CPPUNIT_ASSERT_MESSAGE(reply.error, reply.ok());
			CPPUNIT_ASSERT_EQUAL(
			    serverFrame(MODE_OBJECT, "c", "Error", "{\"error\":\"Error creating room in database\"}"),
			    reply.payload);
		}

		// The lock is still held: a wrong password needs a worker for the hash and none for storage.
		WsTestClient guesser;
		connectWs(guesser, server);
		std::int64_t sentMs = steadyMs();
		guesser.sendText(
		    envelope(MODE_OBJECT, "j", "JoinRoom",
		             "{\"room_id\":\"" + room + "\",\"password\":\"0000\",\"public_key\":\"" + publicKey(99) + "\"}"));
		expectExact(guesser, serverFrame(MODE_OBJECT, "j", "Error", "{\"error\":\"Incorrect password\"}"));
		std::int64_t answeredMs = steadyMs() - sentMs;
		std::cout << "\n[locked storage] wrong-password JoinRoom after " << queued
		          << " timed-out writes: " << answeredMs << " ms" << std::endl;
		CPPUNIT_ASSERT_MESSAGE(std::to_string(answeredMs) + " ms", answeredMs < 700);
	}

	void testJoinsAnsweredAsTheirHashesFinish()
	{
		// Regression: a burst of joins queued all their Argon2id checks on the worker pool first,
		// so every join's storage write waited behind every hash and all answers came at the end.
		TestServer server;
		startGovpn(server);
		const std::string owner = publicKey(101);
		WsTestClient ownerSocket;
		connectWs(ownerSocket, server);
		std::string room = createRoom(ownerSocket, "c1", owner, "Busy", "2323");
		const int joiners = 24;
		std::vector<std::unique_ptr<WsTestClient>> sockets;
		for (int i = 0; i < joiners; ++i)
		{
			sockets.push_back(std::make_unique<WsTestClient>());
			connectWs(*sockets.back(), server);
		}
		std::int64_t startMs = steadyMs();
		for (int i = 0; i < joiners; ++i)
			sockets[static_cast<std::size_t>(i)]->sendText(envelope(
			    MODE_OBJECT, "j", "JoinRoom",
			    "{\"room_id\":\"" + room + "\",\"password\":\"2323\",\"public_key\":\"" + publicKey(110 + i) + "\"}"));
		// The owner hears of each join once it has committed, so the owner's frames time them all.
		std::int64_t firstMs = -1;
		std::int64_t lastMs = 0;
		for (int i = 0; i < joiners; ++i)
		{
			WsTestClient::Message joined = ownerSocket.receiveMessage(60000);
			CPPUNIT_ASSERT_MESSAGE(joined.error, joined.ok());
			CPPUNIT_ASSERT_MESSAGE(joined.payload, joined.payload.find("\"type\":\"PeerJoined\"") != std::string::npos);
			lastMs = steadyMs() - startMs;
			if (firstMs < 0)
				firstMs = lastMs;
		}
		for (auto& socket : sockets)
		{
			WsTestClient::Message reply = socket->receiveMessage(WAIT_MS);
			CPPUNIT_ASSERT_MESSAGE(reply.error, reply.ok());
			CPPUNIT_ASSERT_MESSAGE(reply.payload, reply.payload.find("\"type\":\"RoomJoined\"") != std::string::npos);
		}
		std::cout << "\n[joins] " << joiners << " joins: first committed after " << firstMs << " ms, last after "
		          << lastMs << " ms" << std::endl;
		CPPUNIT_ASSERT_MESSAGE(std::to_string(firstMs) + " of " + std::to_string(lastMs) + " ms", firstMs * 2 < lastMs);
	}
};


CPPUNIT_TEST_SUITE_REGISTRATION(GovpnDurabilityIntegrationTest);
