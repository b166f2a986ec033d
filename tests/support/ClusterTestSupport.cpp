//
// ClusterTestSupport.cpp
//
// What the cluster runners (tests/cluster) share: polling and timing, GET /cluster parsed, the
// skips without redis-server or PostgreSQL, and the [cluster] and [storage] sections of a node.
//


#include "ClusterTestSupport.h"
#include "Deadline.h"
#include "HttpTestClient.h"
#include "RedisTestServer.h"
#include "Poco/Exception.h"
#include "Poco/JSON/Array.h"
#include "Poco/JSON/Object.h"
#include "Poco/JSON/Parser.h"
#include <cppunit/TestAssert.h>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <thread>


namespace Switchboard {
namespace Test {
namespace Cluster {


namespace {


const char* const LOOPBACK = "127.0.0.1";


} // namespace


long long integerMember(const Poco::JSON::Object::Ptr& object, const std::string& name)
{
	if (!object->has(name))
		throw std::runtime_error("no \"" + name + "\"");
	return object->get(name).convert<Poco::Int64>();
}


void sleepMs(int ms)
{
	if (ms > 0)
		std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}


std::int64_t elapsedMs(std::int64_t sinceMicros)
{
	return (Deadline::nowMicros() - sinceMicros) / 1000;
}


bool skipWithoutRedis(const std::string& fixture, const std::string& test)
{
	if (RedisTestServer::available())
		return false;
	std::cout << "\n" << fixture << "::" << test << " skipped: " << RedisTestServer::whyUnavailable() << std::endl;
	return true;
}


bool skipWithoutPostgres(const std::string& fixture, const std::string& test)
{
	if (PostgresTestServer::available())
		return false;
	std::cout << "\n" << fixture << "::" << test << " skipped: " << PostgresTestServer::whyUnavailable() << std::endl;
	return true;
}


void usePostgres(TestServer& server, const PostgresTestServer& postgres)
{
	server.addSection("storage", {{"backend", "postgresql"},
	                              {"postgresql_host", postgres.host()},
	                              {"postgresql_port", std::to_string(postgres.port())},
	                              {"postgresql_database", postgres.database()},
	                              {"postgresql_user", postgres.user()},
	                              {"postgresql_connect_timeout_ms", "2000"}});
	server.setEnvironment("SWITCHBOARD_STORAGE__POSTGRESQL_PASSWORD", postgres.password());
}


void addClusterSection(TestServer& server, int redisPort, const std::string& nodeId, const std::string& keyPrefix,
                       int nodeTtlSeconds)
{
	server.addSection("cluster", {{"enabled", "true"},
	                              {"node_id", nodeId},
	                              {"redis_host", LOOPBACK},
	                              {"redis_port", std::to_string(redisPort)},
	                              {"key_prefix", keyPrefix},
	                              {"node_ttl_s", std::to_string(nodeTtlSeconds)}});
}


const ClusterNodeEntry* ClusterView::find(const std::string& id) const
{
	for (const ClusterNodeEntry& node : nodes)
	{
		if (node.id == id)
			return &node;
	}
	return nullptr;
}


std::string ClusterView::ids() const
{
	std::vector<std::string> sorted;
	for (const ClusterNodeEntry& node : nodes)
		sorted.push_back(node.id);
	std::sort(sorted.begin(), sorted.end());
	std::string text;
	for (const std::string& id : sorted)
		text += (text.empty() ? "" : ",") + id;
	return text;
}


std::string ClusterView::describe() const
{
	return "GET /cluster: " + std::to_string(status) + " " + body + (error.empty() ? "" : " (" + error + ")");
}


ClusterView fetchCluster(const TestServer& server)
{
	ClusterView view;
	try
	{
		const HttpResponse response = HttpTestClient::get(LOOPBACK, server.adminPort(), "/cluster", {}, 3000);
		view.status = response.status;
		view.body = response.body;
		Poco::JSON::Parser parser;
		const Poco::JSON::Object::Ptr root = parser.parse(response.body).extract<Poco::JSON::Object::Ptr>();
		if (!root->has("enabled"))
			throw std::runtime_error("no \"enabled\"");
		view.enabled = root->get("enabled").convert<bool>();
		if (!view.enabled)
			return view;
		const Poco::JSON::Object::Ptr node = root->getObject("node");
		const Poco::JSON::Object::Ptr redis = root->getObject("redis");
		const Poco::JSON::Array::Ptr nodes = root->getArray("nodes");
		if (node.isNull() || redis.isNull() || nodes.isNull())
			throw std::runtime_error("\"node\", \"redis\" or \"nodes\" missing or of the wrong type");
		view.nodeId = node->getValue<std::string>("id");
		view.nodeNumber = integerMember(node, "number");
		view.redisConnected = redis->get("connected").convert<bool>();
		for (std::size_t i = 0; i < nodes->size(); ++i)
		{
			const Poco::JSON::Object::Ptr entry = nodes->getObject(static_cast<unsigned>(i));
			if (entry.isNull())
				throw std::runtime_error("nodes[" + std::to_string(i) + "] is not an object");
			ClusterNodeEntry listed;
			listed.id = entry->getValue<std::string>("id");
			listed.number = integerMember(entry, "number");
			listed.connections = integerMember(entry, "connections");
			view.nodes.push_back(listed);
		}
	}
	catch (const Poco::Exception& e)
	{
		view.error = e.displayText();
	}
	catch (const std::exception& e)
	{
		view.error = e.what();
	}
	return view;
}


void expectListed(TestServer& node, const std::string& otherId)
{
	ClusterView view;
	const bool listed = waitUntil(5000, 50, [&] {
		view = fetchCluster(node);
		return view.lists(otherId);
	});
	CPPUNIT_ASSERT_MESSAGE("node " + otherId + " listed: " + view.describe(), listed);
}


SharedStorageNodes::SharedStorageNodes(const std::string& keyPrefix, int nodeTtlSeconds)
{
	redis.start();
	postgres.start();
	for (TestServer* pNode : {&a, &b})
	{
		addClusterSection(*pNode, redis.port(), name(*pNode), keyPrefix, nodeTtlSeconds);
		usePostgres(*pNode, postgres);
		pNode->set("host", "shutdown_deadline_ms", "1000");
	}
}


void SharedStorageNodes::expectEachListsTheOther()
{
	expectListed(a, "b");
	expectListed(b, "a");
}


} // namespace Cluster
} // namespace Test
} // namespace Switchboard
