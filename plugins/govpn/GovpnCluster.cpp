//
// GovpnCluster.cpp
//
// GoVPN across the nodes of a cluster (docs/protocols/govpn.md §18). Every node mirrors every
// room, its members and who is online in it (on any node); rooms and members live in the shared
// storage. The node that makes a change persists it, applies it and tells the others over the
// plugin's cluster channel, one line per change:
//
//   N <room> <owner> <created ms> <last active ms> <password hash>\n<name>   room created
//   M <room> <key> <joined ms> <last connected ms>\n<username>              member added or updated
//   G <room> <key>                                                          member removed
//   A <room>\n<name>                                                        room renamed
//   X <room>                                                                room deleted
//   O <room> <key> <socket> <connection id>                                 socket online in the room
//   R <room> <key> <socket> <connection id>                                 the same, announced again
//   F <room> <socket>                                                       socket no longer online
//   D <socket> <type>\n<inner>                                              push to a socket there
//   H                                                                       "send me your presence"
//
// After a Redis outage notices may have been lost, so each node re-reads the rooms, drops the
// others' presence and sends H; the answers and each node's own announcement come as R. An R
// about someone this node's members had not heard of brings them PeerConnected; whoever was
// online elsewhere and is not announced again within RESYNC_SETTLE_MS brings PeerDisconnected.
//
// A push to a socket on another node travels as D and is encoded there, in the mode of that
// connection (§4.3). Deleting a room is applied by every node for its own sockets (RoomDeleted
// goes to members' sockets, which only their node knows).
//


#include "Formats.h"
#include "GovpnPlugin.h"
#include "GovpnState.h"
#include "switchboard/util/LineMessage.h"
#include <algorithm>
#include <set>


namespace Switchboard {
namespace Govpn {


namespace {


// How long after a resync the other nodes have to announce their presence again. They are back
// within one reconnect of the host (at most 2 s after Redis answers); what is missing after this
// went offline while notices were lost. A member late beyond it is announced again when it
// arrives (PeerDisconnected, then PeerConnected).
constexpr std::int64_t RESYNC_SETTLE_MS = 5000;


bool readSocket(std::string_view text, ConnectionId& socket)
{
	return readWholeInteger(text, socket) && socket != 0;
}


} // namespace


void GovpnPlugin::push(ConnectionId socket, std::string_view type, const std::string& inner)
{
	auto local = _clients.find(socket);
	if (local != _clients.end())
		send(*local->second, "", type, inner);
	else if (_pCluster != nullptr && nodeOf(socket) != _pCluster->node())
		_pCluster->sendTo(nodeOf(socket), "D " + std::to_string(socket) + " " + std::string(type) + "\n" + inner);
}


void GovpnPlugin::share(const std::string& message)
{
	if (_pCluster != nullptr && !_applyingPeerChange)
		_pCluster->broadcast(message);
}


void GovpnPlugin::shareRoom(const Room& room)
{
	if (_pCluster == nullptr || _applyingPeerChange)
		return;
	share("N " + room.id + " " + room.owner + " " + std::to_string(room.createdMs) + " " +
	      std::to_string(room.lastActiveMs) + " " + room.passwordHash + "\n" + room.name);
}


void GovpnPlugin::shareMember(const Room& room, const std::string& key)
{
	auto member = room.members.find(key);
	if (_pCluster == nullptr || _applyingPeerChange || member == room.members.end())
		return;
	share("M " + room.id + " " + key + " " + std::to_string(member->second.joinedMs) + " " +
	      std::to_string(member->second.lastConnectedMs) + "\n" + member->second.username);
}


void GovpnPlugin::shareOnline(const Room& room, ConnectionId socket)
{
	if (_pCluster == nullptr || _applyingPeerChange)
		return;
	for (const Room::Online& o : room.online)
		if (o.socket == socket)
			share("O " + room.id + " " + o.key + " " + std::to_string(o.socket) + " " + o.connectionId);
}


void GovpnPlugin::onPeerMessage(NodeNumber from, std::string_view message)
{
	LineMessage line = splitLineMessage(message);
	if (line.words.empty() || line.words[0].size() != 1)
		return;
	const char verb = line.words[0][0];
	const std::size_t count = line.words.size();
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	if (_stopping && verb != 'D')
		return;
	_applyingPeerChange = true;
	struct Restore
	{
		bool& flag;
		~Restore() { flag = false; }
	} restore{_applyingPeerChange};
	auto roomOf = [this](std::string_view id) -> Room* {
		auto it = _roomById.find(id);
		return it == _roomById.end() ? nullptr : it->second;
	};
	std::int64_t first = 0, second = 0;
	ConnectionId socket = 0;
	if (verb == 'D' && count == 3 && readSocket(line.words[1], socket))
	{
		auto local = _clients.find(socket);
		if (local != _clients.end())
			send(*local->second, "", line.words[2], std::string(line.text));
	}
	else if ((verb == 'O' || verb == 'R') && count == 5 && readSocket(line.words[3], socket))
		addRemoteOnline(line.words[1], line.words[2], socket, line.words[4], verb == 'R');
	else if (verb == 'F' && count == 3 && readSocket(line.words[2], socket))
	{
		_unconfirmed.erase({std::string(line.words[1]), socket}); // its node told the members
		if (Room* room = roomOf(line.words[1]))
			endPresence(*room, socket); // a socket of ours displaced elsewhere is no longer in the room
		updateGauges();
	}
	else if (verb == 'M' && count == 5 && readWholeInteger(line.words[3], first) &&
	         readWholeInteger(line.words[4], second))
	{
		Room* room = roomOf(line.words[1]);
		if (room == nullptr)
			return;
		std::string key(line.words[2]);
		room->members[key] = Room::Member{std::string(line.text), first, second};
		_roomsOfKey[key].insert(room->id);
	}
	else if (verb == 'G' && count == 3)
	{
		if (Room* room = roomOf(line.words[1]))
			dropMember(*room, std::string(line.words[2]), room->lastActiveMs);
		updateGauges();
	}
	else if (verb == 'A' && count == 2)
	{
		if (Room* room = roomOf(line.words[1]))
			room->name = std::string(line.text);
	}
	else if (verb == 'X' && count == 2)
		deleteRoom(std::string(line.words[1]), 0);
	else if (verb == 'N' && count == 6 && readWholeInteger(line.words[3], first) &&
	         readWholeInteger(line.words[4], second))
	{
		std::string id(line.words[1]);
		if (_rooms.count(id) > 0 || !isRoomId(id))
			return;
		auto room = std::make_unique<Room>();
		room->id = id;
		room->owner = std::string(line.words[2]);
		room->createdMs = first;
		room->lastActiveMs = second;
		room->passwordHash = std::string(line.words[5]);
		room->name = std::string(line.text);
		_roomOfOwner[room->owner] = id;
		_roomById[room->id] = room.get();
		_rooms[id] = std::move(room);
		updateGauges();
	}
	else if (verb == 'H' && count == 1 && from != 0)
	{
		for (const auto& entry : _rooms)
			for (const Room::Online& o : entry.second->online)
				if (_clients.count(o.socket) > 0)
					_pCluster->sendTo(from, "R " + entry.first + " " + o.key + " " + std::to_string(o.socket) + " " +
					                            o.connectionId);
	}
}


void GovpnPlugin::addRemoteOnline(std::string_view roomId, std::string_view key, ConnectionId socket,
                                  std::string_view connectionId, bool reasserted)
{
	// Under the lock. A live announcement (O) comes with the member's node's own pushes; a
	// re-announcement (R, after a resync) comes without: this node's members are told here of
	// whoever they had not heard of, i.e. who came online while notices were being lost.
	auto found = _roomById.find(roomId);
	if (found == _roomById.end() || _clients.count(socket) > 0)
		return;
	Room& room = *found->second;
	const bool known = _unconfirmed.erase({std::string(roomId), socket}) > 0;
	for (const Room::Online& o : room.online)
		if (o.socket == socket)
			return;
	room.addOnline(std::string(key), socket, std::string(connectionId));
	updateGauges();
	if (!reasserted || known)
		return;
	auto member = room.members.find(std::string(key));
	std::string about = InnerWriter()
	                        .string("connection_id", connectionId)
	                        .string("public_key", key)
	                        .string("room_id", room.id)
	                        .string("username", member == room.members.end() ? "" : member->second.username)
	                        .finish();
	for (const Room::Online& o : room.online)
		if (auto local = _clients.find(o.socket); local != _clients.end() && o.key != key)
			send(*local->second, "", "PeerConnected", about);
}


void GovpnPlugin::settleResync()
{
	// Who was online elsewhere before the outage and has not been announced again since is gone:
	// this node's members hear PeerDisconnected, once per key, as from a close they missed.
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	_settleTimer = 0;
	std::set<std::pair<std::string, std::string>> told;
	for (const auto& entry : _unconfirmed)
	{
		const std::string& roomId = entry.first.first;
		const std::string& key = entry.second;
		auto room = _rooms.find(roomId);
		if (_stopping || room == _rooms.end() || room->second->onlineByKey(key) != nullptr ||
		    !told.insert({roomId, key}).second)
			continue;
		const std::string inner = InnerWriter().string("public_key", key).string("room_id", roomId).finish();
		for (const Room::Online& o : room->second->online)
			if (auto local = _clients.find(o.socket); local != _clients.end())
				send(*local->second, "", "PeerDisconnected", inner);
	}
	_unconfirmed.clear();
	updateGauges();
}


void GovpnPlugin::onNodeLeft(NodeNumber node)
{
	// Its sockets are gone: each node tells its own online members, as it would of a close.
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	_applyingPeerChange = true;
	for (auto& entry : _rooms)
	{
		Room& room = *entry.second;
		std::vector<std::string> gone;
		for (const Room::Online& o : room.online)
			if (nodeOf(o.socket) == node && _clients.count(o.socket) == 0)
				gone.push_back(o.key);
		if (gone.empty())
			continue;
		room.online.erase(std::remove_if(room.online.begin(), room.online.end(),
		                                 [this, node](const Room::Online& o) {
			                                 return nodeOf(o.socket) == node && _clients.count(o.socket) == 0;
		                                 }),
		                  room.online.end());
		for (const std::string& key : gone)
			for (const Room::Online& o : room.online)
				if (auto local = _clients.find(o.socket); local != _clients.end())
					send(*local->second, "", "PeerDisconnected",
					     InnerWriter().string("public_key", key).string("room_id", room.id).finish());
	}
	_applyingPeerChange = false;
	updateGauges();
}


void GovpnPlugin::onSynced()
{
	// The channel is live (first after start, again after a Redis outage, when changes may have
	// been lost): re-read the rooms, then ask for the others' presence and announce ours.
	reloadRooms();
}


void GovpnPlugin::reloadRooms()
{
	enqueueOperation([this] {
		auto rooms = std::make_shared<QueryResult>();
		auto members = std::make_shared<QueryResult>();
		Storage& storage = _pHost->storage();
		_pHost->offload(
		    [&storage, rooms, members] {
			    *rooms = storage.execute(SELECT_ROOMS);
			    *members = storage.execute(SELECT_MEMBERS);
		    },
		    [this, rooms, members] {
			    {
				    std::lock_guard<std::recursive_mutex> lock(_mutex);
				    if (!rooms->ok || !members->ok)
					    _pHost->logger().warning("govpn: cannot re-read the rooms after rejoining the cluster: " +
					                             rooms->error + members->error);
				    else if (!_stopping)
				    {
					    // The others' presence is dropped and asked for again; what is not
					    // announced again within the settle window went offline meanwhile.
					    for (const auto& entry : _rooms)
						    for (const Room::Online& o : entry.second->online)
							    if (_clients.count(o.socket) == 0)
								    _unconfirmed.emplace(std::make_pair(entry.first, o.socket), o.key);
					    loadRooms(*rooms, *members);
					    share("H");
					    for (const auto& entry : _rooms)
						    for (const Room::Online& o : entry.second->online)
							    if (_clients.count(o.socket) > 0)
								    share("R " + entry.first + " " + o.key + " " + std::to_string(o.socket) + " " +
								          o.connectionId);
					    if (_settleTimer != 0)
						    _pHost->cancel(_settleTimer);
					    _settleTimer = _pHost->after(RESYNC_SETTLE_MS, [this] { settleResync(); });
				    }
			    }
			    operationDone();
		    });
	});
}


bool GovpnPlugin::refreshes(const std::string& roomId, const std::string& key, bool refreshed,
                            std::function<void()> retry)
{
	auto found = _rooms.find(roomId);
	if (_pCluster == nullptr || refreshed ||
	    (found != _rooms.end() && (key.empty() || found->second->members.count(key) > 0)))
		return false;
	auto rooms = std::make_shared<QueryResult>();
	auto members = std::make_shared<QueryResult>();
	Storage& storage = _pHost->storage();
	_pHost->offload(
	    [&storage, roomId, rooms, members] {
		    *rooms = storage.execute(std::string(SELECT_ROOMS) + " WHERE id = ?", {roomId});
		    *members = storage.execute(std::string(SELECT_MEMBERS) + " WHERE room_id = ?", {roomId});
	    },
	    [this, rooms, members, retry = std::move(retry)] {
		    {
			    std::lock_guard<std::recursive_mutex> lock(_mutex);
			    if (rooms->ok && members->ok && rooms->rows.size() == 1 && !_stopping)
			    {
				    Room& room = storedRoom(rooms->rows[0]);
				    _roomOfOwner[room.owner] = room.id;
				    for (const auto& row : members->rows)
					    storedMember(row);
				    updateGauges();
			    }
		    }
		    retry();
	    });
	return true;
}


} // namespace Govpn
} // namespace Switchboard
