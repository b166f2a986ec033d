//
// PluginSlot.h
//
// The host's view of one running plugin from below: its id, the one guard around every call into
// its code, and the notices through which the loops hand back what the plugin's context tracks.
// net/ and http/ know plugins only through this header.
//


#ifndef Switchboard_Core_PluginSlot_INCLUDED
#define Switchboard_Core_PluginSlot_INCLUDED


#include "switchboard/Host.h"
#include <atomic>
#include <cstdint>
#include <exception>
#include <string>


namespace Switchboard {
namespace Core {


using PluginId = std::uint32_t; ///< 1, 2, ... in load order; 0 is never a plugin


enum class PluginSite : std::uint8_t
/// Where the host called into a plugin. docs/sdk.md has the policy table: what the host does
/// after an exception at each site. Every one is counted in
/// switchboard_plugin_exceptions_total{plugin,site}.
{
	MIGRATIONS,   ///< Plugin::migrations: start fails
	START,        ///< Plugin::start: start fails
	STOPPING,     ///< Plugin::stopping: shutdown goes on
	STOP,         ///< Plugin::stop: shutdown goes on
	ROUTE,        ///< a route handler: 500
	ACCEPT,       ///< WebSocketHandler::onAccept: 500, no upgrade
	OPEN,         ///< onOpen: the connection is closed with 1011
	MESSAGE,      ///< onMessage: the connection is closed with 1011
	BACKPRESSURE, ///< onBackpressure: the connection is closed with 1011
	CLOSE,        ///< onClose: nothing more (the connection is already gone)
	TIMER,        ///< a timer callback: an every() timer keeps running
	TASK,         ///< a Host::runOn task or Router::close on a loop: the connection stays open
	OFFLOAD,      ///< Host::offload work or Storage::executeAsync on a worker: the completion still runs
	COMPLETION,   ///< an offload or executeAsync completion: nothing more
	TRANSACTION,  ///< a Storage::transaction body: rolled back
	CLUSTER,      ///< a ClusterChannel listener or a name watcher, from the cluster thread: nothing more
	RECONFIGURE,  ///< Plugin::reconfigure on a reload: counted as not applied, needs a restart
	SITE_COUNT
};


const char* siteName(PluginSite site) noexcept;
///< "onMessage", "timer", ...: the value of the site label.


class PluginSlot
/// Implemented by the plugin's context, which outlives every connection, timer and task of the
/// plugin (the host stops the loops before it destroys contexts). Thread-safe.
{
public:
	virtual ~PluginSlot() = default;

	virtual PluginId pluginId() const noexcept = 0;
	virtual const std::string& slotName() const noexcept = 0;
	///< The plugin's short name, for messages.

	template <class Fn>
	bool guarded(PluginSite site, Fn&& fn, std::string* error = nullptr) noexcept
	/// Runs fn; an exception is logged with the plugin's name and the site, counted, described in
	/// error (when given) and reported as false so the caller applies the site's policy. The only
	/// place where the host stops a plugin's exceptions.
	{
		try
		{
			fn();
			return true;
		}
		catch (const std::exception& exc)
		{
			caught(site, exc.what());
			describe(error, exc.what());
		}
		catch (...)
		{
			caught(site, nullptr);
			describe(error, "an exception that is not a std::exception");
		}
		return false;
	}

	bool routable() const noexcept { return _routable.load(std::memory_order_acquire); }
	/// New requests and connections may reach the plugin: not while Plugin::start runs on a
	/// server that is already serving, nor once a reload disabled it. Loop threads read it.
	void setRoutable(bool routable) noexcept { _routable.store(routable, std::memory_order_release); }

	void routeStarted() noexcept { _routesInFlight.fetch_add(1, std::memory_order_relaxed); }
	void routeFinished() noexcept { _routesInFlight.fetch_sub(1, std::memory_order_release); }
	int routesInFlight() const noexcept { return _routesInFlight.load(std::memory_order_acquire); }
	/// Route requests handed to a worker and not yet answered by the plugin's handler.

	virtual void timerFinished(TimerId timer) noexcept = 0;
	/// A one-shot timer fired (on a loop thread): the context forgets it.

	virtual void connectionFinished(ConnectionId id) noexcept = 0;
	/// A connection of this plugin finished (on its loop thread): it leaves every group.

protected:
	virtual void caught(PluginSite site, const char* what) noexcept = 0;
	/// what is nullptr for an exception that is not a std::exception.

private:
	std::atomic<bool> _routable{true};
	std::atomic<int> _routesInFlight{0};

	static void describe(std::string* error, const char* what) noexcept
	{
		if (!error)
			return;
		try
		{
			*error = what;
		}
		catch (...)
		{
		}
	}
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_PluginSlot_INCLUDED
