//
// PluginSlot.cpp
//


#include "plugin/PluginSlot.h"


namespace Switchboard {
namespace Core {


const char* siteName(PluginSite site) noexcept
{
	switch (site)
	{
		case PluginSite::MIGRATIONS:
			return "migrations";
		case PluginSite::START:
			return "start";
		case PluginSite::STOPPING:
			return "stopping";
		case PluginSite::STOP:
			return "stop";
		case PluginSite::ROUTE:
			return "route";
		case PluginSite::ACCEPT:
			return "onAccept";
		case PluginSite::OPEN:
			return "onOpen";
		case PluginSite::MESSAGE:
			return "onMessage";
		case PluginSite::BACKPRESSURE:
			return "onBackpressure";
		case PluginSite::CLOSE:
			return "onClose";
		case PluginSite::TIMER:
			return "timer";
		case PluginSite::TASK:
			return "task";
		case PluginSite::OFFLOAD:
			return "offload";
		case PluginSite::COMPLETION:
			return "completion";
		case PluginSite::TRANSACTION:
			return "transaction";
		case PluginSite::CLUSTER:
			return "cluster";
		case PluginSite::RECONFIGURE:
			return "reconfigure";
		case PluginSite::SITE_COUNT:
			break;
	}
	return "unknown";
}


} // namespace Core
} // namespace Switchboard
