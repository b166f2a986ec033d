//
// LoopHandler.h
//
// What an event loop calls when a socket it polls is ready: a WebSocket connection, an HTTP
// connection or a listening socket.
//


#ifndef Switchboard_Core_LoopHandler_INCLUDED
#define Switchboard_Core_LoopHandler_INCLUDED


#include <cstddef>
#include <cstdint>


namespace Switchboard {
namespace Core {


class LoopHandler
/// Registered with the loop's Poller under its own address as the token. Called on the loop
/// thread only. A handler that has finished stays allocated until the end of the loop iteration
/// (events for it in the same batch are skipped through finished()).
{
public:
	virtual ~LoopHandler() = default;

	virtual void onReadable(char* scratch, std::size_t scratchSize) = 0;
	/// scratch: the loop's read buffer, valid during the call.
	virtual void onWritable() = 0;
	virtual bool finished() const = 0;

	std::uint64_t pollToken() const { return reinterpret_cast<std::uintptr_t>(this); }
	static LoopHandler* fromToken(std::uint64_t token)
	{
		return reinterpret_cast<LoopHandler*>(static_cast<std::uintptr_t>(token));
	}
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_LoopHandler_INCLUDED
