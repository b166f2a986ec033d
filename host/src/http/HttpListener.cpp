//
// HttpListener.cpp
//


#include "http/HttpListener.h"
#include "net/EventLoop.h"
#include "Poco/Net/SocketAddress.h"
#include "Poco/Net/StreamSocketImpl.h"
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>


namespace Switchboard {
namespace Core {


namespace {
constexpr int ACCEPTS_PER_EVENT = 128; // then other sockets of the loop get their turn
}


HttpListener::HttpListener(HttpFront& front, EventLoop& loop, HttpFront::Listener& listener,
                           Poco::Net::ServerSocket socket):
    _front(front),
    _loop(loop),
    _listener(listener),
    _socket(std::move(socket)),
    _fd(_socket.impl()->sockfd())
{
	_timer.owner = this;
	_timer.fire = &HttpListener::onTimer;
	_socket.setBlocking(false);
}


HttpListener::~HttpListener()
{
	close();
}


void HttpListener::start()
{
	_polled = _loop.poller().add(_socket, pollToken(), false);
}


void HttpListener::close()
{
	if (_closed)
		return;
	_closed = true;
	_loop.wheel().cancel(_timer);
	if (_polled)
		_loop.poller().remove(_socket);
	_polled = false;
	try
	{
		_socket.close();
	}
	catch (...)
	{
	}
}


void HttpListener::pause()
{
	if (_polled)
		_loop.poller().remove(_socket);
	_polled = false;
	if (_front.counters().acceptPauses)
		_front.counters().acceptPauses->increment();
	_loop.wheel().schedule(_timer, _loop.now() + TimerWheel::TICK_MS);
}


void HttpListener::onTimer(TimerNode* node)
{
	auto* self = static_cast<HttpListener*>(node->owner);
	if (self->_closed)
		return;
	if (self->_front.atCapacity())
	{
		self->_loop.wheel().schedule(self->_timer, self->_loop.now() + TimerWheel::TICK_MS);
		return;
	}
	self->start();
	char none[1];
	self->onReadable(none, 0); // clients that queued meanwhile
}


void HttpListener::onReadable(char* /*scratch*/, std::size_t /*scratchSize*/)
{
	for (int i = 0; i < ACCEPTS_PER_EVENT && !_closed; ++i)
	{
		if (_front.atCapacity())
		{
			pause();
			return;
		}
		sockaddr_storage address{};
		socklen_t length = sizeof(address);
		int fd = ::accept4(_fd, reinterpret_cast<sockaddr*>(&address), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
		{
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			{
				_front.logger().warning("accept on %s: out of descriptors or memory; pausing", _listener.spec.name);
				pause();
			}
			return; // EAGAIN: the backlog is empty
		}
		int one = 1;
		::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		std::string remote;
		try
		{
			remote = Poco::Net::SocketAddress(reinterpret_cast<sockaddr*>(&address), length).toString();
		}
		catch (...)
		{
			remote = "unknown";
		}
		Poco::Net::StreamSocket socket(new Poco::Net::StreamSocketImpl(fd));
		_front.adoptAccepted(std::move(socket), std::move(remote), _listener);
	}
}


} // namespace Core
} // namespace Switchboard
