//
// HttpListener.cpp
//


#include "http/HttpListener.h"
#include "net/EventLoop.h"
#include "net/SocketIo.h"
#include "Poco/Net/StreamSocketImpl.h"
#include <string>


namespace Switchboard {
namespace Core {


namespace {

// A whole default backlog per readiness event: in a reconnect storm the kernel's accept queue is
// emptied at once and never overflows (an overflow costs the client a SYN retry a second later,
// which is what dominated the set-up time with 128). Accepting is a few microseconds per client,
// so other sockets of the loop wait milliseconds at most.
constexpr int ACCEPTS_PER_EVENT = 4096;
// A TLS handshake costs the server about half a millisecond of CPU, a hundred times a plain
// upgrade: 4096 accepted at once would run their head deadlines (which start at the accept) out
// while they wait for the loop. TLS clients beyond this wait in the kernel's backlog instead.
constexpr int TLS_ACCEPTS_PER_EVENT = 128;
// Once half of max_pending_handshakes are in progress, the loop is behind on heads: it takes
// this many per event and lets the kernel's backlog hold the rest, rather than accepting a storm
// into the pending limit's 503s.
constexpr int BUSY_ACCEPTS_PER_EVENT = 64;

std::string refusal(const char* statusLine, const char* retryAfterSeconds, const std::string& body,
                    const char* contentType = "text/plain; charset=utf-8")
{
	return std::string("HTTP/1.1 ") + statusLine + "\r\nRetry-After: " + retryAfterSeconds +
	       "\r\nContent-Type: " + contentType + "\r\nContent-Length: " + std::to_string(body.size()) +
	       "\r\nConnection: close\r\n\r\n" + body;
}

// A client at its connection limit holds long-lived WebSockets: retrying within a second would
// only be refused again.
const std::string CLIENT_LIMIT_RESPONSE =
    refusal("429 Too Many Requests", "10", "Too Many Requests: too many connections from this address\n");
const std::string PENDING_LIMIT_RESPONSE =
    refusal("503 Service Unavailable", "1", "Service Unavailable: too many handshakes in progress\n");
// The same on a json_errors listener.
const std::string CLIENT_LIMIT_JSON_RESPONSE =
    refusal("429 Too Many Requests", "10", "{\"error\":\"Too many requests\"}", "application/json; charset=utf-8");
const std::string PENDING_LIMIT_JSON_RESPONSE =
    refusal("503 Service Unavailable", "1", "{\"error\":\"Service unavailable\"}", "application/json; charset=utf-8");

void refuse(int fd, const std::string& response, bool tls)
// Answers without reading the request and closes; a client whose socket cannot take the few
// bytes at once is simply closed (nothing of it is kept). A TLS listener's client cannot read
// plaintext, and a handshake just to refuse would hand an attacker our CPU: it is closed.
{
	if (!tls)
		SocketIo::sendBytes(fd, response.data(), response.size(), true);
	SocketIo::shutdownWrite(fd);
	// Bytes already received and unread would turn the close into a reset, which may destroy
	// the response before the client reads it.
	char sink[4096];
	while (SocketIo::receiveBytes(fd, sink, sizeof(sink), true) > 0)
	{
	}
	SocketIo::closeSocket(fd);
}

std::string addressText(const sockaddr_storage& address)
// "1.2.3.4:port" or "[::1]:port", as Poco's SocketAddress writes them, without its exceptions
// and allocations (one per accepted client).
{
	char host[INET6_ADDRSTRLEN] = "unknown";
	unsigned port = 0;
	if (address.ss_family == AF_INET)
	{
		const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
		::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host));
		port = ntohs(v4->sin_port);
		return std::string(host) + ":" + std::to_string(port);
	}
	if (address.ss_family == AF_INET6)
	{
		const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
		::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host));
		port = ntohs(v6->sin6_port);
		return "[" + std::string(host) + "]:" + std::to_string(port);
	}
	return host;
}

} // namespace


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
	const int batch = _listener.currentTls() ? TLS_ACCEPTS_PER_EVENT : ACCEPTS_PER_EVENT;
	const std::size_t maxPending = _front.limits().maxPending();
	for (int i = 0; i < batch && !_closed; ++i)
	{
		if (i == BUSY_ACCEPTS_PER_EVENT && maxPending > 0 && _front.limits().pending() >= maxPending / 2)
			break;
		if (_front.atCapacity())
		{
			pause();
			return;
		}
		sockaddr_storage address{};
		int fd = SocketIo::acceptNonBlocking(_fd, address);
		if (fd < 0)
		{
			SocketIo::Failure failure = SocketIo::lastFailure();
			if (failure == SocketIo::Failure::INTERRUPTED || failure == SocketIo::Failure::ABORTED)
				continue;
			if (failure == SocketIo::Failure::NO_RESOURCES)
			{
				_front.logger().warning("accept on %s: out of descriptors or memory; pausing", _listener.spec.name);
				pause();
			}
			return; // EAGAIN: the backlog is empty
		}
		HttpFront::ClientSlotPtr clientSlot;
		if (!_listener.admin && !admit(fd, reinterpret_cast<const sockaddr*>(&address), clientSlot))
			continue;
		std::string remote = addressText(address);
		Poco::Net::StreamSocket socket(new Poco::Net::StreamSocketImpl(fd));
		_front.adoptAccepted(std::move(socket), std::move(remote), _listener, std::move(clientSlot));
	}
}


bool HttpListener::admit(int fd, const sockaddr* address, HttpFront::ClientSlotPtr& clientSlot)
{
	// The admin listener is exempt: /metrics and /readyz must answer while the front is attacked.
	ClientKey client = ClientKey::of(address, _front.settings()->ipv6ClientPrefix);
	AbuseLimits::Admission admission = _front.limits().admit(client, _loop.now(), clientSlot);
	if (admission == AbuseLimits::Admission::ADMITTED)
	{
		_front.updatePendingGauge();
		return true;
	}
	const HttpCounters& counters = _front.counters();
	if (admission == AbuseLimits::Admission::CLIENT_LIMIT)
	{
		if (counters.clientLimitRefusals)
			counters.clientLimitRefusals->increment();
		refuse(fd, _listener.spec.jsonErrors ? CLIENT_LIMIT_JSON_RESPONSE : CLIENT_LIMIT_RESPONSE,
		       _listener.currentTls() != nullptr);
	}
	else
	{
		if (counters.pendingLimitRefusals)
			counters.pendingLimitRefusals->increment();
		refuse(fd, _listener.spec.jsonErrors ? PENDING_LIMIT_JSON_RESPONSE : PENDING_LIMIT_RESPONSE,
		       _listener.currentTls() != nullptr);
	}
	return false;
}


} // namespace Core
} // namespace Switchboard
