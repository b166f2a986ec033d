//
// TogetherCluster.cpp
//
// Together across the nodes of a cluster (docs/protocols/together.md §9). Every node mirrors the
// model; users, servers (with their members) and channels live in the shared storage, so a
// change made on one node is announced by id and the others re-read that row. Voice states and
// presence live in memory and travel whole. One line per change:
//
//   U <user id>                                   re-read the user
//   S <server id>                                 re-read the server and its members (gone: deleted)
//   C <channel id>                                re-read the channel (gone: deleted)
//   V <user id> [<channel> <flags> <joined> <session>]   voice state (absent: left)
//   P <user id> <0|1> <status> <c|n>\n<custom>    has sessions on the sender; status; custom status
//   H                                             "send me your presence"
//
// Messages are applied on a worker, one at a time in arrival order, since re-reading blocks.
// After a Redis outage (synced) a node re-reads everything, forgets where other nodes' sessions
// are and sends H; the answers and each node's own announcement are P and V lines. A user who had
// sessions elsewhere and is not announced again within RESYNC_SETTLE_MS went offline meanwhile:
// this node's sessions hear it (and the user's voice state leaves), as after a node's death.
// Events for clients (MESSAGE_*, VOICE_*, PRESENCE_UPDATE) do not travel here: they go through
// the Router's groups, which span the nodes.
//


#include "Accounts.h"
#include "TogetherPlugin.h"
#include "switchboard/util/LineMessage.h"
#include <algorithm>


namespace Switchboard {
namespace Together {


namespace {


// How long after a resync the other nodes have to announce their sessions again (they are back
// within one reconnect of the host, at most 2 s after Redis answers). A user announced later goes
// offline and comes back online.
constexpr std::int64_t RESYNC_SETTLE_MS = 5000;


// True on the thread that applies another node's change, so the change is not announced back.
thread_local bool applyingPeerChange = false;


bool validStatus(std::string_view status)
{
	return status == "online" || status == "idle" || status == "dnd" || status == "offline";
}


} // namespace


void TogetherPlugin::share(const std::string& message)
{
	if (_pCluster != nullptr && !applyingPeerChange)
		_pCluster->broadcast(message);
}


void TogetherPlugin::shareVoice(const std::string& userId)
{
	if (_pCluster != nullptr && !applyingPeerChange)
		share(voiceLine(userId));
}


std::string TogetherPlugin::voiceLine(const std::string& userId) const
{
	auto state = _voice.find(userId);
	if (state == _voice.end())
		return "V " + userId;
	const VoiceState& v = state->second;
	std::string flags = {v.selfMute ? '1' : '0', v.selfDeaf ? '1' : '0', v.serverMute ? '1' : '0',
	                     v.serverDeaf ? '1' : '0'};
	return "V " + userId + " " + v.channelId + " " + flags + " " + std::to_string(v.joinedAt) + " " +
	       std::to_string(v.boundSession);
}


bool TogetherPlugin::voiceHeldHere(const VoiceState& state, const std::string& userId) const
{
	// Bound to a gateway session of this node, or not bound yet and the user has sessions here.
	return state.boundSession != 0 ? nodeOf(state.boundSession) == _pCluster->node() : _userSessions.count(userId) > 0;
}


std::string TogetherPlugin::presenceLine(const std::string& userId) const
{
	auto user = _users.find(userId);
	const std::optional<std::string> custom = user == _users.end() ? std::nullopt : user->second.customStatus;
	return "P " + userId + (_userSessions.count(userId) > 0 ? " 1 " : " 0 ") + presenceOf(userId) +
	       (custom ? " c\n" + *custom : std::string(" n\n"));
}


void TogetherPlugin::sharePresence(const std::string& userId)
{
	share(presenceLine(userId));
}


bool TogetherPlugin::hasSessions(const std::string& userId) const
{
	return _userSessions.count(userId) > 0 || _sessionNodes.count(userId) > 0;
}


bool TogetherPlugin::knowsUser(const std::string& userId)
{
	{
		std::lock_guard<std::mutex> lock(_mutex);
		if (_users.count(userId) > 0)
			return true;
	}
	if (_pCluster == nullptr)
		return false;
	// Registered on another node a moment ago: its notice may still be on the way.
	QueryResult row =
	    _pHost->storage().execute(std::string("SELECT ") + USER_COLUMNS + " FROM users WHERE id = ?", {userId});
	if (!row.ok || row.rows.size() != 1)
		return false;
	std::lock_guard<std::mutex> lock(_mutex);
	_users.emplace(userId, userFrom(row.rows[0]));
	return true;
}


void TogetherPlugin::knowsServer(const std::string& serverId, const std::string& memberId)
{
	{
		std::lock_guard<std::mutex> lock(_mutex);
		auto known = _servers.find(serverId);
		if (_pCluster == nullptr ||
		    (known != _servers.end() && (memberId.empty() || known->second.members.count(memberId) > 0)))
			return;
	}
	Storage& storage = _pHost->storage();
	QueryResult server =
	    storage.execute(std::string("SELECT ") + SERVER_COLUMNS + " FROM servers WHERE id = ?", {serverId});
	QueryResult members = storage.execute(
	    std::string("SELECT ") + MEMBER_COLUMNS + " FROM server_members WHERE server_id = ?", {serverId});
	if (!server.ok || !members.ok || server.rows.size() != 1)
		return;
	std::lock_guard<std::mutex> lock(_mutex);
	applyServer(serverId, server, members);
}


void TogetherPlugin::knowsChannel(const std::string& channelId, const std::string& memberId)
{
	std::string serverId;
	{
		std::lock_guard<std::mutex> lock(_mutex);
		auto known = _channels.find(channelId);
		if (_pCluster == nullptr)
			return;
		if (known != _channels.end())
			serverId = known->second.serverId;
	}
	if (serverId.empty())
	{
		QueryResult row = _pHost->storage().execute(
		    std::string("SELECT ") + CHANNEL_COLUMNS + " FROM channels WHERE id = ?", {channelId});
		if (!row.ok || row.rows.size() != 1)
			return;
		ChannelInfo channel = channelFrom(row.rows[0]);
		serverId = channel.serverId;
		std::lock_guard<std::mutex> lock(_mutex);
		_channels.emplace(channelId, std::move(channel));
	}
	knowsServer(serverId, memberId);
}


void TogetherPlugin::onPeerMessage(NodeNumber from, std::string_view message)
{
	{
		std::lock_guard<std::mutex> lock(_peerMutex);
		_peerQueue.emplace_back(from, std::string(message));
		if (_peerDraining)
			return;
		_peerDraining = true;
	}
	_pHost->offload([this] { drainPeerMessages(); }); // (FakeHost runs it here and now)
}


void TogetherPlugin::drainPeerMessages()
{
	for (;;)
	{
		std::pair<NodeNumber, std::string> next;
		{
			std::lock_guard<std::mutex> lock(_peerMutex);
			if (_peerQueue.empty())
			{
				_peerDraining = false;
				return;
			}
			next = std::move(_peerQueue.front());
			_peerQueue.pop_front();
		}
		applyingPeerChange = true;
		if (next.first == 0 && next.second == "reload")
			reloadModel();
		else
			applyPeerMessage(next.first, next.second);
		applyingPeerChange = false;
	}
}


void TogetherPlugin::applyPeerMessage(NodeNumber from, const std::string& message)
{
	LineMessage m = splitLineMessage(message);
	if (m.words.empty() || m.words[0].size() != 1 || _shuttingDown)
		return;
	const char verb = m.words[0][0];
	const std::size_t count = m.words.size();
	Storage& storage = _pHost->storage();
	if (verb == 'U' && count == 2)
	{
		const std::string id(m.words[1]);
		QueryResult row = storage.execute(std::string("SELECT ") + USER_COLUMNS + " FROM users WHERE id = ?", {id});
		std::lock_guard<std::mutex> lock(_mutex);
		if (row.ok && row.rows.size() == 1)
			_users[id] = userFrom(row.rows[0]);
	}
	else if (verb == 'S' && count == 2)
	{
		const std::string id(m.words[1]);
		QueryResult server =
		    storage.execute(std::string("SELECT ") + SERVER_COLUMNS + " FROM servers WHERE id = ?", {id});
		QueryResult members =
		    storage.execute(std::string("SELECT ") + MEMBER_COLUMNS + " FROM server_members WHERE server_id = ?", {id});
		if (!server.ok || !members.ok)
			return;
		std::lock_guard<std::mutex> lock(_mutex);
		applyServer(id, server, members);
	}
	else if (verb == 'C' && count == 2)
	{
		const std::string id(m.words[1]);
		QueryResult row =
		    storage.execute(std::string("SELECT ") + CHANNEL_COLUMNS + " FROM channels WHERE id = ?", {id});
		if (!row.ok)
			return;
		std::lock_guard<std::mutex> lock(_mutex);
		if (row.rows.size() == 1)
			_channels[id] = channelFrom(row.rows[0]);
		else
			_channels.erase(id);
	}
	else if (verb == 'V' && (count == 2 || count == 6))
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const std::string userId(m.words[1]);
		VoiceState state;
		if (count == 2)
			_voice.erase(userId);
		else if (m.words[3].size() == 4 && readWholeInteger(m.words[4], state.joinedAt) &&
		         readWholeInteger(m.words[5], state.boundSession))
		{
			state.channelId = std::string(m.words[2]);
			state.selfMute = m.words[3][0] == '1';
			state.selfDeaf = m.words[3][1] == '1';
			state.serverMute = m.words[3][2] == '1';
			state.serverDeaf = m.words[3][3] == '1';
			_voice[userId] = state;
		}
	}
	else if (verb == 'P' && count == 5 && (m.words[2] == "0" || m.words[2] == "1") && validStatus(m.words[3]) &&
	         (m.words[4] == "c" || m.words[4] == "n"))
	{
		std::lock_guard<std::mutex> lock(_mutex);
		const std::string userId(m.words[1]);
		auto user = _users.find(userId);
		const std::string statusBefore = presenceOf(userId);
		std::optional<std::string> customBefore;
		if (user != _users.end())
		{
			customBefore = user->second.customStatus;
			user->second.customStatus =
			    m.words[4] == "c" ? std::optional<std::string>(std::string(m.text)) : std::nullopt;
		}
		if (m.words[2] == "1")
		{
			_sessionNodes[userId].insert(from);
			_presence[userId] = std::string(m.words[3]);
		}
		else
		{
			auto nodes = _sessionNodes.find(userId);
			if (nodes != _sessionNodes.end())
			{
				nodes->second.erase(from);
				if (nodes->second.empty())
					_sessionNodes.erase(nodes);
			}
			if (!hasSessions(userId))
				_presence.erase(userId);
		}
		// Each node tells its own sessions what changed for them (publishPresence is local in a cluster).
		if (presenceOf(userId) != statusBefore || (user != _users.end() && user->second.customStatus != customBefore))
			publishPresence(userId, 0, true);
	}
	else if (verb == 'H' && count == 1 && from != 0)
	{
		std::lock_guard<std::mutex> lock(_mutex);
		for (const auto& entry : _userSessions)
			_pCluster->sendTo(from, presenceLine(entry.first));
		for (const auto& state : _voice)
			if (voiceHeldHere(state.second, state.first))
				_pCluster->sendTo(from, voiceLine(state.first));
	}
}


void TogetherPlugin::applyServer(const std::string& id, const QueryResult& server, const QueryResult& members)
{
	// Under _mutex. This node's sessions of members who came or went join or leave its group.
	std::set<std::string> before, after;
	auto current = _servers.find(id);
	if (current != _servers.end())
		for (const auto& member : current->second.members)
			before.insert(member.first);
	if (server.rows.size() != 1)
	{
		for (auto it = _channels.begin(); it != _channels.end();)
			it = it->second.serverId == id ? _channels.erase(it) : std::next(it);
	}
	else
	{
		ServerInfo updated = serverFrom(server.rows[0]);
		for (const auto& row : members.rows)
		{
			updated.members.emplace(valueAsString(row[1]), memberFrom(row));
			after.insert(valueAsString(row[1]));
		}
		_servers[id] = std::move(updated);
	}
	for (const std::string& userId : before)
		if (after.count(userId) == 0)
		{
			leaveGroups(userId, id);
			auto mine = _userServers.find(userId);
			if (mine != _userServers.end() && (mine->second.erase(id), mine->second.empty()))
				_userServers.erase(mine);
		}
	for (const std::string& userId : after)
		if (before.count(userId) == 0)
		{
			_userServers[userId].insert(id);
			joinGroups(userId, id);
		}
	if (server.rows.size() != 1)
		_servers.erase(id);
}


void TogetherPlugin::reloadModel()
{
	Storage& storage = _pHost->storage();
	QueryResult users = storage.execute(std::string("SELECT ") + USER_COLUMNS + " FROM users");
	QueryResult servers = storage.execute(std::string("SELECT ") + SERVER_COLUMNS + " FROM servers");
	QueryResult members = storage.execute(std::string("SELECT ") + MEMBER_COLUMNS + " FROM server_members");
	QueryResult channels = storage.execute(std::string("SELECT ") + CHANNEL_COLUMNS + " FROM channels");
	if (!users.ok || !servers.ok || !members.ok || !channels.ok)
	{
		_pHost->logger().warning("together: cannot re-read the model after rejoining the cluster: " + users.error +
		                         servers.error + members.error + channels.error);
		return;
	}
	std::lock_guard<std::mutex> lock(_mutex);
	for (const auto& row : users.rows)
	{
		UserRecord user = userFrom(row);
		_users[user.id] = std::move(user);
	}
	// Each server as one S notice would apply it, so group memberships follow.
	std::map<std::string, std::pair<QueryResult, QueryResult>> byServer;
	for (const auto& entry : _servers)
		byServer[entry.first]; // gone from storage unless a row below fills it
	for (const auto& row : servers.rows)
		byServer[valueAsString(row[0])].first.rows.push_back(row);
	for (const auto& row : members.rows)
		byServer[valueAsString(row[0])].second.rows.push_back(row);
	for (const auto& entry : byServer)
		applyServer(entry.first, entry.second.first, entry.second.second);
	_channels.clear();
	for (const auto& row : channels.rows)
	{
		ChannelInfo channel = channelFrom(row);
		_channels.emplace(channel.id, std::move(channel));
	}
	// Then ask who is online elsewhere and tell where this node's users are. Who had sessions
	// elsewhere and is not announced again within the settle window has gone meanwhile.
	for (const auto& entry : _sessionNodes)
		_unconfirmedUsers.insert(entry.first);
	_sessionNodes.clear();
	_pCluster->broadcast("H");
	for (const auto& entry : _userSessions)
		_pCluster->broadcast(presenceLine(entry.first));
	for (const auto& state : _voice)
		if (voiceHeldHere(state.second, state.first))
			_pCluster->broadcast(voiceLine(state.first));
	if (_settleTimer)
		_pHost->cancel(_settleTimer);
	_settleTimer = _pHost->after(RESYNC_SETTLE_MS, [this] { settleResync(); });
}


void TogetherPlugin::settleResync()
{
	std::lock_guard<std::mutex> lock(_mutex);
	_settleTimer = 0;
	std::vector<std::string> gone, voiceGone;
	for (const std::string& userId : _unconfirmedUsers)
		if (!hasSessions(userId))
			gone.push_back(userId);
	_unconfirmedUsers.clear();
	if (_shuttingDown)
		return;
	for (const auto& state : _voice)
		if (!voiceHeldHere(state.second, state.first) && std::find(gone.begin(), gone.end(), state.first) != gone.end())
			voiceGone.push_back(state.first);
	dropRemoteUsers(voiceGone, gone);
}


void TogetherPlugin::dropRemoteUsers(const std::vector<std::string>& voiceGone, const std::vector<std::string>& gone)
{
	std::vector<std::pair<std::string, std::string>> events;
	applyingPeerChange = true;
	for (const std::string& userId : voiceGone)
		clearVoice(userId, events);
	applyingPeerChange = false;
	for (const auto& event : events)
		_pHost->router().publishLocal("s:" + event.first, event.second);
	for (const std::string& userId : gone)
		if (_userSessions.count(userId) == 0)
		{
			const bool wasVisible = presenceOf(userId) != "offline";
			_presence.erase(userId);
			if (wasVisible)
				publishPresence(userId, 0, false, true);
		}
}


void TogetherPlugin::onSynced()
{
	// The channel is live (after start, or again after a Redis outage when notices may have been
	// lost): re-read everything, in order with the notices that arrive meanwhile.
	onPeerMessage(0, "reload");
}


void TogetherPlugin::onNodeLeft(NodeNumber node)
{
	// Its sessions are gone. Every node tells its own sessions (publishLocal), so each client
	// hears of it once.
	std::lock_guard<std::mutex> lock(_mutex);
	std::vector<std::string> gone;
	for (auto it = _sessionNodes.begin(); it != _sessionNodes.end();)
	{
		if (it->second.erase(node) > 0 && it->second.empty())
		{
			gone.push_back(it->first);
			it = _sessionNodes.erase(it);
		}
		else
			++it;
	}
	std::vector<std::string> voiceGone;
	for (const auto& state : _voice)
		if ((state.second.boundSession != 0 && nodeOf(state.second.boundSession) == node) ||
		    (state.second.boundSession == 0 && !hasSessions(state.first) &&
		     std::find(gone.begin(), gone.end(), state.first) != gone.end()))
			voiceGone.push_back(state.first);
	dropRemoteUsers(voiceGone, gone);
}


} // namespace Together
} // namespace Switchboard
