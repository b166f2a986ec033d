//
// ClusterNode.cpp
//


#include "cluster/ClusterNode.h"
#include "switchboard/util/Json.h"
#include "Poco/Environment.h"
#include <chrono>
#include <memory>
#include <openssl/rand.h>


namespace Switchboard {
namespace Cluster {


namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t MAX_BATCH = 4096;
constexpr int SUBSCRIBER_POLL_MS = 20;   // how soon a new group subscription goes out
constexpr int SUBSCRIBER_PING_MS = 5000; // liveness of the subscription connection
constexpr int SUBSCRIBER_SILENCE_MS = 15000;
constexpr int MAX_BACKOFF_MS = 2000;
constexpr int NAME_EXPIRY_S = 3600; // names of a dead node's connections are dropped by Redis after this
constexpr int REASSERT_INTERVAL_S = 1200;
constexpr std::size_t MAX_COALESCED_BYTES = 256 * 1024; // one PUBLISH carries at most this much

// Claims a name: free, or held by a dead node, or held with the same secret (taken over).
// KEYS[1] the name; ARGV: value "node|conn|secret", node key prefix, secret, channel, name, conn, expiry,
// '1' to publish the notice here (else the caller announces it once its owner has been told).
const char* const CLAIM_SCRIPT = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then
  local node, conn, secret = string.match(cur, '^(%d+)|(%d+)|(.*)$')
  if node and redis.call('EXISTS', ARGV[2] .. node) == 1 then
    if ARGV[3] == '' or secret ~= ARGV[3] then return {'taken', conn} end
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[7])
    if ARGV[8] == '1' then redis.call('PUBLISH', ARGV[4], ARGV[6] .. '\n' .. ARGV[5]) end
    return {'over', conn}
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[7])
if cur ~= ARGV[1] and ARGV[8] == '1' then redis.call('PUBLISH', ARGV[4], ARGV[6] .. '\n' .. ARGV[5]) end
return {'ok', ''}
)lua";

// KEYS[1] the name; ARGV[1] node key prefix. The owner's connection id, or '' if free or its node is dead.
const char* const LOOKUP_SCRIPT = R"lua(
local cur = redis.call('GET', KEYS[1])
if not cur then return '' end
local node, conn = string.match(cur, '^(%d+)|(%d+)|')
if node and redis.call('EXISTS', ARGV[1] .. node) == 1 then return conn end
return ''
)lua";

// Compare-and-delete, so a name taken over meanwhile is never erased.
// KEYS[1] the name; ARGV: "node|conn|", channel, name.
const char* const RELEASE_SCRIPT = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, string.len(ARGV[1])) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], '0\n' .. ARGV[3])
  return 1
end
return 0
)lua";

// Refreshes this node's liveness unless another instance holds its number; keeps the number
// sequence above every live number (after a Redis restart wiped it). 2: the key had gone (it
// expired while this node could not refresh it, or Redis lost it), so others may count it as left.
// KEYS: node key, node-id key, sequence key, node index; ARGV: json, ttl, number, token, index expiry (ms).
const char* const HEARTBEAT_SCRIPT = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur and not string.find(cur, ARGV[4], 1, true) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
local seq = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if seq < tonumber(ARGV[3]) then redis.call('SET', KEYS[3], ARGV[3]) end
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[3])
if cur then return 1 end
return 2
)lua";

// The live nodes' JSON, in number order; the index forgets nodes whose key expired long ago.
// KEYS[1] the index; ARGV: now (ms), node key prefix.
const char* const NODES_SCRIPT = R"lua(
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local numbers = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(numbers, function(a, b) return tonumber(a) < tonumber(b) end)
local out = {}
for _, n in ipairs(numbers) do
  local v = redis.call('GET', ARGV[2] .. n)
  if v then table.insert(out, v) end
end
return out
)lua";

std::int64_t nowMs()
{
	return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
	    .count();
}

std::string hexToken()
{
	unsigned char bytes[12];
	if (RAND_bytes(bytes, sizeof bytes) != 1)
	{
		auto t = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
		for (unsigned char& b : bytes)
		{
			b = static_cast<unsigned char>(t);
			t = t * 6364136223846793005ULL + 1442695040888963407ULL;
		}
	}
	static const char HEX[] = "0123456789abcdef";
	std::string out;
	for (unsigned char b : bytes)
	{
		out += HEX[b >> 4];
		out += HEX[b & 15];
	}
	return out;
}

bool parseUnsigned(std::string_view text, std::uint64_t& out)
{
	if (text.empty() || text.size() > 20)
		return false;
	out = 0;
	for (char c : text)
	{
		if (c < '0' || c > '9')
			return false;
		out = out * 10 + static_cast<std::uint64_t>(c - '0');
	}
	return true;
}

// "a b c\n<data>": the header's space-separated fields and the data after the first newline.
bool splitMessage(std::string_view payload, std::vector<std::string_view>& fields, std::string_view& data)
{
	std::size_t newline = payload.find('\n');
	if (newline == std::string_view::npos)
		return false;
	std::string_view header = payload.substr(0, newline);
	data = payload.substr(newline + 1);
	fields.clear();
	while (!header.empty())
	{
		std::size_t space = header.find(' ');
		fields.push_back(header.substr(0, space));
		if (space == std::string_view::npos)
			break;
		header.remove_prefix(space + 1);
	}
	return true;
}

} // namespace


ClusterNode::ClusterNode(const Core::ClusterSettings& settings, Poco::Logger& logger, Metrics& hostMetrics,
                         std::function<std::size_t()> connectionCount):
    _settings(settings),
    _logger(logger),
    _connectionCount(std::move(connectionCount)),
    _prefix(settings.keyPrefix),
    _nodeId(settings.nodeId.empty() ? Poco::Environment::nodeName() : settings.nodeId),
    _token(hexToken())
{
	_endpoint.host = settings.redisHost;
	_endpoint.port = settings.redisPort;
	_endpoint.password = settings.redisPassword;
	_endpoint.timeoutMs = 3000;
	_command = std::make_unique<RedisConnection>(_endpoint);
	_subscriber = std::make_unique<RedisConnection>(_endpoint);
	_published = &hostMetrics.counter("cluster_published_total", "Messages sent to other nodes through Redis");
	_dropped = &hostMetrics.counter("cluster_dropped_total",
	                                "Messages for other nodes dropped: Redis unreachable or the publish queue full");
	_received = &hostMetrics.counter("cluster_received_total", "Messages received from other nodes");
	_reconnects = &hostMetrics.counter("cluster_redis_reconnects_total", "Redis connections re-established");
	_commands = &hostMetrics.counter("cluster_redis_commands_total", "Commands sent to Redis");
	_connectedGauge = &hostMetrics.gauge("cluster_redis_connected", "1 while both Redis connections are up");
}


ClusterNode::~ClusterNode()
{
	stop();
}


void ClusterNode::addMember(const std::string& plugin, ClusterMember& member)
{
	_members[plugin] = &member;
}


std::string ClusterNode::nodeJson() const
{
	std::string out = "{\"id\":";
	Json::appendString(out, _nodeId);
	out += ",\"number\":" + std::to_string(_number);
	out += ",\"connections\":" + std::to_string(_connectionCount ? _connectionCount() : 0);
	out += ",\"started_ms\":" + std::to_string(_startedMs);
	out += ",\"token\":\"" + _token + "\"}";
	return out;
}


std::vector<std::string> ClusterNode::heartbeatCommand() const
{
	// The index entry outlives the key a little (cleaned by NODES_SCRIPT); the key decides liveness.
	return {"EVAL",
	        HEARTBEAT_SCRIPT,
	        "4",
	        key("node:" + std::to_string(_number)),
	        key("nodeid:" + _nodeId),
	        key("node_seq"),
	        key("nodes"),
	        nodeJson(),
	        std::to_string(_settings.nodeTtlSeconds),
	        std::to_string(_number),
	        _token,
	        std::to_string(nowMs() + 2000 * static_cast<std::int64_t>(_settings.nodeTtlSeconds))};
}


void ClusterNode::start()
{
	_startedMs = nowMs();
	RedisConnection& c = *_command;
	auto deadline = Clock::now() + std::chrono::seconds(10);
	for (;;)
	{
		try
		{
			c.connect();
			break;
		}
		catch (const RedisError& e)
		{
			if (Clock::now() > deadline)
				throw StartError(std::string("cluster: ") + e.what() + " (tried for 10 s)");
			std::this_thread::sleep_for(std::chrono::milliseconds(250));
		}
	}
	auto check = [&](const RespValue& reply, const char* what) {
		if (reply.isError())
			throw StartError(std::string("cluster: Redis refused ") + what + ": " + reply.text);
		return reply;
	};
	try
	{
		// The node id: a previous instance killed without a clean stop holds it until its key expires.
		std::string ttl = std::to_string(_settings.nodeTtlSeconds);
		auto idDeadline = Clock::now() + std::chrono::seconds(_settings.nodeTtlSeconds + 2);
		bool announced = false;
		for (;;)
		{
			RespValue r = check(c.command({"SET", key("nodeid:" + _nodeId), "0", "NX", "EX", ttl}), "SET");
			if (!r.isNil())
				break;
			if (Clock::now() > idDeadline)
				throw StartError("cluster.node_id '" + _nodeId +
				                 "' is in use by a live node; give every node its own node_id");
			if (!announced)
				_logger.warning("node_id '" + _nodeId +
				                "' is still held in Redis (a previous instance?); "
				                "waiting up to " +
				                ttl + " s for it to expire");
			announced = true;
			std::this_thread::sleep_for(std::chrono::milliseconds(500));
		}
		for (int attempt = 0;; ++attempt)
		{
			if (attempt == 64)
				throw StartError("cluster: no free node number after 64 tries");
			RespValue seq = check(c.command({"INCR", key("node_seq")}), "INCR");
			auto number = static_cast<std::uint16_t>((static_cast<std::uint64_t>(seq.integer) - 1) % 65535 + 1);
			_number = number;
			RespValue r =
			    check(c.command({"SET", key("node:" + std::to_string(number)), nodeJson(), "NX", "EX", ttl}), "SET");
			if (!r.isNil())
				break;
		}
		std::vector<std::string> beat = heartbeatCommand();
		check(c.command(std::vector<std::string_view>(beat.begin(), beat.end())), "EVAL");
		_commands->increment(3);
	}
	catch (const RedisError& e)
	{
		throw StartError(std::string("cluster: ") + e.what());
	}
	_commandConnected = true;
	_running = true;
	_commandThread = std::thread([this] { commandThread(); });
	_subscriberThread = std::thread([this] { subscriberThread(); });
	_logger.information("node '" + _nodeId + "' is number " + std::to_string(_number) + " on Redis " + c.describe() +
	                    " (key prefix '" + _prefix + "')");
}


void ClusterNode::stop()
{
	if (!_running.load())
		return;
	// What is queued (names freed by the connections just closed) gets a second to go out.
	for (int i = 0; i < 100; ++i)
	{
		{
			std::lock_guard<std::mutex> lock(_queueMutex);
			if (_queue.empty() || !_commandConnected.load())
				break;
		}
		std::this_thread::sleep_for(std::chrono::milliseconds(10));
	}
	_running = false;
	{
		std::lock_guard<std::mutex> lock(_queueMutex);
		_queueReady.notify_all();
	}
	_subscriber->interrupt();
	if (_subscriberThread.joinable())
		_subscriberThread.join();
	if (_commandThread.joinable())
		_commandThread.join();
	// Gone at once for the others, instead of after node_ttl_s; names of this node's connections
	// count as free from now on because their node key is gone.
	try
	{
		if (!_command->connected())
			_command->connect();
		_command->append({"DEL", key("node:" + std::to_string(_number))});
		_command->append({"DEL", key("nodeid:" + _nodeId)});
		_command->append({"ZREM", key("nodes"), std::to_string(_number)});
		_command->flush();
		for (int i = 0; i < 3; ++i)
			_command->read(1000);
	}
	catch (const RedisError& e)
	{
		_logger.warning(std::string("could not remove this node's keys (they expire by themselves): ") + e.what());
	}
	_command->disconnect();
	_subscriber->disconnect();
	_connectedGauge->set(0);
}


bool ClusterNode::enqueue(Job job)
{
	{
		std::lock_guard<std::mutex> lock(_queueMutex);
		bool up = _running.load() && _commandConnected.load();
		// Requests count against the limit too: a storm of claims must not grow memory either.
		if (up && _queue.size() < _settings.publishQueueLimit)
		{
			_queue.push_back(std::move(job));
			if (_queue.size() == 1)
				_queueReady.notify_one();
			return true;
		}
	}
	_dropped->increment();
	if (job.reply)
		job.reply(false, RespValue());
	return false;
}


void ClusterNode::failQueued(const char* why)
{
	std::deque<Job> failed;
	{
		std::lock_guard<std::mutex> lock(_queueMutex);
		failed.swap(_queue);
	}
	if (!failed.empty())
		_logger.warning(std::string() + std::to_string(failed.size()) + " queued Redis commands dropped: " + why);
	_dropped->increment(failed.size());
	for (auto& job : failed)
	{
		if (job.reply)
			job.reply(false, RespValue());
	}
}


void ClusterNode::backoff(int& delayMs, std::atomic<bool>& connected, const char* which, const std::string& why)
{
	if (connected.exchange(false))
		_logger.warning(std::string("Redis ") + which + " connection lost: " + why + "; reconnecting");
	_connectedGauge->set(0);
	std::unique_lock<std::mutex> lock(_queueMutex);
	_queueReady.wait_for(lock, std::chrono::milliseconds(delayMs), [this] { return !_running.load(); });
	delayMs = std::min(delayMs * 2, MAX_BACKOFF_MS);
}


void ClusterNode::commandThread()
{
	int delayMs = 100;
	auto interval = std::chrono::milliseconds(_settings.nodeTtlSeconds * 1000 / 3);
	auto nextBeat = Clock::now() + interval;
	auto nextReassert = Clock::now() + std::chrono::seconds(REASSERT_INTERVAL_S);
	auto nextNodesRefresh = Clock::now();
	while (_running)
	{
		if (!_commandConnected)
		{
			try
			{
				_command->connect();
				std::vector<std::string> beat = heartbeatCommand();
				RespValue r = _command->command(std::vector<std::string_view>(beat.begin(), beat.end()));
				_commands->increment();
				if (r.type == RespValue::Type::INTEGER && r.integer == 0)
					_logger.error("another instance holds node number " + std::to_string(_number) +
					              "; connection ids of the two may collide");
				else if (r.type == RespValue::Type::INTEGER && r.integer == 2)
					_rejoined = true;
				_commandConnected = true;
				_reconnects->increment();
				_connectedGauge->set(_subscriberConnected ? 1 : 0);
				_logger.information("Redis command connection re-established; re-asserting names");
				_settleUntil = Clock::now() + settleTime();
				delayMs = 100;
				nextBeat = Clock::now() + interval;
				for (auto& m : _members)
					m.second->reassertNames();
			}
			catch (const RedisError& e)
			{
				backoff(delayMs, _commandConnected, "command", e.what());
				continue;
			}
		}
		std::vector<Job> batch;
		{
			std::unique_lock<std::mutex> lock(_queueMutex);
			_queueReady.wait_until(lock, std::min(nextBeat, nextNodesRefresh),
			                       [this] { return !_queue.empty() || !_running.load() || _reassertWanted.load(); });
			while (!_queue.empty() && batch.size() < MAX_BATCH)
			{
				batch.push_back(std::move(_queue.front()));
				_queue.pop_front();
			}
		}
		if (_reassertWanted.exchange(false))
		{
			_settleUntil = Clock::now() + settleTime();
			nextBeat = Clock::now(); // the node key first, then this node's names
			for (auto& m : _members)
				m.second->reassertNames();
		}
		if (Clock::now() >= nextBeat)
		{
			nextBeat = Clock::now() + interval;
			batch.push_back(Job{heartbeatCommand(), [this](bool ok, const RespValue& reply) {
				                    if (reply.isError())
					                    _logger.warning("Redis refused a command: " + reply.text);
				                    else if (ok && reply.type == RespValue::Type::INTEGER && reply.integer == 2)
					                    _rejoined = true;
			                    }});
		}
		if (Clock::now() >= nextNodesRefresh)
		{
			nextNodesRefresh = Clock::now() + std::chrono::seconds(1);
			refreshNodes(); // answered in the next pass
		}
		if (Clock::now() >= nextReassert)
		{
			nextReassert = Clock::now() + std::chrono::seconds(REASSERT_INTERVAL_S);
			for (auto& m : _members)
				m.second->reassertNames(); // refreshes the names' expiry; queued for the next pass
		}
		if (batch.empty())
			continue;
		// Runs of messages for one channel become one PUBLISH (receivers unpack them in order):
		// one command, one reply and one wake-up of each receiving node instead of one per message.
		std::vector<Outgoing> outgoing = coalesce(batch);
		std::size_t answered = 0; // jobs whose command was answered
		try
		{
			for (const Outgoing& o : outgoing)
			{
				if (o.jobs == 1)
				{
					const auto& a = batch[o.first].arguments;
					_command->append(std::vector<std::string_view>(a.begin(), a.end()));
				}
				else
					_command->append({"PUBLISH", batch[o.first].arguments[1], o.payload});
			}
			_command->flush();
			_commands->increment(outgoing.size());
			for (const Outgoing& o : outgoing)
			{
				RespValue reply = _command->read(_endpoint.timeoutMs);
				Job& job = batch[o.first];
				answered += o.jobs;
				if (job.reply)
					job.reply(!reply.isError(), reply);
				else if (reply.isError())
					_logger.warning("Redis refused a command: " + reply.text);
				else if (job.arguments.front() == "PUBLISH")
				{
					_published->increment(o.jobs);
					// Nobody listens on that inbox: its node died (or is reconnecting). Cached owners
					// there are suspect, before the node list shows it.
					if (reply.type == RespValue::Type::INTEGER && reply.integer == 0 &&
					    job.arguments[1].compare(0, _prefix.size() + 6, _prefix + "inbox:") == 0)
						suspectDeparture();
				}
			}
		}
		catch (const RedisError& e)
		{
			_command->disconnect();
			for (std::size_t i = answered; i < batch.size(); ++i)
			{
				if (batch[i].reply)
					batch[i].reply(false, RespValue());
			}
			_dropped->increment(batch.size() - answered);
			backoff(delayMs, _commandConnected, "command", e.what());
			failQueued("Redis connection lost");
		}
	}
	failQueued("shutting down");
}


std::vector<ClusterNode::Outgoing> ClusterNode::coalesce(std::vector<Job>& batch)
{
	std::vector<Outgoing> out;
	for (std::size_t i = 0; i < batch.size(); ++i)
	{
		Job& job = batch[i];
		bool message = !job.reply && job.arguments.size() == 3 && job.arguments[0] == "PUBLISH";
		if (message && !out.empty() && out.back().message && batch[out.back().first].arguments[1] == job.arguments[1] &&
		    out.back().payload.size() + job.arguments[2].size() <= MAX_COALESCED_BYTES)
		{
			Outgoing& run = out.back();
			if (run.jobs == 1)
				appendRecord(run.payload = "B\n", batch[run.first].arguments[2]);
			appendRecord(run.payload, job.arguments[2]);
			++run.jobs;
			continue;
		}
		out.push_back(Outgoing{i, 1, message, {}});
	}
	return out;
}


void ClusterNode::appendRecord(std::string& payload, const std::string& record)
{
	payload += std::to_string(record.size());
	payload += '\n';
	payload += record;
}


std::string ClusterNode::groupChannel(const std::string& plugin, std::string_view group) const
{
	return _prefix + "group:" + plugin + ":" + std::string(group);
}


std::vector<std::string> ClusterNode::wantedChannels()
{
	std::vector<std::string> wanted;
	wanted.push_back(key("inbox:" + std::to_string(_number)));
	for (auto& m : _members)
	{
		wanted.push_back(key("names:" + m.first));
		wanted.push_back(key("bus:" + m.first));
	}
	std::lock_guard<std::mutex> lock(_channelMutex);
	for (auto& g : _groupChannels)
		wanted.push_back(g.first);
	return wanted;
}


void ClusterNode::subscriberThread()
{
	int delayMs = 100;
	bool first = true;
	bool syncPending = true; // members hear synced() once the inbox subscription is confirmed
	// ... and a PING has made the round trip on the command connection, which after an outage may
	// reconnect later than this one: what members announce in synced() must not be dropped.
	bool awaitingCommand = false;
	std::shared_ptr<std::atomic<int>> commandProbe; // 0 pending, 1 answered, -1 failed
	const std::string inbox = key("inbox:" + std::to_string(_number));
	Clock::time_point resyncedAt = Clock::now() - settleTime();
	std::set<std::string> subscribed;
	auto lastData = Clock::now();
	auto lastPing = Clock::now();
	while (_running)
	{
		if (!_subscriberConnected)
		{
			try
			{
				_subscriber->connect();
				subscribed.clear();
				_subscriberConnected = true;
				_connectedGauge->set(_commandConnected ? 1 : 0);
				lastData = lastPing = Clock::now();
				delayMs = 100;
				if (!first)
				{
					_reconnects->increment();
					_logger.information("Redis subscription re-established");
					_rejoined = false; // this resync covers it
					resyncedAt = Clock::now();
					syncPending = true;
					awaitingCommand = false;
					// Redis may have restarted empty: the command side re-asserts this node's keys.
					std::lock_guard<std::mutex> lock(_queueMutex);
					_reassertWanted = true;
					_queueReady.notify_all();
				}
				first = false;
			}
			catch (const RedisError& e)
			{
				backoff(delayMs, _subscriberConnected, "subscriber", e.what());
				continue;
			}
		}
		try
		{
			std::vector<std::string> wanted = wantedChannels();
			std::set<std::string> wantedSet(wanted.begin(), wanted.end());
			std::vector<std::string_view> add{"SUBSCRIBE"};
			std::vector<std::string_view> remove{"UNSUBSCRIBE"};
			for (const auto& c : wantedSet)
				if (!subscribed.count(c))
					add.push_back(c);
			for (const auto& c : subscribed)
				if (!wantedSet.count(c))
					remove.push_back(c);
			if (add.size() > 1)
				_subscriber->append(add);
			if (remove.size() > 1)
				_subscriber->append(remove);
			if (Clock::now() - lastPing > std::chrono::milliseconds(SUBSCRIBER_PING_MS))
			{
				_subscriber->append({"PING"});
				lastPing = Clock::now();
			}
			if (_subscriber->queuedBytes() > 0)
			{
				_subscriber->flush();
				_commands->increment();
			}
			subscribed = std::move(wantedSet);
			RespValue value;
			int wait = SUBSCRIBER_POLL_MS;
			while (_subscriber->tryRead(value, wait))
			{
				wait = 0;
				lastData = Clock::now();
				if (value.type == RespValue::Type::ARRAY && value.elements.size() == 3 &&
				    value.elements[0].text == "message")
					dispatch(value.elements[1].text, value.elements[2].text);
				else if (syncPending && value.type == RespValue::Type::ARRAY && value.elements.size() == 3 &&
				         value.elements[0].text == "subscribe" && value.elements[1].text == inbox)
				{
					// Replies to what members announce now reach this node.
					syncPending = false;
					awaitingCommand = true;
					commandProbe.reset();
				}
			}
			if (awaitingCommand)
			{
				if (commandProbe && *commandProbe == 1)
				{
					awaitingCommand = false;
					for (auto& m : _members)
						m.second->synced();
				}
				else if ((!commandProbe || *commandProbe == -1) && _commandConnected.load())
				{
					// Tried again every pass (SUBSCRIBER_POLL_MS) until the command side is back.
					auto probe = std::make_shared<std::atomic<int>>(0);
					commandProbe = probe;
					enqueue(Job{{"PING"}, [probe](bool ok, const RespValue&) { *probe = ok ? 1 : -1; }});
				}
			}
			reportDepartures();
			// This node's key had gone: the others may have reported it left, so its members
			// announce their state again. Not twice for one Redis restart (the key goes with it).
			if (_rejoined.exchange(false) && Clock::now() - resyncedAt >= settleTime())
			{
				_logger.warning("this node's liveness key had gone from Redis (other nodes may have counted it as "
				                "left); telling its plugins to resync");
				for (auto& m : _members)
					m.second->synced();
			}
			if (Clock::now() - lastData > std::chrono::milliseconds(SUBSCRIBER_SILENCE_MS))
				throw RedisError("no answer to PING for 15 s");
		}
		catch (const RedisError& e)
		{
			_subscriber->disconnect();
			if (_running)
				backoff(delayMs, _subscriberConnected, "subscriber", e.what());
		}
	}
}


void ClusterNode::dispatch(const std::string& channel, const std::string& payload)
{
	if (payload.size() < 2 || payload[0] != 'B' || payload[1] != '\n')
		return dispatchOne(channel, payload);
	// "B\n" then records "<length>\n<bytes>", in the order they were sent.
	std::string_view rest(payload);
	rest.remove_prefix(2);
	while (!rest.empty())
	{
		std::size_t newline = rest.find('\n');
		std::uint64_t length = 0;
		if (newline == std::string_view::npos || !parseUnsigned(rest.substr(0, newline), length) ||
		    length > rest.size() - newline - 1)
			return; // malformed: what came before it was delivered
		dispatchOne(channel, rest.substr(newline + 1, static_cast<std::size_t>(length)));
		rest.remove_prefix(newline + 1 + static_cast<std::size_t>(length));
	}
}


void ClusterNode::dispatchOne(const std::string& channel, std::string_view payload)
{
	_received->increment();
	std::vector<std::string_view> f;
	std::string_view data;
	if (!splitMessage(payload, f, data))
		return;
	std::string_view name(channel);
	if (name.substr(0, _prefix.size()) != _prefix)
		return;
	name.remove_prefix(_prefix.size());
	std::uint64_t id = 0;
	std::uint64_t number = 0;
	if (name.substr(0, 6) == "inbox:")
	{
		// "S <plugin> <connection> <T|B>\n<data>", "C <plugin> <connection> <code>\n<reason>" or
		// "M <plugin> <origin node> -\n<data>"
		if (f.size() != 4 || !parseUnsigned(f[2], id))
			return;
		auto m = _members.find(std::string(f[1]));
		if (m == _members.end())
			return;
		if (f[0] == "S")
			m->second->remoteSend(id, data, f[3] == "B" ? MessageKind::BINARY : MessageKind::TEXT);
		else if (f[0] == "C" && parseUnsigned(f[3], number) && number <= 4999)
			m->second->remoteClose(id, static_cast<std::uint16_t>(number), data);
		else if (f[0] == "M" && id >= 1 && id <= 65535)
		{
			heardFrom(static_cast<std::uint16_t>(id));
			m->second->remoteMessage(static_cast<std::uint16_t>(id), data);
		}
	}
	else if (name.substr(0, 4) == "bus:")
	{
		// "<origin node>\n<data>"; every node hears its own broadcasts too.
		auto m = _members.find(std::string(name.substr(4)));
		if (f.size() != 1 || !parseUnsigned(f[0], number) || number < 1 || number > 65535 || number == _number ||
		    m == _members.end())
			return;
		heardFrom(static_cast<std::uint16_t>(number));
		m->second->remoteMessage(static_cast<std::uint16_t>(number), data);
	}
	else if (name.substr(0, 6) == "group:")
	{
		// "<origin node> <except> <T|B>\n<data>"; the origin delivered to its own members already.
		if (f.size() != 3 || !parseUnsigned(f[0], number) || !parseUnsigned(f[1], id) || number == _number)
			return;
		ClusterMember* member = nullptr;
		std::string group;
		{
			std::lock_guard<std::mutex> lock(_channelMutex);
			auto g = _groupChannels.find(channel);
			if (g == _groupChannels.end())
				return;
			member = g->second.first;
			group = g->second.second;
		}
		member->remotePublish(group, data, f[2] == "B" ? MessageKind::BINARY : MessageKind::TEXT, id);
	}
	else if (name.substr(0, 6) == "names:")
	{
		// "<owner or 0>\n<name>"
		auto m = _members.find(std::string(name.substr(6)));
		if (f.size() != 1 || !parseUnsigned(f[0], id) || m == _members.end())
			return;
		m->second->nameChanged(data, id);
	}
}


bool ClusterNode::send(const std::string& plugin, ConnectionId to, std::string_view data, MessageKind kind)
{
	std::string payload = "S " + plugin + " " + std::to_string(to) + (kind == MessageKind::BINARY ? " B\n" : " T\n");
	payload.append(data.data(), data.size());
	auto node = static_cast<std::uint16_t>(to >> 48);
	return enqueue(Job{{"PUBLISH", key("inbox:" + std::to_string(node)), std::move(payload)}, {}});
}


bool ClusterNode::close(const std::string& plugin, ConnectionId id, std::uint16_t code, std::string_view reason)
{
	std::string payload = "C " + plugin + " " + std::to_string(id) + " " + std::to_string(code) + "\n";
	payload.append(reason.data(), reason.size());
	auto node = static_cast<std::uint16_t>(id >> 48);
	return enqueue(Job{{"PUBLISH", key("inbox:" + std::to_string(node)), std::move(payload)}, {}});
}


bool ClusterNode::publish(const std::string& plugin, std::string_view group, std::string_view data, MessageKind kind,
                          ConnectionId except)
{
	std::string payload =
	    std::to_string(_number) + " " + std::to_string(except) + (kind == MessageKind::BINARY ? " B\n" : " T\n");
	payload.append(data.data(), data.size());
	return enqueue(Job{{"PUBLISH", groupChannel(plugin, group), std::move(payload)}, {}});
}


bool ClusterNode::broadcastToPlugin(const std::string& plugin, std::string_view data)
{
	std::string payload = std::to_string(_number) + "\n";
	payload.append(data.data(), data.size());
	return enqueue(Job{{"PUBLISH", key("bus:" + plugin), std::move(payload)}, {}});
}


bool ClusterNode::sendToPlugin(const std::string& plugin, std::uint16_t node, std::string_view data)
{
	// The fourth field is unused: inbox records all have four.
	std::string payload = "M " + plugin + " " + std::to_string(_number) + " -\n";
	payload.append(data.data(), data.size());
	return enqueue(Job{{"PUBLISH", key("inbox:" + std::to_string(node)), std::move(payload)}, {}});
}


void ClusterNode::subscribeGroup(const std::string& plugin, std::string_view group)
{
	auto m = _members.find(plugin);
	if (m == _members.end())
		return;
	std::lock_guard<std::mutex> lock(_channelMutex);
	_groupChannels[groupChannel(plugin, group)] = {m->second, std::string(group)};
}


void ClusterNode::unsubscribeGroup(const std::string& plugin, std::string_view group)
{
	std::lock_guard<std::mutex> lock(_channelMutex);
	_groupChannels.erase(groupChannel(plugin, group));
}


void ClusterNode::claimName(const std::string& plugin, std::string_view name, ConnectionId owner,
                            std::string_view secretHash, bool announce,
                            std::function<void(ClaimResult, ConnectionId)> done)
{
	std::string value = std::to_string(_number) + "|" + std::to_string(owner) + "|" + std::string(secretHash);
	Job job{{"EVAL", CLAIM_SCRIPT, "1", key("name:" + plugin + ":" + std::string(name)), std::move(value), key("node:"),
	         std::string(secretHash), key("names:" + plugin), std::string(name), std::to_string(owner),
	         std::to_string(NAME_EXPIRY_S), announce ? "1" : "0"},
	        [done = std::move(done)](bool ok, const RespValue& reply) {
		        if (!ok || reply.type != RespValue::Type::ARRAY || reply.elements.size() != 2)
			        return done(ClaimResult::UNAVAILABLE, 0);
		        std::uint64_t previous = 0;
		        parseUnsigned(reply.elements[1].text, previous);
		        const std::string& outcome = reply.elements[0].text;
		        if (outcome == "ok")
			        done(ClaimResult::CLAIMED, 0);
		        else if (outcome == "over")
			        done(ClaimResult::TAKEN_OVER, previous);
		        else
			        done(ClaimResult::TAKEN, previous);
	        }};
	enqueue(std::move(job));
}


void ClusterNode::announceName(const std::string& plugin, std::string_view name, ConnectionId owner)
{
	std::string payload = std::to_string(owner) + "\n";
	payload.append(name.data(), name.size());
	enqueue(Job{{"PUBLISH", key("names:" + plugin), std::move(payload)}, {}});
}


void ClusterNode::releaseName(const std::string& plugin, std::string_view name, ConnectionId owner)
{
	std::string prefix = std::to_string(_number) + "|" + std::to_string(owner) + "|";
	enqueue(Job{{"EVAL", RELEASE_SCRIPT, "1", key("name:" + plugin + ":" + std::string(name)), std::move(prefix),
	             key("names:" + plugin), std::string(name)},
	            [](bool, const RespValue&) {}});
}


void ClusterNode::lookupName(const std::string& plugin, std::string_view name, std::function<void(ConnectionId)> done)
{
	enqueue(Job{{"EVAL", LOOKUP_SCRIPT, "1", key("name:" + plugin + ":" + std::string(name)), key("node:")},
	            [done = std::move(done)](bool ok, const RespValue& reply) {
		            std::uint64_t owner = 0;
		            if (ok && reply.isText())
			            parseUnsigned(reply.text, owner);
		            done(owner);
	            }});
}


std::string ClusterNode::statusJson()
{
	std::string out = "{\"enabled\":true,\"node\":{\"id\":";
	Json::appendString(out, _nodeId);
	out += ",\"number\":" + std::to_string(_number) + "},\"redis\":{\"address\":";
	Json::appendString(out, _endpoint.host + ":" + std::to_string(_endpoint.port));
	out += ",\"connected\":";
	out += redisConnected() ? "true" : "false";
	out += "},\"nodes\":[";
	std::int64_t ageMs = -1;
	{
		std::lock_guard<std::mutex> lock(_nodesMutex);
		for (std::size_t i = 0; i < _liveNodes.size(); ++i)
			out += (i ? "," : "") + _liveNodes[i];
		if (_nodesRefreshedAt != Clock::time_point())
			ageMs = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - _nodesRefreshedAt).count();
	}
	out += "],\"nodes_age_ms\":";
	out += ageMs < 0 ? std::string("null") : std::to_string(ageMs);
	out += "}";
	// Someone is watching: the next look is fresher than the once-a-second refresh.
	if (ageMs < 0 || ageMs > 100)
		refreshNodes();
	return out;
}


void ClusterNode::suspectDeparture()
{
	// At most one notice per 200 ms: a burst of messages to a dead node must not become a burst
	// of notices (each makes plugins look their cached owners up again).
	auto now = Clock::now();
	if (now - _lastDepartureNotice < std::chrono::milliseconds(200))
		return;
	_lastDepartureNotice = now;
	for (auto& m : _members)
		m.second->nameChanged({}, 0);
}


std::chrono::milliseconds ClusterNode::settleTime() const
{
	// Every live node is back within one reconnect (at most MAX_BACKOFF_MS after Redis answers)
	// and re-writes its key at once; node_ttl_s is how late a departure may be reported anyway.
	return std::chrono::seconds(_settings.nodeTtlSeconds) + std::chrono::milliseconds(MAX_BACKOFF_MS);
}


void ClusterNode::heardFrom(std::uint16_t node)
{
	// A node that sent something and stopped before this node's next look at the node list must
	// still be reported: the next refresh counts it as known.
	if (!_heard.insert(node).second)
		return;
	std::lock_guard<std::mutex> lock(_nodesMutex);
	_newlyHeard.push_back(node);
}


void ClusterNode::reportDepartures()
{
	std::vector<std::uint16_t> left;
	{
		std::lock_guard<std::mutex> lock(_nodesMutex);
		if (_departed.empty())
			return;
		left.swap(_departed);
	}
	for (std::uint16_t n : left)
	{
		_heard.erase(n); // numbers wrap: a later node may have it
		for (auto& m : _members)
			m.second->nodeLeft(n);
	}
}


void ClusterNode::refreshNodes()
{
	// Heard before this refresh is queued, so Redis runs it after their messages were published:
	// a node heard from and missing from the list has left.
	std::vector<std::uint16_t> heard;
	{
		std::lock_guard<std::mutex> lock(_nodesMutex);
		heard.swap(_newlyHeard);
	}
	Job job{{"EVAL", NODES_SCRIPT, "1", key("nodes"), std::to_string(nowMs()), key("node:")},
	        [this, heard](bool ok, const RespValue& reply) {
		        if (!ok || reply.type != RespValue::Type::ARRAY)
		        {
			        std::lock_guard<std::mutex> lock(_nodesMutex);
			        _newlyHeard.insert(_newlyHeard.end(), heard.begin(), heard.end()); // for the next one
			        return;
		        }
		        std::vector<std::string> nodes;
		        for (const auto& v : reply.elements)
		        {
			        if (!v.isText())
				        continue;
			        // The stored JSON without its instance token, which is nobody's business.
			        std::string json = v.text;
			        std::size_t t = json.find(",\"token\":");
			        if (t != std::string::npos)
				        json = json.substr(0, t) + "}";
			        nodes.push_back(std::move(json));
		        }
		        std::set<std::uint64_t> numbers;
		        for (const auto& json : nodes)
		        {
			        std::size_t at = json.find("\"number\":");
			        std::uint64_t n = 0;
			        if (at != std::string::npos)
			        {
				        std::size_t end = json.find_first_not_of("0123456789", at + 9);
				        if (parseUnsigned(std::string_view(json).substr(at + 9, end - (at + 9)), n))
					        numbers.insert(n);
			        }
		        }
		        // Departures for the members. Just after a reconnect the other nodes are still
		        // re-asserting their keys (Redis may have restarted empty): a node missing then is
		        // reported only if it is still missing when that settles.
		        std::vector<std::uint16_t> departed;
		        _reportedNumbers.insert(heard.begin(), heard.end());
		        if (Clock::now() < _settleUntil)
			        _reportedNumbers.insert(numbers.begin(), numbers.end());
		        else
		        {
			        // This node itself is never reported: its key comes back with its next heartbeat.
			        for (std::uint64_t n : _reportedNumbers)
				        if (numbers.count(n) == 0 && n != _number)
					        departed.push_back(static_cast<std::uint16_t>(n));
			        _reportedNumbers = numbers;
		        }
		        bool someoneLeft = false;
		        {
			        std::lock_guard<std::mutex> lock(_nodesMutex);
			        for (std::uint64_t n : _liveNumbers)
				        someoneLeft = someoneLeft || numbers.count(n) == 0;
			        _departed.insert(_departed.end(), departed.begin(), departed.end());
			        _liveNodes = std::move(nodes);
			        _liveNumbers = std::move(numbers);
			        _nodesRefreshedAt = Clock::now();
		        }
		        // A node gone (stopped or dead): every name it held is free, without a notice per name.
		        if (someoneLeft)
			        for (auto& m : _members)
				        m.second->nameChanged({}, 0);
	        }};
	enqueue(std::move(job));
}


} // namespace Cluster
} // namespace Switchboard
