//
// ClusterChannel.h
//
// Switchboard SDK (ABI 4.2): messages between one plugin's instances on the nodes of a cluster,
// for plugins whose shared state is more than names and groups (GoVPN's room presence).
//


#ifndef Switchboard_ClusterChannel_INCLUDED
#define Switchboard_ClusterChannel_INCLUDED


#include "switchboard/WebSocket.h"
#include <cstdint>
#include <functional>
#include <string_view>


namespace Switchboard {


using NodeNumber = std::uint16_t; ///< a live node's number in its cluster; 0 when the host runs alone


inline NodeNumber nodeOf(ConnectionId id) noexcept
/// The node a connection lives on: ids carry it in their top 16 bits (0 when alone).
{
	return static_cast<NodeNumber>(id >> 48);
}


class ClusterChannel
/// This plugin's private line to its instances on the other nodes (two plugins never see each
/// other's messages). Delivery is at most once, in order per sending node, as for Router.
/// Alone, clustered() is false and nothing is ever sent or received.
///
/// Threading: every call is safe from any thread and never blocks (messages are queued for the
/// host's cluster thread; beyond [cluster] publish_queue_limit they are dropped and counted).
/// Owned by the host.
{
public:
	struct Listener
	/// Callbacks run on the host's cluster thread, one at a time, in arrival order; they must not
	/// block (a short lock is fine) and must not throw.
	{
		std::function<void(NodeNumber from, std::string_view message)> message;
		std::function<void(NodeNumber node)> nodeLeft; ///< it stopped or died: its connections are gone
		std::function<void()> synced;
		///< The channel is live: once after this node has joined the cluster (after Plugin::start;
		///< what a plugin sends from start() is dropped), and again after every Redis reconnect
		///< or rejoin, when messages may have been lost. Announce this node's state here.
	};

	virtual ~ClusterChannel() = default;

	virtual bool clustered() const noexcept = 0;
	virtual NodeNumber node() const noexcept = 0;
	/// This node's number (nodeOf() of its connections).

	virtual void broadcast(std::string_view message) = 0;
	/// Copies message to this plugin on every other live node.
	virtual void sendTo(NodeNumber node, std::string_view message) = 0;
	/// Copies message to this plugin on one node (not this one).

	virtual void listen(Listener listener) = 0;
	/// From Plugin::start only, once. Messages that arrive before it are dropped.
};


} // namespace Switchboard


#endif // Switchboard_ClusterChannel_INCLUDED
