//
// SystemdNotify.h
//
// The service manager's readiness protocol (sd_notify(3)), written directly: one datagram of
// "KEY=value" lines to the AF_UNIX socket named by $NOTIFY_SOCKET. Nothing happens when the
// variable is not set (not started by systemd with Type=notify).
//


#ifndef Switchboard_Core_SystemdNotify_INCLUDED
#define Switchboard_Core_SystemdNotify_INCLUDED


#include <string>
#include <string_view>


namespace Switchboard {
namespace Core {


bool notifyServiceManager(std::string_view state, std::string* pError = nullptr);
/// Sends state ("READY=1", "STOPPING=1", "RELOADING=1\nMONOTONIC_USEC=..." ...) to
/// $NOTIFY_SOCKET: a path, or an abstract socket when it starts with '@'. Returns whether it was
/// sent; false with no error when the variable is unset or empty. Safe from any thread; never
/// blocks (a full socket buffer is an error).


std::string reloadingState();
/// "RELOADING=1" with the MONOTONIC_USEC systemd asks for since version 253 (older ones ignore it).


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_SystemdNotify_INCLUDED
