//
// Gateway.cpp
//
// The WebSocket gateway (docs/protocols/together.md, "Gateway"): the upgrade checks, 4001 after
// the upgrade for bad tokens, registration before READY (so no event between the snapshot and
// the registration is lost: everything published after registration queues behind READY on the
// session's own loop), frame validation (4002), the inbound rate limit (4008), presence across
// several sessions and the VOICE_SIGNAL relay. Runs on event loops: no storage call blocks here.
//


#include "HttpRules.h"
#include "JsonText.h"
#include "Rules.h"
#include "TogetherPlugin.h"
#include "switchboard/util/Json.h"
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <sodium.h>
#include <algorithm>
#include <chrono>


namespace Switchboard {
namespace Together {


namespace {


constexpr std::int64_t DISCARD_WINDOW_MS = 10000;
constexpr std::size_t MAX_DISCARDS = 100;


} // namespace


AcceptDecision TogetherPlugin::onAccept(const HttpRequest& request)
{
	const std::shared_ptr<const TogetherSettings> current = settings();
	const std::vector<std::string>& allowed = current->wsAllowedOrigins;
	if (!allowed.empty() && request.hasHeader("Origin"))
	{
		const std::string_view origin = request.header("Origin");
		if (std::find(allowed.begin(), allowed.end(), origin) == allowed.end())
			return AcceptDecision::reject(403, "{\"error\":\"Origin not allowed\"}");
	}
	std::int64_t retryAfter = 0;
	if (!_connectLimit->take(clientIp(request.remoteAddress), _pHost->clock().monotonicMs(), retryAfter))
		return AcceptDecision::reject(429, "{\"error\":\"Too many requests\"}");
	return AcceptDecision::accept();
}


void TogetherPlugin::onOpen(Connection& connection, const HttpRequest& request)
{
	// The token is checked after the upgrade: a bad one gets close 4001 and nothing else.
	std::string token = request.queryParam("token");
	if (token.empty())
		bearerToken(request, token);
	if (token.empty())
		return connection.close(4001, "Missing token");
	TokenClaims claims;
	const std::int64_t nowSeconds =
	    std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
	if (_codec->read(token, nowSeconds, settings()->tokens.leewaySeconds, claims) != TokenStatus::VALID)
		return connection.close(4001, "Invalid or expired token");
	if (claims.tokenType != "access")
		return connection.close(4001, "Invalid token type");
	std::string userId;
	unsigned char idBytes[16];
	_pHost->randomBytes(idBytes, sizeof(idBytes));
	char hex[33];
	sodium_bin2hex(hex, sizeof(hex), idBytes, sizeof(idBytes));

	std::vector<ConnectionId> evicted;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		// Read under _mutex: reconfigure() swaps the settings and settles the buckets under it.
		const std::shared_ptr<const TogetherSettings> current = settings();
		if (!parseUuid(claims.subject, userId) || _users.count(userId) == 0)
			return connection.close(4001, "Unknown user");
		if (static_cast<std::int64_t>(_gateway.size()) >= current->wsMaxConnections)
			return connection.close(1013, "Server busy");

		// Register first: from here on every event for this user queues behind READY.
		GatewaySession& session = _gateway[connection.id()];
		session.userId = userId;
		session.sessionId = hex;
		session.tokenExpiresAt = claims.expiresAt;
		session.tokens = current->wsRateBurst;
		session.bucketMs = _pHost->clock().monotonicMs();
		std::vector<ConnectionId>& mine = _userSessions[userId];
		mine.push_back(connection.id());
		Router& router = _pHost->router();
		router.join("u:" + userId, connection.id());
		auto servers = _userServers.find(userId);
		if (servers != _userServers.end())
			for (const std::string& serverId : servers->second)
				router.join("s:" + serverId, connection.id());
		const bool first = mine.size() == 1;
		const bool elsewhere = _sessionNodes.count(userId) > 0; // then the user is online already
		if (first && !elsewhere)
			_presence[userId] = "online";

		std::vector<const ServerInfo*> list;
		if (servers != _userServers.end())
			for (const std::string& serverId : servers->second)
				list.push_back(&_servers.at(serverId));
		std::sort(list.begin(), list.end(), [](const ServerInfo* a, const ServerInfo* b) {
			return a->createdAt != b->createdAt ? a->createdAt < b->createdAt : a->id < b->id;
		});
		std::string ready =
		    "{\"op\":\"DISPATCH\",\"t\":\"READY\",\"d\":{\"user\":" + userDto(userId) + ",\"servers\":[";
		for (std::size_t i = 0; i < list.size(); ++i)
			ready += (i ? "," : "") + serverDto(*list[i]);
		ready += "],\"heartbeat_interval\":" + std::to_string(current->wsHeartbeatIntervalMs) + ",\"session_id\":\"" +
		         hex + "\"}}";
		connection.send(ready);

		if (first && !elsewhere)
			publishPresence(userId, 0, false);
		if (first)
			sharePresence(userId);
		// Over the per-user cap the oldest sessions go; they stop receiving at once.
		while (static_cast<std::int64_t>(mine.size()) > current->wsMaxSessionsPerUser)
		{
			evicted.push_back(mine.front());
			sessionEnded(mine.front());
		}
	}
	for (ConnectionId id : evicted)
		_pHost->router().close(id, CloseCode::NORMAL, "Session limit reached");
}


void TogetherPlugin::onMessage(Connection& connection, std::string_view data, MessageKind kind)
{
	const ConnectionId id = connection.id();
	std::string userId;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		auto found = _gateway.find(id);
		if (found == _gateway.end())
			return; // closing (4001, evicted): nothing more is processed
		GatewaySession& session = found->second;
		const std::shared_ptr<const TogetherSettings> current = settings();
		// Token bucket: a frame finding it empty is dropped unread; too many drops end the session.
		if (current->wsRatePerSecond > 0)
		{
			const std::int64_t now = _pHost->clock().monotonicMs();
			session.tokens = std::min(current->wsRateBurst,
			                          session.tokens + (now - session.bucketMs) * current->wsRatePerSecond / 1000.0);
			session.bucketMs = now;
			if (session.tokens < 1)
			{
				auto& drops = session.discardedMs;
				drops.erase(drops.begin(), std::find_if(drops.begin(), drops.end(),
				                                        [now](std::int64_t t) { return t > now - DISCARD_WINDOW_MS; }));
				drops.push_back(now);
				if (drops.size() > MAX_DISCARDS)
				{
					sessionEnded(id);
					connection.close(4008, "Rate limited");
				}
				return;
			}
			session.tokens -= 1;
		}
		userId = session.userId;
	}
	if (kind == MessageKind::PING)
	{
		connection.sendPong(data); // a ping that found a token is answered as RFC 6455 says
		return;
	}

	// Envelope checks (4002): text, one JSON object, a known string op. The frame is read with
	// JsonText, not a JSON tree, so numbers of any size are valid and signals relay byte for byte.
	std::string_view opToken;
	std::string op;
	const bool valid = kind == MessageKind::TEXT && JsonText::isValid(data) && JsonText::member(data, "op", opToken) &&
	                   JsonText::stringValue(opToken, op) &&
	                   (op == "DISPATCH" || op == "HEARTBEAT" || op == "HEARTBEAT_ACK" || op == "PRESENCE_UPDATE" ||
	                    op == "VOICE_SIGNAL");
	if (!valid)
	{
		closeSession(id);
		return connection.close(4002, "Invalid message format");
	}
	if (op == "HEARTBEAT")
	{
		connection.send("{\"op\":\"HEARTBEAT_ACK\"}");
		return;
	}
	std::string_view d;
	if (!JsonText::member(data, "d", d) || d.empty() || d.front() != '{')
		return; // DISPATCH and HEARTBEAT_ACK are ignored, and so is a payload that is not an object
	if (op == "PRESENCE_UPDATE")
	{
		// Payload problems are ignored: no reply, no close.
		Poco::JSON::Object::Ptr payload;
		try
		{
			Poco::JSON::Parser parser;
			payload = parser.parse(std::string(d)).extract<Poco::JSON::Object::Ptr>();
		}
		catch (const Poco::Exception&)
		{
			return;
		}
		catch (const std::exception&)
		{
			return;
		}
		if (!payload->has("status") || !payload->get("status").isString())
			return;
		std::string status = payload->get("status").extract<std::string>();
		if (status == "away")
			status = "idle";
		if (status != "online" && status != "idle" && status != "dnd" && status != "offline")
			return;
		std::optional<std::optional<std::string>> custom;
		if (payload->has("custom_status"))
		{
			if (payload->isNull("custom_status"))
				custom = std::optional<std::string>();
			else if (payload->get("custom_status").isString())
			{
				std::string text = payload->get("custom_status").extract<std::string>();
				if (!customStatusError(text).empty())
					return;
				custom = std::optional<std::string>(text);
			}
			else
				return;
		}
		return applyPresence(userId, status, custom, id);
	}
	if (op == "VOICE_SIGNAL")
	{
		std::lock_guard<std::mutex> lock(_mutex);
		auto found = _gateway.find(id);
		if (found != _gateway.end())
			relaySignal(connection, found->second, d);
	}
}


void TogetherPlugin::relaySignal(Connection& connection, GatewaySession& session, std::string_view d)
{
	// Under _mutex. Every refusal is silent: clients racing a voice leave must not be cut off.
	std::string_view token;
	std::string given, target;
	if (!JsonText::member(d, "to_user_id", token) || !JsonText::stringValue(token, given) ||
	    !parseUuid(given, target) || target == session.userId)
		return;
	auto mine = _voice.find(session.userId);
	auto theirs = _voice.find(target);
	if (mine == _voice.end() || theirs == _voice.end() || mine->second.channelId != theirs->second.channelId)
		return;
	if (mine->second.boundSession != 0 && mine->second.boundSession != connection.id())
		return;

	std::string out = "{\"op\":\"DISPATCH\",\"t\":\"VOICE_SIGNAL\",\"d\":{\"from_user_id\":";
	Json::appendString(out, session.userId);
	std::string_view signal;
	if (JsonText::member(d, "signal", signal))
	{
		if (JsonText::isNull(signal))
			return;
		out += ",\"signal\":";
		out += signal;
	}
	else
	{
		// The reference client's flat form; sdp and candidate are copied as they are.
		std::string type;
		if (!JsonText::member(d, "type", token) || !JsonText::stringValue(token, type) ||
		    (type != "offer" && type != "answer" && type != "candidate"))
			return;
		out += ",\"type\":";
		Json::appendString(out, type);
		for (const char* field : {"sdp", "candidate"})
		{
			out += std::string(",\"") + field + "\":";
			if (JsonText::member(d, field, token))
				out += token;
			else
				out += "null";
		}
	}
	out += "}}";
	if (theirs->second.boundSession != 0)
		_pHost->router().send(theirs->second.boundSession, out);
	else
		_pHost->router().publish("u:" + target, out);
}


void TogetherPlugin::applyPresence(const std::string& userId, const std::string& status,
                                   const std::optional<std::optional<std::string>>& customStatus, ConnectionId sender)
{
	std::lock_guard<std::mutex> lock(_mutex);
	auto user = _users.find(userId);
	if (user == _users.end())
		return;
	bool changed = false;
	auto live = _presence.find(userId);
	// Without an open session the status is ignored: the user stays offline.
	if (!status.empty() && live != _presence.end() && live->second != status)
	{
		live->second = status;
		changed = true;
	}
	if (customStatus && *customStatus != user->second.customStatus)
	{
		user->second.customStatus = *customStatus;
		changed = true;
		if (sender != 0)
		{
			// From the gateway: persist without blocking the loop (REST has stored it already).
			Value value = *customStatus ? Value(**customStatus) : Value(nullptr);
			_pHost->storage().executeAsync("UPDATE users SET custom_status = ?, updated_at = ? WHERE id = ?",
			                               {value, nowMicros(), userId}, {});
		}
	}
	if (changed)
	{
		publishPresence(userId, sender, true);
		sharePresence(userId);
	}
}


void TogetherPlugin::closeSession(ConnectionId id)
{
	std::lock_guard<std::mutex> lock(_mutex);
	sessionEnded(id);
}


void TogetherPlugin::sessionEnded(ConnectionId id)
{
	// Under _mutex. Runs the presence and voice rules once per session, whatever ended it.
	auto found = _gateway.find(id);
	if (found == _gateway.end())
		return;
	const std::string userId = found->second.userId;
	_gateway.erase(found);
	Router& router = _pHost->router();
	router.leave("u:" + userId, id);
	auto servers = _userServers.find(userId);
	if (servers != _userServers.end())
		for (const std::string& serverId : servers->second)
			router.leave("s:" + serverId, id);
	auto sessions = _userSessions.find(userId);
	bool last = true;
	if (sessions != _userSessions.end())
	{
		auto& list = sessions->second;
		list.erase(std::remove(list.begin(), list.end(), id), list.end());
		last = list.empty();
		if (last)
			_userSessions.erase(sessions);
	}
	std::vector<std::pair<std::string, std::string>> events;
	auto voice = _voice.find(userId);
	const bool lastAnywhere = last && _sessionNodes.count(userId) == 0;
	if (voice != _voice.end() &&
	    ((voice->second.boundSession == id) || (voice->second.boundSession == 0 && lastAnywhere)))
		clearVoice(userId, events);
	if (!_shuttingDown)
		for (const auto& event : events)
			router.publish("s:" + event.first, event.second);
	if (last)
		sharePresence(userId);
	if (lastAnywhere)
	{
		auto presence = _presence.find(userId);
		const bool wasVisible = presence != _presence.end() && presence->second != "offline";
		if (presence != _presence.end())
			_presence.erase(presence);
		if (wasVisible)
			publishPresence(userId, 0, false);
	}
}


void TogetherPlugin::onClose(Connection& connection, std::uint16_t, std::string_view)
{
	std::lock_guard<std::mutex> lock(_mutex);
	sessionEnded(connection.id());
}


void TogetherPlugin::checkTokenExpiry()
{
	const std::int64_t nowSeconds =
	    std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
	const std::shared_ptr<const TogetherSettings> current = settings();
	if (!current->wsCloseOnTokenExpiry)
		return; // turned off by a reload while this tick was due
	std::vector<ConnectionId> expired;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		for (const auto& entry : _gateway)
			if (entry.second.tokenExpiresAt + current->tokens.leewaySeconds < nowSeconds)
				expired.push_back(entry.first);
		for (ConnectionId id : expired)
			sessionEnded(id);
	}
	for (ConnectionId id : expired)
		_pHost->router().close(id, 4001, "Token expired");
}


} // namespace Together
} // namespace Switchboard
