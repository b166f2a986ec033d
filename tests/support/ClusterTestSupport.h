//
// ClusterTestSupport.h
//
// What the cluster runners (tests/cluster) share: polling and timing, GET /cluster parsed, the
// skips without redis-server or PostgreSQL, and the [cluster] and [storage] sections of a node.
//


#ifndef Switchboard_Test_ClusterTestSupport_INCLUDED
#define Switchboard_Test_ClusterTestSupport_INCLUDED


#include "Deadline.h"
#include "PostgresTestServer.h"
#include "RedisTestServer.h"
#include "TestServer.h"
#include "Poco/JSON/Object.h"
#include <cppunit/Exception.h>
#include <cppunit/Message.h>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>


namespace Switchboard {
namespace Test {
namespace Cluster {


void sleepMs(int ms);
/// Nothing for ms <= 0.

std::int64_t elapsedMs(std::int64_t sinceMicros);
/// Milliseconds since a Deadline::nowMicros() reading.


bool skipWithoutRedis(const std::string& fixture, const std::string& test);
/// True (after saying why, as "<fixture>::<test> skipped: ...") if redis-server cannot run here.

bool skipWithoutPostgres(const std::string& fixture, const std::string& test);
/// The same for PostgreSQL (not installed, or SWITCHBOARD_TEST_NO_POSTGRES set).

long long integerMember(const Poco::JSON::Object::Ptr& object, const std::string& name);
/// The member as an integer; std::runtime_error if it is missing, a Poco exception if it is not
/// a number.

void addClusterSection(TestServer& server, int redisPort, const std::string& nodeId, const std::string& keyPrefix,
                       int nodeTtlSeconds);
/// [cluster] enabled with this node id, redis on 127.0.0.1:redisPort, the key prefix and node_ttl_s.

void usePostgres(TestServer& server, const PostgresTestServer& postgres);
/// [storage] backend = postgresql with the test cluster's coordinates (connect timeout 2 s); the
/// password (which has a space, a quote and a backslash) through the environment, as operators
/// are told to.


struct ClusterNodeEntry
/// One entry of GET /cluster's "nodes".
{
	std::string id;
	long long number = -1;
	long long connections = -1;
};


struct ClusterView
/// GET /cluster on a node's admin port, parsed.
{
	int status = 0;
	std::string body;
	std::string error;
	/// Why the answer could not be had or read as the expected JSON; "" if it could.
	bool enabled = false;
	std::string nodeId;
	long long nodeNumber = -1;
	bool redisConnected = false;
	std::vector<ClusterNodeEntry> nodes;

	const ClusterNodeEntry* find(const std::string& id) const;
	/// The listed node with this id, or nullptr.

	bool lists(const std::string& id) const { return find(id) != nullptr; }

	std::string ids() const;
	/// The listed ids, sorted, comma-separated.

	std::string describe() const;
	/// "GET /cluster: <status> <body>", and the error in parentheses if there is one.
};


ClusterView fetchCluster(const TestServer& server);
/// GET /cluster on the server's admin port (3 s); failures go to ClusterView::error.


template <typename Check>
auto explained(const std::string& what, Check check) -> decltype(check())
/// Runs check; a failed assertion in it also says what was being done or waited for, and by whom.
{
	try
	{
		return check();
	}
	catch (const CppUnit::Exception& e)
	{
		CppUnit::Message message(e.message());
		message.addDetail("while " + what);
		throw CppUnit::Exception(message, e.sourceLine());
	}
}


void expectListed(TestServer& node, const std::string& otherId);
/// Within 5 s the node's GET /cluster lists the other node alive (CppUnit assertion).


struct SharedStorageNodes
/// redis-server and PostgreSQL started, and nodes "a" and "b" configured for both (the
/// [cluster] and [storage] sections, a 1 s shutdown deadline); the runner adds its plugin's
/// settings and starts them. Destroyed nodes first.
{
	RedisTestServer redis;
	PostgresTestServer postgres;
	TestServer a;
	TestServer b;

	SharedStorageNodes(const std::string& keyPrefix, int nodeTtlSeconds);
	std::string name(const TestServer& node) const { return &node == &a ? "a" : "b"; }
	void expectEachListsTheOther();
};


} // namespace Cluster
} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_ClusterTestSupport_INCLUDED
