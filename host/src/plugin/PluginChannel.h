//
// PluginChannel.h
//
// The SDK's ClusterChannel for one plugin: messages to its instances on the other nodes through
// the ClusterNode, or nothing at all when the host runs alone.
//


#ifndef Switchboard_Core_PluginChannel_INCLUDED
#define Switchboard_Core_PluginChannel_INCLUDED


#include "plugin/PluginSlot.h"
#include "switchboard/ClusterChannel.h"
#include "Poco/Logger.h"
#include <atomic>
#include <mutex>
#include <string>


namespace Switchboard {
namespace Cluster {
class ClusterNode;
}
namespace Core {


class PluginChannel: public ClusterChannel
{
public:
	PluginChannel(std::string plugin, Cluster::ClusterNode* cluster, PluginSlot& slot, Poco::Logger& logger);
	/// cluster null: alone. slot guards the listener's callbacks.

	bool clustered() const noexcept override { return _cluster != nullptr; }
	NodeNumber node() const noexcept override;
	void broadcast(std::string_view message) override;
	void sendTo(NodeNumber node, std::string_view message) override;
	void listen(Listener listener) override;

	// From the cluster's subscriber thread.
	void message(NodeNumber from, std::string_view data);
	void nodeLeft(NodeNumber node);
	void synced();

private:
	const Listener* listener() const;

	std::string _plugin;
	Cluster::ClusterNode* _cluster;
	PluginSlot& _slot;
	Poco::Logger& _logger;
	std::mutex _listenMutex;
	Listener _listener;                  ///< written once, before _listening is set
	std::atomic<bool> _listening{false}; ///< lets the cluster thread read _listener without a lock
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_PluginChannel_INCLUDED
