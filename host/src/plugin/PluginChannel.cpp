//
// PluginChannel.cpp
//


#include "plugin/PluginChannel.h"
#include "cluster/ClusterNode.h"


namespace Switchboard {
namespace Core {


PluginChannel::PluginChannel(std::string plugin, Cluster::ClusterNode* cluster, PluginSlot& slot, Poco::Logger& logger):
    _plugin(std::move(plugin)),
    _cluster(cluster),
    _slot(slot),
    _logger(logger)
{
}


NodeNumber PluginChannel::node() const noexcept
{
	return _cluster ? _cluster->number() : 0;
}


void PluginChannel::broadcast(std::string_view message)
{
	// At most once: a drop (Redis away, queue full) is counted by the cluster, not reported.
	if (_cluster)
		_cluster->broadcastToPlugin(_plugin, message);
}


void PluginChannel::sendTo(NodeNumber node, std::string_view message)
{
	if (_cluster && node != 0 && node != _cluster->number())
		_cluster->sendToPlugin(_plugin, node, message);
}


void PluginChannel::listen(Listener listener)
{
	std::lock_guard<std::mutex> lock(_listenMutex);
	if (_listening.load())
	{
		// Once only: the cluster thread may be reading the first one.
		_logger.warning("ClusterChannel::listen called again; the first listener stays");
		return;
	}
	_listener = std::move(listener);
	_listening.store(true, std::memory_order_release);
}


const ClusterChannel::Listener* PluginChannel::listener() const
{
	return _listening.load(std::memory_order_acquire) ? &_listener : nullptr;
}


void PluginChannel::message(NodeNumber from, std::string_view data)
{
	const Listener* l = listener();
	if (l && l->message)
		_slot.guarded(PluginSite::CLUSTER, [&] { l->message(from, data); });
}


void PluginChannel::nodeLeft(NodeNumber node)
{
	const Listener* l = listener();
	if (l && l->nodeLeft)
		_slot.guarded(PluginSite::CLUSTER, [&] { l->nodeLeft(node); });
}


void PluginChannel::synced()
{
	const Listener* l = listener();
	if (l && l->synced)
		_slot.guarded(PluginSite::CLUSTER, [&] { l->synced(); });
}


} // namespace Core
} // namespace Switchboard
