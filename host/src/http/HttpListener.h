//
// HttpListener.h
//
// A listening socket served by event loop 0: accepts in batches and spreads the connections
// over the loops, and stops accepting while the host is at max_connections.
//


#ifndef Switchboard_Core_HttpListener_INCLUDED
#define Switchboard_Core_HttpListener_INCLUDED


#include "http/HttpFront.h"
#include "net/LoopHandler.h"
#include "net/TimerWheel.h"
#include "net/SocketIo.h"
#include "Poco/Net/ServerSocket.h"


namespace Switchboard {
namespace Core {


class EventLoop;


class HttpListener: public LoopHandler
/// At capacity the socket leaves the poller: further clients wait in the kernel's backlog (the
/// listener's `backlog`) instead of being accepted and dropped, and the listener looks again
/// every timer tick. Loop 0's thread only, except close() before the loops start.
{
public:
	HttpListener(HttpFront& front, EventLoop& loop, HttpFront::Listener& listener, Poco::Net::ServerSocket socket);
	~HttpListener() override;

	void start();
	void close();
	bool open() const { return !_closed; }

	void onReadable(char* scratch, std::size_t scratchSize) override;
	void onWritable() override {}
	bool finished() const override { return _closed; }

private:
	void pause();
	bool admit(int fd, const sockaddr* address, HttpFront::ClientSlotPtr& clientSlot);
	/// The abuse limits for a fresh connection; false when it was refused (answered and closed).
	static void onTimer(TimerNode* node);

	HttpFront& _front;
	EventLoop& _loop;
	HttpFront::Listener& _listener;
	Poco::Net::ServerSocket _socket;
	int _fd;
	TimerNode _timer;
	bool _polled = false;
	bool _closed = false;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_HttpListener_INCLUDED
