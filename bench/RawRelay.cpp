//
// RawRelay.cpp
//


#include "RawRelay.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <strings.h>


namespace Switchboard {
namespace Bench {


namespace {


volatile std::sig_atomic_t stopFlag = 0;

constexpr std::size_t SCRATCH_SIZE = 256 * 1024;
constexpr std::size_t MAX_REQUEST = 8 * 1024;
constexpr std::size_t MAX_PAYLOAD = 1024 * 1024;
constexpr std::size_t MAX_OUTPUT = std::size_t(64) << 20;
constexpr std::uint64_t LISTENER_TAG = ~std::uint64_t(0);
const char HEARTBEAT[] = "{\"type\":\"HEARTBEAT\"}";
const char OPEN_FRAME[] = "\x81\x0f{\"type\":\"OPEN\"}";
const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";


std::string acceptKey(const std::string& key)
{
	const std::string input = key + WS_GUID;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int length = 0;
	EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
	unsigned char encoded[64];
	const int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(length));
	return std::string(reinterpret_cast<char*>(encoded), static_cast<std::size_t>(n));
}


std::string headerValue(const std::string& request, const char* name)
{
	const std::size_t nameLength = std::strlen(name);
	std::size_t line = request.find("\r\n");
	while (line != std::string::npos && line + 2 < request.size())
	{
		const std::size_t start = line + 2;
		const std::size_t end = request.find("\r\n", start);
		if (end == std::string::npos || end == start)
			break;
		if (end - start > nameLength && request[start + nameLength] == ':' &&
		    strncasecmp(request.data() + start, name, nameLength) == 0)
		{
			std::size_t v = start + nameLength + 1;
			while (v < end && (request[v] == ' ' || request[v] == '\t'))
				++v;
			std::size_t e = end;
			while (e > v && (request[e - 1] == ' ' || request[e - 1] == '\t'))
				--e;
			return request.substr(v, e - v);
		}
		line = end;
	}
	return {};
}


std::string queryId(const std::string& request)
{
	// "GET /path?key=...&id=X&token=... HTTP/1.1": the raw value of id= (ids here need no decoding).
	const std::size_t lineEnd = request.find("\r\n");
	const std::size_t query = request.find('?');
	if (query == std::string::npos || query > lineEnd)
		return {};
	std::size_t at = query + 1;
	while (at < lineEnd)
	{
		std::size_t end = request.find_first_of("& ", at);
		if (end == std::string::npos || end > lineEnd)
			end = lineEnd;
		if (request.compare(at, 3, "id=") == 0)
			return request.substr(at + 3, end - at - 3);
		if (request[end] == ' ')
			break;
		at = end + 1;
	}
	return {};
}


std::string partnerOf(const std::string& id)
{
	if (id.empty())
		return {};
	std::string p = id;
	if (p.back() == 'a')
		p.back() = 'b';
	else if (p.back() == 'b')
		p.back() = 'a';
	else
		return {};
	return p;
}


void appendServerHeader(std::string& out, int firstByte, std::size_t size)
{
	char header[10];
	std::size_t h = 0;
	header[h++] = static_cast<char>(firstByte);
	if (size < 126)
		header[h++] = static_cast<char>(size);
	else if (size <= 0xFFFF)
	{
		header[h++] = 126;
		header[h++] = static_cast<char>(size >> 8);
		header[h++] = static_cast<char>(size);
	}
	else
	{
		header[h++] = 127;
		for (int shift = 56; shift >= 0; shift -= 8)
			header[h++] = static_cast<char>(static_cast<std::uint64_t>(size) >> shift);
	}
	out.append(header, h);
}


void unmaskInto(char* dst, const char* src, std::size_t size, const unsigned char* key)
{
	unsigned char k8[8];
	for (int i = 0; i < 8; ++i)
		k8[i] = key[i & 3];
	std::uint64_t wide;
	std::memcpy(&wide, k8, 8);
	std::size_t i = 0;
	for (; i + 8 <= size; i += 8)
	{
		std::uint64_t v;
		std::memcpy(&v, src + i, 8);
		v ^= wide;
		std::memcpy(dst + i, &v, 8);
	}
	for (; i < size; ++i)
		dst[i] = static_cast<char>(src[i] ^ key[i & 3]);
}


} // namespace


RawRelay::RawRelay(const std::string& address, int port):
    _address(address),
    _port(port),
    _scratch(SCRATCH_SIZE)
{
}


RawRelay::~RawRelay()
{
	for (auto& c : _byFd)
	{
		if (c && c->fd >= 0)
			::close(c->fd);
	}
	if (_listener >= 0)
		::close(_listener);
	if (_epoll >= 0)
		::close(_epoll);
}


void RawRelay::requestStop()
{
	stopFlag = 1;
}


bool RawRelay::listen()
{
	_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (_listener < 0)
		return false;
	int one = 1;
	setsockopt(_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_port = htons(static_cast<std::uint16_t>(_port));
	if (inet_pton(AF_INET, _address.c_str(), &a.sin_addr) != 1)
	{
		std::fprintf(stderr, "bench-rawrelay: bad address '%s'\n", _address.c_str());
		return false;
	}
	if (::bind(_listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(_listener, 4096) != 0)
	{
		std::perror("bench-rawrelay: bind/listen");
		return false;
	}
	epoll_event ev{};
	ev.events = EPOLLIN;
	ev.data.u64 = LISTENER_TAG;
	return epoll_ctl(_epoll, EPOLL_CTL_ADD, _listener, &ev) == 0;
}


int RawRelay::run()
{
	rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max)
	{
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	_epoll = epoll_create1(EPOLL_CLOEXEC);
	if (_epoll < 0 || !listen())
		return 1;
	std::fprintf(stdout, "bench-rawrelay: listening on %s:%d\n", _address.c_str(), _port);
	std::fflush(stdout);
	std::vector<epoll_event> events(1024);
	while (!stopFlag)
	{
		const int n = epoll_wait(_epoll, events.data(), static_cast<int>(events.size()), 500);
		if (n < 0)
		{
			if (errno == EINTR)
				continue;
			std::perror("bench-rawrelay: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; ++i)
		{
			if (events[i].data.u64 == LISTENER_TAG)
			{
				acceptAll();
				continue;
			}
			Conn* c = _byFd[events[i].data.fd].get();
			if (!c || c->closing)
				continue;
			if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				onReadable(*c);
			if ((events[i].events & EPOLLOUT) && !c->closing)
				flush(*c);
		}
		// One write per connection that gained output in this iteration.
		for (Conn* c : _dirty)
		{
			c->dirty = false;
			if (!c->closing)
				flush(*c);
		}
		_dirty.clear();
		for (Conn* c : _closed)
		{
			const int fd = c->fd;
			::close(fd);
			_byFd[static_cast<std::size_t>(fd)].reset();
		}
		if (_acceptPaused && !_closed.empty())
		{
			epoll_event ev{};
			ev.events = EPOLLIN;
			ev.data.u64 = LISTENER_TAG;
			_acceptPaused = epoll_ctl(_epoll, EPOLL_CTL_ADD, _listener, &ev) != 0;
		}
		_closed.clear();
	}
	return 0;
}


void RawRelay::acceptAll()
{
	for (int i = 0; i < 256; ++i)
	{
		const int fd = ::accept4(_listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
		{
			if (errno == EMFILE || errno == ENFILE)
			{
				// Out of descriptors: stop watching the listener (it would report readiness on
				// every wait) and leave further clients in the backlog until a connection closes.
				if (!_acceptPaused)
				{
					std::fprintf(stderr, "bench-rawrelay: accept: %s; pausing with %zu peers registered\n",
					             std::strerror(errno), _byId.size());
					epoll_ctl(_epoll, EPOLL_CTL_DEL, _listener, nullptr);
					_acceptPaused = true;
				}
			}
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				std::perror("bench-rawrelay: accept");
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (static_cast<std::size_t>(fd) >= _byFd.size())
			_byFd.resize(static_cast<std::size_t>(fd) + 1024);
		auto conn = std::make_unique<Conn>();
		conn->fd = fd;
		conn->interest = EPOLLIN;
		epoll_event ev{};
		ev.events = EPOLLIN;
		ev.data.fd = fd;
		epoll_ctl(_epoll, EPOLL_CTL_ADD, fd, &ev);
		_byFd[static_cast<std::size_t>(fd)] = std::move(conn);
	}
}


void RawRelay::onReadable(Conn& conn)
{
	char* scratch = _scratch.data();
	const std::size_t carry = conn.in.size();
	if (carry >= SCRATCH_SIZE / 2 && conn.upgraded)
	{
		// A frame larger than the scratch buffer: read it into the carry buffer directly.
		const std::size_t old = conn.in.size();
		conn.in.resize(old + SCRATCH_SIZE);
		const ssize_t n = ::read(conn.fd, &conn.in[old], SCRATCH_SIZE);
		if (n <= 0)
		{
			conn.in.resize(old);
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				closeConn(conn);
			return;
		}
		conn.in.resize(old + static_cast<std::size_t>(n));
		const std::size_t used = relay(conn, &conn.in[0], conn.in.size());
		if (!conn.closing)
			conn.in.erase(0, used);
		return;
	}
	std::memcpy(scratch, conn.in.data(), carry);
	const ssize_t n = ::read(conn.fd, scratch + carry, SCRATCH_SIZE - carry);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
	{
		closeConn(conn);
		return;
	}
	if (n < 0)
		return;
	const std::size_t total = carry + static_cast<std::size_t>(n);
	if (!conn.upgraded)
	{
		conn.in.assign(scratch, total);
		if (!upgrade(conn) || conn.closing)
			return;
		// Frames pipelined behind the request stay in conn.in.
		if (conn.in.empty())
			return;
		const std::size_t rest = conn.in.size();
		std::memcpy(scratch, conn.in.data(), rest);
		const std::size_t used = relay(conn, scratch, rest);
		if (!conn.closing)
			conn.in.assign(scratch + used, rest - used);
		return;
	}
	const std::size_t used = relay(conn, scratch, total);
	if (!conn.closing)
		conn.in.assign(scratch + used, total - used);
}


bool RawRelay::upgrade(Conn& conn)
{
	const std::size_t end = conn.in.find("\r\n\r\n");
	if (end == std::string::npos)
	{
		if (conn.in.size() > MAX_REQUEST)
			closeConn(conn);
		return false;
	}
	const std::string request = conn.in.substr(0, end + 2);
	conn.in.erase(0, end + 4);
	const std::string key = headerValue(request, "Sec-WebSocket-Key");
	if (request.compare(0, 4, "GET ") != 0 || key.empty())
	{
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
		conn.out.append(bad, sizeof(bad) - 1);
		flush(conn);
		closeConn(conn);
		return false;
	}
	conn.upgraded = true;
	conn.out +=
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
	conn.out += acceptKey(key);
	conn.out += "\r\n\r\n";
	conn.out.append(OPEN_FRAME, sizeof(OPEN_FRAME) - 1);
	markDirty(conn);
	conn.id = queryId(request);
	if (!conn.id.empty())
	{
		auto existing = _byId.find(conn.id);
		if (existing != _byId.end() && existing->second != &conn)
			closeConn(*existing->second);
		_byId[conn.id] = &conn;
		auto partner = _byId.find(partnerOf(conn.id));
		if (partner != _byId.end())
		{
			conn.partner = partner->second;
			partner->second->partner = &conn;
		}
	}
	return true;
}


std::size_t RawRelay::relay(Conn& conn, char* data, std::size_t size)
{
	std::size_t offset = 0;
	while (size - offset >= 2)
	{
		const unsigned char* p = reinterpret_cast<const unsigned char*>(data + offset);
		const std::size_t avail = size - offset;
		std::uint64_t length = p[1] & 0x7F;
		std::size_t header = 2;
		if (length == 126)
		{
			if (avail < 4)
				break;
			length = (std::uint64_t(p[2]) << 8) | p[3];
			header = 4;
		}
		else if (length == 127)
		{
			if (avail < 10)
				break;
			length = 0;
			for (int i = 2; i < 10; ++i)
				length = (length << 8) | p[i];
			header = 10;
		}
		if (!(p[1] & 0x80) || length > MAX_PAYLOAD)
		{
			closeConn(conn); // unmasked client frame or oversized: not worth more than a close here
			return size;
		}
		const unsigned char* key = p + header;
		header += 4;
		if (avail < header + length)
			break;
		const int opcode = p[0] & 0x0F;
		char* payload = data + offset + header;
		const std::size_t n = static_cast<std::size_t>(length);
		offset += header + n;
		if (opcode == 0x8)
		{
			conn.out.append("\x88\x00", 2);
			flush(conn);
			closeConn(conn);
			return size;
		}
		if (opcode == 0x9)
		{
			appendServerHeader(conn.out, 0x8A, n);
			const std::size_t at = conn.out.size();
			conn.out.resize(at + n);
			unmaskInto(&conn.out[at], payload, n, key);
			markDirty(conn);
			continue;
		}
		if (opcode == 0xA)
			continue;
		Conn* to = conn.partner;
		if (n == sizeof(HEARTBEAT) - 1)
		{
			char plain[sizeof(HEARTBEAT)];
			unmaskInto(plain, payload, n, key);
			if (std::memcmp(plain, HEARTBEAT, n) == 0)
				continue;
		}
		if (!to || to->closing)
			continue;
		if (to->out.size() - to->outOff > MAX_OUTPUT)
		{
			closeConn(*to); // a consumer that stopped reading
			continue;
		}
		appendServerHeader(to->out, p[0], n);
		const std::size_t at = to->out.size();
		to->out.resize(at + n);
		unmaskInto(&to->out[at], payload, n, key);
		markDirty(*to);
	}
	return offset;
}


void RawRelay::markDirty(Conn& conn)
{
	if (!conn.dirty)
	{
		conn.dirty = true;
		_dirty.push_back(&conn);
	}
}


void RawRelay::flush(Conn& conn)
{
	while (conn.outOff < conn.out.size())
	{
		const ssize_t n =
		    ::send(conn.fd, conn.out.data() + conn.outOff, conn.out.size() - conn.outOff, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0)
		{
			conn.outOff += static_cast<std::size_t>(n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		closeConn(conn);
		return;
	}
	if (conn.outOff == conn.out.size())
	{
		conn.out.clear();
		conn.outOff = 0;
	}
	else if (conn.outOff > (std::size_t(1) << 20))
	{
		conn.out.erase(0, conn.outOff);
		conn.outOff = 0;
	}
	updateInterest(conn);
}


void RawRelay::updateInterest(Conn& conn)
{
	const std::uint32_t want = EPOLLIN | (conn.outOff < conn.out.size() ? EPOLLOUT : 0u);
	if (want == conn.interest || conn.closing)
		return;
	conn.interest = want;
	epoll_event ev{};
	ev.events = want;
	ev.data.fd = conn.fd;
	epoll_ctl(_epoll, EPOLL_CTL_MOD, conn.fd, &ev);
}


void RawRelay::closeConn(Conn& conn)
{
	if (conn.closing)
		return;
	conn.closing = true;
	epoll_ctl(_epoll, EPOLL_CTL_DEL, conn.fd, nullptr);
	if (conn.partner)
	{
		conn.partner->partner = nullptr;
		conn.partner = nullptr;
	}
	auto it = _byId.find(conn.id);
	if (it != _byId.end() && it->second == &conn)
		_byId.erase(it);
	// Closed and freed after this iteration: pointers to it may still be in the dirty list.
	_closed.push_back(&conn);
}


} // namespace Bench
} // namespace Switchboard
