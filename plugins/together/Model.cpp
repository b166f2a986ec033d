//
// Model.cpp
//
// The in-memory model's views: the JSON objects clients see (docs/protocols/together.md,
// "Objects"), membership lookups, group bookkeeping, voice clearing and presence broadcasts.
// Every function here runs with _mutex held.
//


#include "JsonObject.h"
#include "Rules.h"
#include "TogetherPlugin.h"
#include "switchboard/util/Json.h"


namespace Switchboard {
namespace Together {


std::string TogetherPlugin::presenceOf(const std::string& userId) const
{
	auto it = _presence.find(userId);
	return it == _presence.end() ? "offline" : it->second;
}


std::string TogetherPlugin::userDto(const std::string& userId) const
{
	auto it = _users.find(userId);
	if (it == _users.end())
		return "null";
	const UserRecord& user = it->second;
	return JsonObject()
	    .text("id", user.id)
	    .text("username", user.username)
	    .optional("email", user.email)
	    .optional("avatar_url", user.avatarUrl)
	    .text("status", presenceOf(userId))
	    .optional("custom_status", user.customStatus)
	    .text("created_at", formatTimestamp(user.createdAt))
	    .str();
}


std::string TogetherPlugin::serverDto(const ServerInfo& server) const
{
	return JsonObject()
	    .text("id", server.id)
	    .text("name", server.name)
	    .optional("description", server.description)
	    .text("owner_id", server.ownerId)
	    .optional("icon_url", server.iconUrl)
	    .boolean("is_public", server.isPublic)
	    .integer("member_count", static_cast<std::int64_t>(server.members.size()))
	    .text("created_at", formatTimestamp(server.createdAt))
	    .text("updated_at", formatTimestamp(server.updatedAt))
	    .str();
}


std::string TogetherPlugin::memberDto(const std::string& userId, const Member& member) const
{
	auto it = _users.find(userId);
	const bool known = it != _users.end();
	return JsonObject()
	    .text("user_id", userId)
	    .text("username", known ? it->second.username : std::string())
	    .optional("avatar_url", known ? it->second.avatarUrl : std::nullopt)
	    .text("status", presenceOf(userId))
	    .optional("custom_status", known ? it->second.customStatus : std::nullopt)
	    .optional("nickname", member.nickname)
	    .text("joined_at", formatTimestamp(member.joinedAt))
	    .str();
}


std::string TogetherPlugin::voiceDto(const std::string& userId, const VoiceState* state) const
{
	// state nullptr: the leave form, with every flag false and no channel.
	auto user = _users.find(userId);
	return JsonObject()
	    .text("user_id", userId)
	    .optional("channel_id", state ? std::optional<std::string>(state->channelId) : std::nullopt)
	    .text("username", user == _users.end() ? std::string() : user->second.username)
	    .boolean("muted", state && (state->selfMute || state->serverMute))
	    .boolean("deafened", state && (state->selfDeaf || state->serverDeaf))
	    .boolean("self_mute", state && state->selfMute)
	    .boolean("self_deaf", state && state->selfDeaf)
	    .boolean("server_mute", state && state->serverMute)
	    .boolean("server_deaf", state && state->serverDeaf)
	    .optional("joined_at", state ? std::optional<std::string>(formatTimestamp(state->joinedAt)) : std::nullopt)
	    .str();
}


const ServerInfo* TogetherPlugin::memberServer(const std::string& serverId, const std::string& userId) const
{
	auto it = _servers.find(serverId);
	if (it == _servers.end() || it->second.members.count(userId) == 0)
		return nullptr;
	return &it->second;
}


const ChannelInfo* TogetherPlugin::memberChannel(const std::string& channelId, const std::string& userId) const
{
	auto it = _channels.find(channelId);
	if (it == _channels.end() || memberServer(it->second.serverId, userId) == nullptr)
		return nullptr;
	return &it->second;
}


void TogetherPlugin::joinGroups(const std::string& userId, const std::string& serverId)
{
	auto sessions = _userSessions.find(userId);
	if (sessions == _userSessions.end())
		return;
	for (ConnectionId id : sessions->second)
		_pHost->router().join("s:" + serverId, id);
}


void TogetherPlugin::leaveGroups(const std::string& userId, const std::string& serverId)
{
	auto sessions = _userSessions.find(userId);
	if (sessions == _userSessions.end())
		return;
	for (ConnectionId id : sessions->second)
		_pHost->router().leave("s:" + serverId, id);
}


void TogetherPlugin::clearVoice(const std::string& userId, std::vector<std::pair<std::string, std::string>>& events)
{
	auto state = _voice.find(userId);
	if (state == _voice.end())
		return;
	auto channel = _channels.find(state->second.channelId);
	const std::string serverId = channel == _channels.end() ? std::string() : channel->second.serverId;
	_voice.erase(state);
	shareVoice(userId);
	if (!serverId.empty())
		events.emplace_back(
		    serverId, "{\"op\":\"DISPATCH\",\"t\":\"VOICE_STATE_UPDATE\",\"d\":" + voiceDto(userId, nullptr) + "}");
}


void TogetherPlugin::publishPresence(const std::string& userId, ConnectionId except, bool toOwnSessions, bool localOnly)
{
	if (_shuttingDown)
		return;
	// In a cluster every node hears of the change (TogetherCluster.cpp) and tells its own sessions.
	localOnly = localOnly || _pCluster != nullptr;
	auto user = _users.find(userId);
	const std::string frame =
	    "{\"op\":\"DISPATCH\",\"t\":\"PRESENCE_UPDATE\",\"d\":" +
	    JsonObject()
	        .text("user_id", userId)
	        .text("status", presenceOf(userId))
	        .optional("custom_status", user == _users.end() ? std::nullopt : user->second.customStatus)
	        .str() +
	    "}";
	// Each co-member once, however many servers they share.
	std::set<std::string> recipients;
	auto servers = _userServers.find(userId);
	if (servers != _userServers.end())
		for (const std::string& serverId : servers->second)
		{
			auto server = _servers.find(serverId);
			if (server != _servers.end())
				for (const auto& member : server->second.members)
					if (member.first != userId && hasSessions(member.first))
						recipients.insert(member.first);
		}
	Router& router = _pHost->router();
	for (const std::string& recipient : recipients)
		if (localOnly)
			router.publishLocal("u:" + recipient, frame);
		else
			router.publish("u:" + recipient, frame);
	if (toOwnSessions && localOnly)
		router.publishLocal("u:" + userId, frame, MessageKind::TEXT, except);
	else if (toOwnSessions)
		router.publish("u:" + userId, frame, MessageKind::TEXT, except);
}


} // namespace Together
} // namespace Switchboard
