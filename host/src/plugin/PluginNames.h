//
// PluginNames.h
//
// The SDK's NameRegistry for one plugin: a map in this process, or claims in Redis through the
// ClusterNode when the host runs in a cluster. Remembers the names this node's connections hold,
// to free them when the connection finishes and to claim them again after a Redis outage.
//


#ifndef Switchboard_Core_PluginNames_INCLUDED
#define Switchboard_Core_PluginNames_INCLUDED


#include "switchboard/NameRegistry.h"
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>


namespace Switchboard {
namespace Cluster {
class ClusterNode;
}
namespace Core {


class PluginNames: public NameRegistry
{
public:
	using Post = std::function<void(std::function<void()>)>;
	/// Wraps a callback so it runs on the caller's event loop (or a worker); captured per call.
	using PostFactory = std::function<Post()>;
	using CloseOwner = std::function<void(ConnectionId owner)>;

	PluginNames(std::string plugin, Cluster::ClusterNode* cluster, PostFactory postFactory, CloseOwner closeLost);

	bool clustered() const noexcept override { return _cluster != nullptr; }
	void claim(std::string_view name, ConnectionId owner, std::string_view secret, ClaimCallback done) override;
	void release(std::string_view name, ConnectionId owner) override;
	void lookup(std::string_view name, LookupCallback done) override;
	void watch(WatchCallback callback) override;

	void connectionFinished(ConnectionId id);
	void nameChanged(std::string_view name, ConnectionId owner);
	/// A notice from the cluster (subscriber thread): watchers, and a held name claimed elsewhere is forgotten.
	void reassert();
	/// After Redis came back: claim every held name again; a lost one closes its owner with 1012.
	std::size_t heldCount() const;

	static std::string secretHash(std::string_view secret);
	/// SHA-256 hex: Redis never sees a client's secret.

private:
	struct Held
	{
		ConnectionId owner;
		std::string secret; ///< hashed in cluster mode
	};

	void notify(std::string_view name, ConnectionId owner);

	std::string _plugin;
	Cluster::ClusterNode* _cluster;
	PostFactory _postFactory;
	CloseOwner _closeLost;
	mutable std::mutex _mutex;
	std::map<std::string, Held, std::less<>> _held;            // names this node's connections hold
	std::map<ConnectionId, std::vector<std::string>> _byOwner; // for connectionFinished
	std::vector<WatchCallback> _watchers;                      // fixed after Plugin::start
	// Claims waiting for Redis, per owner, and owners that finished meanwhile: their claim is
	// released as soon as it is granted instead of holding the name for a closed connection.
	std::map<ConnectionId, int> _pendingClaims;
	std::map<ConnectionId, bool> _finishedWhilePending;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_PluginNames_INCLUDED
