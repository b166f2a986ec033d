//
// GovpnState.h
//
// The plugin's per-connection and per-room state (memory only; rooms mirror the storage rows).
// Every field marked guarded is read and written under GovpnPlugin's lock.
//


#ifndef Switchboard_Govpn_GovpnState_INCLUDED
#define Switchboard_Govpn_GovpnState_INCLUDED


#include "GovpnPlugin.h"
#include <algorithm>
#include <cstring>


namespace Switchboard {
namespace Govpn {


// Shared by the request handlers and the connection code.
inline const char* const RATE_LIMITED = "Rate limit exceeded. Please try again later.";
inline const char* const AUTH_REQUIRED = "Authentication required";
constexpr std::int64_t DAY_MS = 86400000;
// The mirror's rows (GovpnPlugin::storedRoom, storedMember read them in this column order).
inline const char* const SELECT_ROOMS =
    "SELECT id, name, password_hash, owner_public_key, created_at, last_active FROM rooms";
inline const char* const SELECT_MEMBERS =
    "SELECT room_id, public_key, username, joined_at, last_connected FROM memberships";


struct GovpnPlugin::Client
{
	ConnectionId id = 0;
	std::string connectionId; ///< "c-…", what peers see
	std::string ip;           ///< the client IP (§10.1)
	std::string host;         ///< lowercase Host header, for strict-mode signatures
	// guarded by the plugin's lock
	bool open = true;
	PayloadForm mode = PayloadForm::BASE64;
	std::string boundKey;
	std::string room; ///< where the socket is online, or ""
	bool authenticated = false;
	std::string nonce;
	TimerId authTimer = 0;
	std::deque<std::string> pending;
	bool waiting = false;
	bool draining = false;
	double floodTokens = 0;
	std::int64_t floodLastMs = 0;
	std::int64_t lastFloodErrorMs = -1000000;
};


struct GovpnPlugin::Room
{
	struct Member
	{
		std::string username;
		std::int64_t joinedMs = 0;
		std::int64_t lastConnectedMs = 0;
	};
	struct Online
	{
		std::string key;
		ConnectionId socket = 0;   ///< on this node or, in a cluster, another (nodeOf())
		std::string connectionId;  ///< the socket's "c-…"
		std::uint64_t keyHead = 0; ///< the key's first 8 bytes (keyHeadOf): the relay's lookup compares it first
	};
	std::string id;
	std::string name;
	std::string passwordHash;
	std::string owner;
	std::int64_t createdMs = 0;
	std::int64_t lastActiveMs = 0;
	std::int64_t lastSignalTouchMs = INT64_MIN / 2; ///< monotonic; "never" at first
	std::map<std::string, Member> members;
	std::vector<Online> online; ///< in the order members came online

	/// The first 8 bytes of a key (fewer: zero-padded), loaded as one word.
	static std::uint64_t keyHeadOf(std::string_view key)
	{
		std::uint64_t head = 0;
		std::memcpy(&head, key.data(), std::min<std::size_t>(key.size(), sizeof head));
		return head;
	}

	void addOnline(std::string key, ConnectionId socket, std::string connectionId)
	{
		const std::uint64_t head = keyHeadOf(key);
		online.push_back({std::move(key), socket, std::move(connectionId), head});
	}

	const Online* onlineByKey(std::string_view key) const
	{
		// Every signal looks its destination up here: keys are random hex, so comparing the first
		// word in place rejects the other members without a call to memcmp.
		const std::uint64_t head = keyHeadOf(key);
		for (const Online& o : online)
			if (o.keyHead == head && o.key == key)
				return &o;
		return nullptr;
	}

	const Online* onlineByConnectionId(std::string_view connectionId) const
	{
		for (const Online& o : online)
			if (o.connectionId == connectionId)
				return &o;
		return nullptr;
	}
};


} // namespace Govpn
} // namespace Switchboard


#endif // Switchboard_Govpn_GovpnState_INCLUDED
