//
// TransportSettings.h
//
// The limits of the WebSocket transport, from the [websocket] and [host] sections.
//


#ifndef Switchboard_Core_TransportSettings_INCLUDED
#define Switchboard_Core_TransportSettings_INCLUDED


#include "config/Settings.h"
#include <cstddef>
#include <cstdint>
#include <string>


namespace Switchboard {
namespace Core {


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_TransportSettings_INCLUDED
