//
// GovpnRequests.cpp
//
// The requests of docs/protocols/govpn.md §8, each running its numbered checks in order. Requests
// that change rooms build a Plan inside the plugin-wide operation queue: checks against memory,
// then the statements to persist, then the effects applied once those are committed.
//


#include "Formats.h"
#include "GovpnPlugin.h"
#include "GovpnState.h"
#include <algorithm>
#include <sodium.h>


namespace Switchboard {
namespace Govpn {


namespace {


const char* const MEMBERSHIP_DB_ERROR = "Error updating room membership in database";
const std::int64_t SIGNAL_TOUCH_INTERVAL_MS = 60000;


bool readStrings(const Envelope& envelope, std::initializer_list<std::pair<const char*, std::string*>> fields)
/// FMT (§4.2): the payload decoded and every listed field, when present, is a string.
{
	if (!envelope.payloadOk)
		return false;
	for (const auto& field : fields)
		if (!envelope.payload.stringField(field.first, *field.second))
			return false;
	return true;
}


std::string roomIdPayload(const std::string& roomId)
{
	return InnerWriter().string("room_id", roomId).finish();
}


} // namespace


// --- shared checks -------------------------------------------------------------------------------


bool GovpnPlugin::refusesActingKey(Client& client, std::string_view key, std::string& error)
{
	if (_settings.strictAuth && !client.authenticated)
		error = AUTH_REQUIRED;
	else if (!key.empty())
		error = checkKey(client, key);
	return !error.empty();
}


// --- §8.1 CreateRoom -----------------------------------------------------------------------------


void GovpnPlugin::createRoom(const ClientPtr& client, const EnvelopePtr& envelope)
{
	const std::string messageId = envelope->messageId;
	std::string name, password, key;
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		std::string error;
		if (!takeRateToken(*client))
			error = RATE_LIMITED;
		else if (!readStrings(*envelope, {{"room_name", &name}, {"password", &password}, {"public_key", &key}}))
			error = "Invalid create room request format";
		else if (_settings.strictAuth && !client->authenticated)
			error = AUTH_REQUIRED;
		else if (name.empty() || password.empty() || key.empty())
			error = "Room name, password, and public key are required";
		else if (!isPassword(password))
			error = "Password does not match required pattern";
		else if (!(error = checkKey(*client, key)).empty())
		{
		}
		else if (!isRoomName(name))
			error = "Invalid room name";
		else if (_roomOfOwner.count(key) > 0)
			error = "This public key has already created room: " + _roomOfOwner[key];
		if (!error.empty())
		{
			sendError(*client, messageId, error);
			resume(client);
			return;
		}
	}
	// §13: argon2id on the worker pool, before the room-changing part.
	auto hash = std::make_shared<std::string>();
	unsigned long long opslimit = 0;
	std::size_t memlimit = 0;
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex); // a reload may change them
		opslimit = static_cast<unsigned long long>(_settings.pwhashOpslimit);
		memlimit = static_cast<std::size_t>(_settings.pwhashMemlimit);
	}
	offloadHashing(
	    [hash, password, opslimit, memlimit] {
		    char out[crypto_pwhash_STRBYTES];
		    if (crypto_pwhash_str(out, password.data(), password.size(), opslimit, memlimit) == 0)
			    *hash = out;
	    },
	    [this, client, messageId, name, key, password, hash] {
		    runPlan(client, messageId, [this, client, messageId, name, key, password, hash] {
			    Plan plan;
			    auto owned = _roomOfOwner.find(key);
			    if (owned != _roomOfOwner.end())
			    {
				    plan.error = "This public key has already created room: " + owned->second;
				    return plan;
			    }
			    if (hash->empty())
			    {
				    plan.error = "Error creating room in database";
				    return plan;
			    }
			    std::string roomId;
			    for (int attempt = 0; attempt < 5 && roomId.empty(); ++attempt)
			    {
				    std::string candidate = newRoomId();
				    if (!isRoomId(candidate))
				    {
					    plan.error = "Error creating room in database";
					    return plan;
				    }
				    if (_rooms.count(candidate) == 0)
					    roomId = candidate;
			    }
			    if (roomId.empty())
			    {
				    plan.error = "Room ID conflict, please try again";
				    return plan;
			    }
			    std::int64_t now = nowMs();
			    if (client->room != roomId)
				    leaveCurrentRoomStatements(*client, plan.statements);
			    plan.statements.push_back({"INSERT INTO rooms (id, name, password_hash, owner_public_key, created_at, "
			                               "last_active) VALUES (?, ?, ?, ?, ?, ?)",
			                               {roomId, name, *hash, key, now, now}});
			    plan.statements.push_back({"INSERT INTO memberships (room_id, public_key, username, joined_at, "
			                               "last_connected, is_connected) VALUES (?, ?, 'Owner', ?, ?, 1)",
			                               {roomId, key, now, now}});
			    plan.databaseError = "Error creating room in database";
			    plan.apply = [this, client, messageId, roomId, name, key, password, hash, now] {
				    auto room = std::make_unique<Room>();
				    room->id = roomId;
				    room->name = name;
				    room->passwordHash = *hash;
				    room->owner = key;
				    room->createdMs = now;
				    room->lastActiveMs = now;
				    room->members[key] = Room::Member{"Owner", now, now};
				    Room& stored = *room;
				    _roomById[stored.id] = &stored;
				    _rooms[roomId] = std::move(room);
				    _roomOfOwner[key] = roomId;
				    _roomsOfKey[key].insert(roomId);
				    shareRoom(stored);
				    shareMember(stored, key);
				    if (!client->room.empty())
					    leaveCurrentRoom(*client);
				    comeOnline(stored, *client);
				    send(*client, messageId, "RoomCreated",
				         InnerWriter()
				             .string("password", password)
				             .string("public_key", key)
				             .string("room_id", roomId)
				             .string("room_name", name)
				             .finish());
			    };
			    return plan;
		    });
	    });
}


// --- §8.2 JoinRoom and §8.3 ConnectRoom ----------------------------------------------------------


void GovpnPlugin::joinRoom(const ClientPtr& client, const EnvelopePtr& envelope, bool refreshed)
{
	const std::string messageId = envelope->messageId;
	std::string roomId, password, key, username, hash;
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		std::string error;
		if (!refreshed && !takeRateToken(*client)) // a retry after a refresh spent its token already
			error = RATE_LIMITED;
		else if (!readStrings(
		             *envelope,
		             {{"room_id", &roomId}, {"password", &password}, {"public_key", &key}, {"username", &username}}))
			error = "Invalid join room request format";
		else if (_settings.strictAuth && !client->authenticated)
			error = AUTH_REQUIRED;
		else if (key.empty())
			error = "Public key is required";
		else if (!(error = checkKey(*client, key)).empty())
		{
		}
		else if (!isUsername(username))
			error = "Invalid username";
		else if (isRoomId(roomId) &&
		         refreshes(roomId, "", refreshed, [this, client, envelope] { joinRoom(client, envelope, true); }))
			return;
		else if (!isRoomId(roomId) || _rooms.count(roomId) == 0)
			error = "Room does not exist";
		else if (_lockouts.count(roomId) > 0 && _pHost->clock().monotonicMs() < _lockouts[roomId].lockedUntilMs)
			error = RATE_LIMITED;
		if (!error.empty())
		{
			sendError(*client, messageId, error);
			resume(client);
			return;
		}
		hash = _rooms[roomId]->passwordHash;
	}
	auto correct = std::make_shared<bool>(false);
	offloadHashing(
	    [correct, password, hash] {
		    *correct =
		        !password.empty() && crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
	    },
	    [this, client, messageId, roomId, key, username, correct] {
		    runPlan(client, messageId, [this, client, messageId, roomId, key, username, correct] {
			    Plan plan;
			    auto found = _rooms.find(roomId);
			    if (found == _rooms.end())
			    {
				    plan.error = "Room does not exist";
				    return plan;
			    }
			    Room& room = *found->second;
			    if (!*correct)
			    {
				    // §10.2: count the failure; lock the room when the window holds too many.
				    std::int64_t now = _pHost->clock().monotonicMs();
				    Lockout& lockout = _lockouts[roomId];
				    while (!lockout.failures.empty() &&
				           now - lockout.failures.front() >= _settings.passwordFailureWindowS * 1000)
					    lockout.failures.pop_front();
				    lockout.failures.push_back(now);
				    if (static_cast<std::int64_t>(lockout.failures.size()) >= _settings.passwordMaxFailures)
				    {
					    std::int64_t length = _settings.passwordLockoutS * 1000;
					    if (lockout.lastLengthMs > 0 && now - lockout.lastLockoutMs < DAY_MS)
						    length = std::min(lockout.lastLengthMs * 2, _settings.passwordLockoutMaxS * 1000);
					    lockout.lockedUntilMs = now + length;
					    lockout.lastLockoutMs = now;
					    lockout.lastLengthMs = length;
					    lockout.failures.clear();
					    _pLockouts->increment();
				    }
				    plan.error = "Incorrect password";
				    return plan;
			    }
			    bool member = room.members.count(key) > 0;
			    bool reentry = client->room == roomId;
			    std::int64_t othersOnline = static_cast<std::int64_t>(std::count_if(
			        room.online.begin(), room.online.end(), [&key](const Room::Online& o) { return o.key != key; }));
			    if ((!member && static_cast<std::int64_t>(room.members.size()) >= _settings.maxMembersPerRoom) ||
			        (!reentry && room.onlineByKey(key) == nullptr && othersOnline >= _settings.maxMembersPerRoom))
			    {
				    plan.error = "Room is full";
				    return plan;
			    }
			    std::int64_t now = nowMs();
			    if (!reentry)
				    leaveCurrentRoomStatements(*client, plan.statements);
			    if (member)
				    plan.statements.push_back(
				        {"UPDATE memberships SET is_connected = 1, last_connected = ?, username = CASE WHEN ? = '' "
				         "THEN username ELSE ? END WHERE room_id = ? AND public_key = ?",
				         {now, username, username, roomId, key}});
			    else
				    plan.statements.push_back({"INSERT INTO memberships (room_id, public_key, username, joined_at, "
				                               "last_connected, is_connected) VALUES (?, ?, ?, ?, ?, 1)",
				                               {roomId, key, username, now, now}});
			    plan.statements.push_back({"UPDATE rooms SET last_active = ? WHERE id = ?", {now, roomId}});
			    plan.databaseError = MEMBERSHIP_DB_ERROR;
			    plan.apply = [this, client, messageId, roomId, key, username, member, now] {
				    auto it = _rooms.find(roomId);
				    if (it == _rooms.end())
					    return;
				    Room& target = *it->second;
				    Room::Member& entry = target.members[key];
				    if (!member)
				    {
					    entry.joinedMs = now;
					    entry.username = username;
				    }
				    else if (!username.empty())
					    entry.username = username;
				    entry.lastConnectedMs = now;
				    target.lastActiveMs = now;
				    _roomsOfKey[key].insert(roomId);
				    shareMember(target, key);
				    bool again = client->room == roomId;
				    if (!again)
				    {
					    if (!client->room.empty())
						    leaveCurrentRoom(*client);
					    displaceOtherSocket(target, key, client->id);
					    comeOnline(target, *client);
				    }
				    send(*client, messageId, "RoomJoined",
				         InnerWriter().string("room_id", roomId).string("room_name", target.name).finish());
				    announce(target, *client, "PeerJoined", !again);
			    };
			    return plan;
		    });
	    });
}


void GovpnPlugin::connectRoom(const ClientPtr& client, const EnvelopePtr& envelope, bool refreshed)
{
	const std::string messageId = envelope->messageId;
	if (!refreshed && _pCluster != nullptr)
	{
		std::lock_guard<std::recursive_mutex> lock(_mutex);
		std::string roomId, key;
		if (envelope->payloadOk && envelope->payload.stringField("room_id", roomId) &&
		    envelope->payload.stringField("public_key", key) && isRoomId(roomId) &&
		    refreshes(roomId, key, false, [this, client, envelope] { connectRoom(client, envelope, true); }))
			return;
	}
	runPlan(client, messageId, [this, client, messageId, envelope] {
		Plan plan;
		std::string roomId, key, username;
		if (!readStrings(*envelope, {{"room_id", &roomId}, {"public_key", &key}, {"username", &username}}))
			plan.error = "Invalid connect room request format";
		else if (_settings.strictAuth && !client->authenticated)
			plan.error = AUTH_REQUIRED;
		else if (key.empty())
			plan.error = "Public key is required";
		else if (!(plan.error = checkKey(*client, key)).empty())
		{
		}
		else if (!isUsername(username))
			plan.error = "Invalid username";
		else if (!isRoomId(roomId) || _rooms.count(roomId) == 0)
			plan.error = "Room does not exist";
		else if (_rooms[roomId]->members.count(key) == 0)
			plan.error = "You must join this room first";
		if (!plan.error.empty())
			return plan;
		Room& room = *_rooms[roomId];
		bool reentry = client->room == roomId;
		if (!reentry && room.onlineByKey(key) == nullptr &&
		    static_cast<std::int64_t>(room.online.size()) >= _settings.maxMembersPerRoom)
		{
			plan.error = "Room is full";
			return plan;
		}
		std::int64_t now = nowMs();
		if (!reentry)
			leaveCurrentRoomStatements(*client, plan.statements);
		plan.statements.push_back({"UPDATE memberships SET is_connected = 1, last_connected = ? WHERE room_id = ? "
		                           "AND public_key = ?",
		                           {now, roomId, key}});
		plan.statements.push_back({"UPDATE rooms SET last_active = ? WHERE id = ?", {now, roomId}});
		plan.databaseError = MEMBERSHIP_DB_ERROR;
		plan.apply = [this, client, messageId, roomId, key, now] {
			auto it = _rooms.find(roomId);
			if (it == _rooms.end())
				return;
			Room& target = *it->second;
			target.members[key].lastConnectedMs = now;
			target.lastActiveMs = now;
			shareMember(target, key);
			bool again = client->room == roomId;
			if (!again)
			{
				if (!client->room.empty())
					leaveCurrentRoom(*client);
				displaceOtherSocket(target, key, client->id);
				comeOnline(target, *client);
			}
			send(*client, messageId, "RoomConnected",
			     InnerWriter().string("room_id", roomId).string("room_name", target.name).finish());
			announce(target, *client, "PeerConnected", !again);
		};
		return plan;
	});
}


// --- §8.4 DisconnectRoom, §8.5 LeaveRoom ---------------------------------------------------------


void GovpnPlugin::disconnectRoom(const ClientPtr& client, const EnvelopePtr& envelope)
{
	const std::string messageId = envelope->messageId;
	runPlan(client, messageId, [this, client, messageId, envelope] {
		Plan plan;
		std::string roomId, key;
		if (!readStrings(*envelope, {{"room_id", &roomId}, {"public_key", &key}}))
			plan.error = "Invalid disconnect room request format";
		else if (refusesActingKey(*client, key, plan.error))
		{
			// the error is set: AUTH or KEY
		}
		else if (client->room.empty()) // with or without room_id (§8.4: a second one gets this)
			plan.error = "Not connected to any room";
		else if (!roomId.empty() && roomId != client->room)
			plan.error = "Not connected to this room";
		if (!plan.error.empty())
			return plan;
		if (roomId.empty())
			roomId = client->room;
		leaveCurrentRoomStatements(*client, plan.statements);
		plan.databaseError = MEMBERSHIP_DB_ERROR;
		plan.apply = [this, client, messageId, roomId] {
			if (client->room == roomId)
				leaveCurrentRoom(*client);
			send(*client, messageId, "RoomDisconnected", roomIdPayload(roomId));
		};
		return plan;
	});
}


void GovpnPlugin::leaveRoom(const ClientPtr& client, const EnvelopePtr& envelope)
{
	const std::string messageId = envelope->messageId;
	runPlan(client, messageId, [this, client, messageId, envelope] {
		Plan plan;
		std::string roomId, key;
		if (!readStrings(*envelope, {{"room_id", &roomId}, {"public_key", &key}}))
			plan.error = "Invalid leave room request format";
		else if (refusesActingKey(*client, key, plan.error))
		{
			// the error is set: AUTH or KEY
		}
		else if (roomId.empty() && client->room.empty())
			plan.error = "Not connected to any room";
		else if (client->boundKey.empty())
			plan.error = "Public key is required";
		else if (roomId.empty())
			roomId = client->room;
		if (plan.error.empty() && (!isRoomId(roomId) || _rooms.count(roomId) == 0))
			plan.error = "Room not found";
		if (!plan.error.empty())
			return plan;
		Room& room = *_rooms[roomId];
		const std::string me = client->boundKey;
		plan.databaseError = MEMBERSHIP_DB_ERROR;
		if (room.owner == me)
		{
			plan.statements.push_back({"DELETE FROM memberships WHERE room_id = ?", {roomId}});
			plan.statements.push_back({"DELETE FROM rooms WHERE id = ?", {roomId}});
			plan.apply = [this, client, messageId, roomId] {
				deleteRoom(roomId, client->id);
				send(*client, messageId, "LeaveRoom", roomIdPayload(roomId));
			};
			return plan;
		}
		if (room.members.count(me) == 0)
		{
			plan.apply = [this, client, messageId, roomId] {
				send(*client, messageId, "LeaveRoom", roomIdPayload(roomId));
			};
			return plan;
		}
		std::int64_t now = nowMs();
		plan.statements.push_back({"DELETE FROM memberships WHERE room_id = ? AND public_key = ?", {roomId, me}});
		plan.statements.push_back({"UPDATE rooms SET last_active = ? WHERE id = ?", {now, roomId}});
		plan.apply = [this, client, messageId, roomId, me, now] {
			auto it = _rooms.find(roomId);
			if (it != _rooms.end())
			{
				Room& target = *it->second;
				ConnectionId socket = dropMember(target, me, now);
				if (socket != 0 && socket != client->id)
					push(socket, "LeaveRoom", roomIdPayload(roomId));
				announcePeerLeft(target, me, 0);
				updateGauges();
			}
			send(*client, messageId, "LeaveRoom", roomIdPayload(roomId));
		};
		return plan;
	});
}


// --- §8.6 Kick, §8.7 Rename ----------------------------------------------------------------------


void GovpnPlugin::kick(const ClientPtr& client, const EnvelopePtr& envelope)
{
	const std::string messageId = envelope->messageId;
	runPlan(client, messageId, [this, client, messageId, envelope] {
		Plan plan;
		std::string roomId, targetId, key;
		if (!readStrings(*envelope, {{"room_id", &roomId}, {"target_id", &targetId}, {"public_key", &key}}))
			plan.error = "Invalid kick request format";
		else if (refusesActingKey(*client, key, plan.error))
		{
			// the error is set: AUTH or KEY
		}
		else if (!isRoomId(roomId) || _rooms.count(roomId) == 0)
			plan.error = "Room does not exist";
		else if (client->boundKey.empty() || _rooms[roomId]->owner != client->boundKey)
			plan.error = "Only room owner can kick users";
		if (!plan.error.empty())
			return plan;
		Room& room = *_rooms[roomId];
		std::string targetKey;
		if (isPublicKey(targetId))
		{
			if (room.members.count(targetId) > 0)
				targetKey = targetId;
		}
		else if (const Room::Online* target = room.onlineByConnectionId(targetId))
			targetKey = target->key; // online in the room, on any node
		if (targetKey.empty())
			plan.error = "Target client not found";
		else if (targetKey == room.owner)
			plan.error = "Cannot kick the room owner";
		if (!plan.error.empty())
			return plan;
		std::int64_t now = nowMs();
		plan.statements.push_back(
		    {"DELETE FROM memberships WHERE room_id = ? AND public_key = ?", {roomId, targetKey}});
		plan.statements.push_back({"UPDATE rooms SET last_active = ? WHERE id = ?", {now, roomId}});
		plan.databaseError = MEMBERSHIP_DB_ERROR;
		plan.apply = [this, client, messageId, roomId, targetId, targetKey, now] {
			auto it = _rooms.find(roomId);
			if (it != _rooms.end())
			{
				Room& target = *it->second;
				ConnectionId socket = dropMember(target, targetKey, now);
				if (socket != 0)
					push(socket, "Kicked", roomIdPayload(roomId));
				announcePeerLeft(target, targetKey, client->id); // the owner gets KickSuccess instead
				updateGauges();
			}
			send(*client, messageId, "KickSuccess",
			     InnerWriter().string("room_id", roomId).string("target_id", targetId).finish());
		};
		return plan;
	});
}


void GovpnPlugin::rename(const ClientPtr& client, const EnvelopePtr& envelope)
{
	const std::string messageId = envelope->messageId;
	runPlan(client, messageId, [this, client, messageId, envelope] {
		Plan plan;
		std::string roomId, name, key;
		if (!readStrings(*envelope, {{"room_id", &roomId}, {"room_name", &name}, {"public_key", &key}}))
			plan.error = "Invalid rename request format";
		else if (refusesActingKey(*client, key, plan.error))
		{
			// the error is set: AUTH or KEY
		}
		else if (!isRoomId(roomId) || _rooms.count(roomId) == 0)
			plan.error = "Room does not exist";
		else if (client->boundKey.empty() || _rooms[roomId]->owner != client->boundKey)
			plan.error = "Only room owner can rename the room";
		else if (!isRoomName(name))
			plan.error = "Invalid room name";
		if (!plan.error.empty())
			return plan;
		std::int64_t now = nowMs();
		plan.statements.push_back({"UPDATE rooms SET name = ?, last_active = ? WHERE id = ?", {name, now, roomId}});
		plan.databaseError = "Error updating room name in database";
		plan.apply = [this, client, messageId, roomId, name, now] {
			std::string inner = InnerWriter().string("room_id", roomId).string("room_name", name).finish();
			auto it = _rooms.find(roomId);
			if (it != _rooms.end())
			{
				it->second->name = name;
				it->second->lastActiveMs = now;
				share("A " + roomId + "\n" + name);
				for (const Room::Online& o : it->second->online)
					push(o.socket, "RoomRenamed", inner);
			}
			send(*client, messageId, "RenameSuccess", inner);
		};
		return plan;
	});
}


// --- §8.8 GetUserRooms, §8.9 Ping, §5.3 Authenticate ---------------------------------------------


void GovpnPlugin::getUserRooms(const ClientPtr& client, const EnvelopePtr& envelope)
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	std::string key, error;
	if (!readStrings(*envelope, {{"public_key", &key}}))
		error = "Invalid get user rooms request format";
	else if (_settings.strictAuth && !client->authenticated)
		error = AUTH_REQUIRED;
	else if (key.empty())
		error = "Public key is required";
	else
		error = checkKey(*client, key);
	if (error.empty())
		send(*client, envelope->messageId, "UserRooms", userRoomsPayload(key)); // served from memory
	else
		sendError(*client, envelope->messageId, error);
	resume(client);
}


void GovpnPlugin::ping(const ClientPtr& client, const EnvelopePtr& envelope)
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	std::string key;
	if (!readStrings(*envelope, {{"public_key", &key}}))
		sendError(*client, envelope->messageId, "Invalid ping format");
	else if (!key.empty() && !isPublicKey(key))
		sendError(*client, envelope->messageId, "Invalid public key format");
	else
	{
		const JsonNode* timestamp = envelope->payload.field("timestamp");
		std::int64_t nowNs = _generators.nowNs ? _generators.nowNs() : nowMs() * 1000000;
		send(*client, envelope->messageId, "Ping",
		     InnerWriter()
		         .raw("client_timestamp", timestamp ? envelope->payload.compact(*timestamp) : "null")
		         .integer("server_timestamp", nowNs)
		         .string("status", "ok")
		         .finish());
	}
	resume(client);
}


void GovpnPlugin::authenticate(const ClientPtr& client, const EnvelopePtr& envelope)
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	std::string key, signature, error, keyBytes, signatureBytes;
	if (!readStrings(*envelope, {{"public_key", &key}, {"signature", &signature}}))
		error = "Invalid authenticate request format";
	else if (key.empty())
		error = "Public key is required";
	else if (!isPublicKey(key))
		error = "Invalid public key format";
	else if (!client->boundKey.empty() && client->boundKey != key)
		error = "Public key does not match this connection";
	else if (!client->authenticated)
	{
		std::string host = _settings.strictAuthHost.empty() ? client->host : _settings.strictAuthHost;
		base64Decode(key, keyBytes);
		std::string message = "govpn-auth-v1\n" + host + "\n" + client->nonce + keyBytes;
		if (!base64Decode(signature, signatureBytes) || signatureBytes.size() != crypto_sign_BYTES ||
		    crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signatureBytes.data()),
		                                reinterpret_cast<const unsigned char*>(message.data()), message.size(),
		                                reinterpret_cast<const unsigned char*>(keyBytes.data())) != 0)
			error = "Invalid signature";
	}
	if (!error.empty())
	{
		sendError(*client, envelope->messageId, error);
		resume(client);
		return;
	}
	send(*client, envelope->messageId, "Authenticated", InnerWriter().string("public_key", key).finish());
	if (!client->authenticated)
	{
		client->authenticated = true;
		client->nonce.clear();
		if (client->authTimer != 0)
			_pHost->cancel(client->authTimer);
		client->authTimer = 0;
		client->boundKey = key;
		_socketsOfKey[key].insert(client->id);
		pushConnectInfo(*client);
	}
	resume(client);
}


// --- §8.10 Offer, Answer, Candidate --------------------------------------------------------------


void GovpnPlugin::relay(const ClientPtr& client, const EnvelopePtr& envelope)
{
	std::lock_guard<std::recursive_mutex> lock(_mutex);
	SignalFrame signal;
	int type = 0;
	while (SIGNAL_TYPE_NAMES[type] != envelope->type)
		++type;
	signal.type = static_cast<SignalType>(type);
	signal.form = envelope->form;
	signal.messageId = envelope->messageId;
	const std::string_view bodyName = SIGNAL_BODY_NAMES[type];
	std::string destination, roomId, key;
	const JsonNode* body = envelope->payloadOk ? envelope->payload.field(bodyName) : nullptr;
	if (!readStrings(*envelope, {{"destination_id", &destination}, {"room_id", &roomId}, {"public_key", &key}}) ||
	    (body != nullptr && body->kind != JsonKind::STRING && body->kind != JsonKind::OBJECT))
	{
		sendError(*client, envelope->messageId, "Invalid " + std::string(bodyName) + " request format");
		resume(client);
		return;
	}
	// The body in the form it is relayed: a string in Go's escaping (copied when the client
	// already wrote it so), an object compacted with its member order and spellings kept.
	std::string relayedBody;
	if (body != nullptr && body->kind == JsonKind::STRING)
	{
		std::string_view token = envelope->payload.raw(*body);
		relayedBody = isGoQuoted(token) ? std::string(token) : goQuote(body->text);
	}
	else if (body != nullptr)
		relayedBody = envelope->payload.compact(*body);
	signal.destinationId = destination;
	signal.roomId = roomId;
	signal.publicKey = key;
	signal.body = relayedBody;
	relaySignal(*client, signal, _pHost->clock().monotonicMs());
	resume(client);
}


void GovpnPlugin::relaySignal(Client& client, const SignalFrame& signal, std::int64_t monotonicMs)
{
	const std::string_view bodyName = SIGNAL_BODY_NAMES[static_cast<int>(signal.type)];
	std::string error;
	if (refusesActingKey(client, signal.publicKey, error))
	{
		// the error is set: AUTH or KEY
	}
	else if (signal.destinationId.empty() || signal.body.empty() || signal.body == "\"\"")
		error = "Destination ID and " + std::string(bodyName) + " are required";
	else if (client.room.empty())
		error = "Not connected to any room";
	else if (!signal.roomId.empty() && signal.roomId != client.room)
		error = "Not connected to this room";
	auto current = error.empty() ? _roomById.find(client.room) : _roomById.end();
	Room* room = current == _roomById.end() ? nullptr : current->second;
	if (error.empty() && room == nullptr)
		error = "Not connected to any room";
	const Room::Online* target = nullptr;
	if (room != nullptr)
	{
		// A key among the members online (they are valid keys), another valid key (nobody), or the
		// connection id of a socket online in the room; on this node or, in a cluster, another.
		if (const Room::Online* online = room->onlineByKey(signal.destinationId))
			target = online;
		else if (!isPublicKey(signal.destinationId))
			target = room->onlineByConnectionId(signal.destinationId);
		if (target == nullptr || target->socket == client.id)
			error = "Target client not found";
	}
	if (!error.empty())
	{
		sendError(client, signal.messageId, error);
		return;
	}
	auto local = _clients.find(target->socket);
	if (local != _clients.end())
	{
		if (local->second->open)
			_pHost->router().send(target->socket,
			                      writeRelayedSignal(_relayBuffers, signal, target->key, client.boundKey, room->id,
			                                         client.connectionId, local->second->mode));
	}
	else
		push(target->socket, SIGNAL_TYPE_NAMES[static_cast<int>(signal.type)],
		     std::string(writeRelayedInner(_relayBuffers, signal, target->key, client.boundKey, room->id,
		                                   client.connectionId)));
	_pRelayed[static_cast<int>(signal.type)]->increment();
	// Monotonic time decides (the caller has it already); the row gets wall time.
	if (monotonicMs - room->lastSignalTouchMs >= SIGNAL_TOUCH_INTERVAL_MS)
	{
		room->lastSignalTouchMs = monotonicMs;
		std::int64_t now = nowMs();
		room->lastActiveMs = now;
		_pHost->storage().executeAsync("UPDATE rooms SET last_active = ? WHERE id = ?", {now, room->id}, {});
	}
}


} // namespace Govpn
} // namespace Switchboard
