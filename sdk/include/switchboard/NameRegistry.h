//
// NameRegistry.h
//
// Switchboard SDK: unique names owned by connections (a PeerJS id, a user's session), unique
// across every node of a cluster, or within this process when the host runs alone.
//


#ifndef Switchboard_NameRegistry_INCLUDED
#define Switchboard_NameRegistry_INCLUDED


#include "switchboard/WebSocket.h"
#include <functional>
#include <string_view>


namespace Switchboard {


enum class ClaimResult
{
	CLAIMED,    ///< the name is now the connection's
	TAKEN_OVER, ///< another live connection held it with the same secret; previous no longer does
	TAKEN,      ///< another live connection holds it (another secret, or none given)
	UNAVAILABLE ///< the cluster cannot decide now (Redis unreachable); nothing changed
};


class NameRegistry
/// A registry of names per plugin (two plugins never see each other's), each held by one
/// connection. A name is freed when its owner closes, on release(), and in a cluster when the
/// owner's node stops refreshing its liveness ([cluster] node_ttl_s after it dies).
///
/// Threading: every call is safe from any thread. The host never runs a callback inside the
/// call: it runs on the calling event loop when called from one, otherwise on a host thread, in
/// the order the calls were made (FakeHost, deciding at once, runs it inside the call). Callbacks
/// must not block. Owned by the host.
{
public:
	using ClaimCallback = std::function<void(ClaimResult result, ConnectionId previous)>;
	using LookupCallback = std::function<void(ConnectionId owner)>;                       ///< 0: nobody holds it
	using WatchCallback = std::function<void(std::string_view name, ConnectionId owner)>; ///< owner 0: freed

	virtual ~NameRegistry() = default;

	virtual bool clustered() const noexcept = 0;
	/// True when names are shared with other nodes (and callbacks wait for Redis).

	virtual void claim(std::string_view name, ConnectionId owner, std::string_view secret, ClaimCallback done) = 0;
	/// Claims name for owner (a connection of this plugin on this node). With a non-empty secret
	/// (kept only as a SHA-256 hash) a later claim giving the same secret takes the name over (a
	/// client reconnecting);
	/// closing the previous connection is up to the plugin (Router::close works on any node).
	/// A claim the owner's node re-asserts after a Redis outage and finds lost closes the owner
	/// with 1012 (service restart): the client reconnects and claims again.

	virtual void release(std::string_view name, ConnectionId owner) = 0;
	/// Frees name if owner still holds it; otherwise does nothing.

	virtual void lookup(std::string_view name, LookupCallback done) = 0;
	/// Finds the connection holding name, on any node; Router::send reaches it there.

	virtual void watch(WatchCallback callback) = 0;
	/// From Plugin::start only: callback runs whenever a name of this plugin is claimed or freed
	/// on any node: on the thread that made the change here, on the host's cluster thread for
	/// other nodes. Notices can be lost while Redis is unreachable. An empty name with owner 0
	/// says a node left the cluster: every name it held is free (forget cached owners).
};


} // namespace Switchboard


#endif // Switchboard_NameRegistry_INCLUDED
