//
// WsConnection.cpp
//


#include "net/WsConnection.h"
#include "net/EventLoop.h"
#include "net/Transport.h"
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <sys/socket.h>
#include <sys/uio.h>


namespace Switchboard {
namespace Core {


namespace {
constexpr int MAX_IOVECS = 64;
constexpr int READ_ROUNDS = 4; // per readiness event: fairness between connections of a loop
constexpr std::size_t MAX_CHUNK_BYTES = 64 * 1024;
} // namespace


WsConnection::WsConnection(EventLoop& loop, ConnectionId id, const Endpoint& endpoint, Poco::Net::StreamSocket socket,
                           std::string remoteAddress, std::int64_t maxMessageSize):
    _loop(loop),
    _id(id),
    _pEndpoint(&endpoint),
    _socket(std::move(socket)),
    _fd(_socket.impl()->sockfd()),
    _remoteAddress(std::move(remoteAddress)),
    _decoder(WS::Role::SERVER, static_cast<std::size_t>(maxMessageSize)),
    _idleTimeoutMs(endpoint.idleTimeoutMs),
    _pingIntervalMs(endpoint.pingIntervalMs)
{
	_timer.owner = this;
	_timer.fire = &WsConnection::onTimer;
}


WsConnection::~WsConnection()
{
	_loop.wheel().cancel(_timer);
}


template <class Fn>
void WsConnection::callPlugin(PluginSite site, Fn&& fn)
{
	// The plugin's guard logs and counts; the policy for connection callbacks is to close with 1011.
	if (!_pEndpoint->owner->guarded(site, std::forward<Fn>(fn)) && _state == State::OPEN)
		close(CloseCode::INTERNAL_ERROR, "internal error");
}


void WsConnection::open(const HttpRequest& request, std::string& initialBytes)
{
	_lastActivityMs = _loop.now();
	_loop.poller().add(_socket, pollToken(), false);
	_opened = true;
	callPlugin(PluginSite::OPEN, [&] { _pEndpoint->handler->onOpen(*this, request); });
	if (!initialBytes.empty() && _state != State::DONE)
		_decoder.feed(initialBytes.data(), initialBytes.size(), *this);
	if (_state != State::DONE)
		scheduleDeadline();
}


SendResult WsConnection::send(std::string_view data, MessageKind kind)
{
	if (_state != State::OPEN)
		return SendResult::CLOSED;
	if (_queuedBytes + data.size() > _pEndpoint->maxOutputQueue)
	{
		// A consumer this far behind is not reading: drop it rather than grow or slow others.
		if (auto* c = _loop.transport().counters().slowConsumerCloses)
			c->increment();
		abort(CloseCode::POLICY_VIOLATION, "slow consumer");
		return SendResult::DROPPED;
	}
	enqueueFrame(kind == MessageKind::TEXT ? WS::TEXT : WS::BINARY, data.data(), data.size(), false);
	if (auto* c = _loop.transport().counters().messagesOut)
		c->increment();
	return SendResult::QUEUED;
}


SendResult WsConnection::sendShared(const std::shared_ptr<const std::string>& frame)
{
	if (_state != State::OPEN)
		return SendResult::CLOSED;
	if (_queuedBytes + frame->size() > _pEndpoint->maxOutputQueue)
	{
		if (auto* c = _loop.transport().counters().slowConsumerCloses)
			c->increment();
		abort(CloseCode::POLICY_VIOLATION, "slow consumer");
		return SendResult::DROPPED;
	}
	Chunk chunk;
	chunk.shared = frame;
	_out.push_back(std::move(chunk));
	_queuedBytes += frame->size();
	markDirty();
	checkWatermarks();
	if (auto* c = _loop.transport().counters().messagesOut)
		c->increment();
	return SendResult::QUEUED;
}


bool WsConnection::enqueueFrame(WS::Opcode opcode, const char* payload, std::size_t length, bool control)
{
	char header[14];
	std::size_t headerLength = WS::encodeHeader(header, opcode, true, length, nullptr);
	Chunk* target;
	if (control && !_out.empty())
	{
		// A pong overtakes queued data, but never splits a frame that is partly written.
		std::size_t at = _out.front().offset > 0 ? 1 : 0;
		target = &*_out.insert(_out.begin() + static_cast<std::ptrdiff_t>(at), Chunk());
	}
	else
	{
		// A new chunk every 64 KiB: a long queue (a slow reader) then grows without copying
		// megabytes on the loop thread each time one string doubles.
		if (_out.empty() || _out.back().shared || _out.back().owned.size() >= MAX_CHUNK_BYTES)
			_out.emplace_back();
		target = &_out.back();
	}
	target->owned.append(header, headerLength);
	if (length > 0)
		target->owned.append(payload, length);
	_queuedBytes += headerLength + length;
	markDirty();
	checkWatermarks();
	return true;
}


void WsConnection::markDirty()
{
	if (!_dirty)
	{
		_dirty = true;
		_loop.markDirty(this);
	}
}


void WsConnection::checkWatermarks()
{
	const TransportSettings& s = _loop.transport().settings();
	bool change = false;
	if (!_aboveHighWatermark && _queuedBytes > s.highWatermark)
		_aboveHighWatermark = change = true;
	else if (_aboveHighWatermark && _queuedBytes < s.lowWatermark)
	{
		_aboveHighWatermark = false;
		change = true;
	}
	if (!change || _state != State::OPEN)
		return;
	// Reported from the loop, not from inside the send() that crossed the mark, so a plugin never
	// re-enters its own code while holding its locks.
	bool above = _aboveHighWatermark;
	ConnectionId id = _id;
	EventLoop* loop = &_loop;
	_loop.post([loop, id, above] {
		WsConnection* c = loop->find(id);
		if (c && c->_state == State::OPEN)
			c->callPlugin(PluginSite::BACKPRESSURE, [&] { c->_pEndpoint->handler->onBackpressure(*c, above); });
	});
}


void WsConnection::flush()
{
	_dirty = false;
	if (_state == State::DONE)
		return;
	while (_queuedBytes > 0)
	{
		iovec iov[MAX_IOVECS];
		int count = 0;
		for (std::size_t i = 0; i < _out.size() && count < MAX_IOVECS; ++i)
		{
			const Chunk& c = _out[i];
			if (c.size() == c.offset)
				continue;
			iov[count].iov_base = const_cast<char*>(c.data() + c.offset);
			iov[count].iov_len = c.size() - c.offset;
			++count;
		}
		msghdr message{};
		message.msg_iov = iov;
		message.msg_iovlen = static_cast<std::size_t>(count);
		ssize_t written = ::sendmsg(_fd, &message, MSG_NOSIGNAL); // a vanished peer must not raise SIGPIPE
		if (written < 0)
		{
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			finish(_state == State::OPEN ? CloseCode::ABNORMAL : _reportCode, "write failed");
			return;
		}
		if (auto* c = _loop.transport().counters().bytesOut)
			c->increment(static_cast<std::uint64_t>(written));
		std::size_t left = static_cast<std::size_t>(written);
		_queuedBytes -= left;
		std::size_t done = 0;
		while (done < _out.size() && left > 0)
		{
			Chunk& c = _out[done];
			std::size_t rest = c.size() - c.offset;
			if (left >= rest)
			{
				left -= rest;
				++done;
			}
			else
			{
				c.offset += left;
				left = 0;
			}
		}
		while (done < _out.size() && _out[done].size() == _out[done].offset)
			++done; // empty chunks left by an inserted control frame
		_out.erase(_out.begin(), _out.begin() + static_cast<std::ptrdiff_t>(done));
	}
	bool pending = _queuedBytes > 0;
	if (pending != _writeArmed)
	{
		_writeArmed = pending;
		_loop.poller().update(_socket, pollToken(), pending);
	}
	if (!pending)
	{
		if (_out.capacity() > 16)
			std::vector<Chunk>().swap(_out); // give a burst's memory back; idle connections stay small
		else
			_out.clear();
	}
	checkWatermarks();
	if (!pending && _finishAfterFlush)
		finish(_reportCode, _reportReason);
}


void WsConnection::onWritable()
{
	flush();
}


void WsConnection::onReadable(char* scratch, std::size_t scratchSize)
{
	for (int round = 0; round < READ_ROUNDS && _state != State::DONE; ++round)
	{
		ssize_t n = ::recv(_fd, scratch, scratchSize, 0);
		if (n > 0)
		{
			_lastActivityMs = _loop.now();
			if (auto* c = _loop.transport().counters().bytesIn)
				c->increment(static_cast<std::uint64_t>(n));
			if (!_decoder.stopped())
				_decoder.feed(scratch, static_cast<std::size_t>(n), *this);
			if (static_cast<std::size_t>(n) < scratchSize)
				return;
			continue;
		}
		if (n == 0)
		{
			finish(_state == State::OPEN ? CloseCode::ABNORMAL : _reportCode,
			       _state == State::OPEN ? "connection lost" : _reportReason);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			finish(_state == State::OPEN ? CloseCode::ABNORMAL : _reportCode, "read failed");
		return;
	}
}


void WsConnection::onMessage(bool isText, const char* data, std::size_t len)
{
	if (_state != State::OPEN)
		return; // after our close frame, data is read only to find the peer's close
	if (auto* c = _loop.transport().counters().messagesIn)
		c->increment();
	callPlugin(PluginSite::MESSAGE, [&] {
		_pEndpoint->handler->onMessage(*this, std::string_view(data, len),
		                               isText ? MessageKind::TEXT : MessageKind::BINARY);
	});
}


void WsConnection::onPing(const char* data, std::size_t len)
{
	if (_state == State::OPEN)
		enqueueFrame(WS::PONG, data, len, true);
}


void WsConnection::onPong(const char*, std::size_t)
{
	// Activity is recorded for every inbound byte; an unsolicited pong needs nothing more.
}


void WsConnection::onClose(std::uint16_t code, const char* reason, std::size_t reasonLen)
{
	if (_state == State::OPEN)
	{
		leaveOpen(code, std::string_view(reason, reasonLen));
		sendCloseFrame(code == CloseCode::NO_STATUS ? CloseCode::NONE : code, {});
		_finishAfterFlush = true; // the server closes TCP once its reply is written
		_closeDeadlineMs = _loop.now() + _loop.transport().settings().closeTimeoutMs;
		scheduleDeadline();
	}
	else if (_state == State::CLOSING)
	{
		finish(_reportCode, _reportReason);
	}
}


void WsConnection::onProtocolError(std::uint16_t closeCode, const char* reason)
{
	if (auto* c = _loop.transport().counters().protocolErrors)
		c->increment();
	if (_state == State::OPEN)
	{
		leaveOpen(closeCode, reason);
		sendCloseFrame(closeCode, reason);
		_finishAfterFlush = true;
		_closeDeadlineMs = _loop.now() + _loop.transport().settings().closeTimeoutMs;
		scheduleDeadline();
	}
	else
	{
		finish(_reportCode, _reportReason);
	}
}


void WsConnection::sendCloseFrame(std::uint16_t code, std::string_view reason)
{
	std::string payload = code == CloseCode::NONE ? std::string() : WS::closePayload(code, reason);
	enqueueFrame(WS::CLOSE, payload.data(), payload.size(), false);
}


void WsConnection::close(std::uint16_t code, std::string_view reason)
{
	if (_state != State::OPEN)
		return;
	leaveOpen(code == CloseCode::NONE ? CloseCode::NO_STATUS : code, reason);
	sendCloseFrame(code, reason);
	_closeDeadlineMs = _loop.now() + _loop.transport().settings().closeTimeoutMs;
	scheduleDeadline();
}


void WsConnection::abort(std::uint16_t reportedCode, std::string_view reason)
{
	if (_abortPending || _state == State::DONE)
		return;
	_abortPending = true;
	if (_state == State::OPEN)
		leaveOpen(reportedCode, reason); // sends fail from now on
	_loop.deferAbort(this);
}


void WsConnection::finish(std::uint16_t reportedCode, std::string_view reason)
{
	if (_state == State::DONE)
		return;
	if (_state == State::OPEN)
	{
		_reportCode = reportedCode;
		_reportReason = std::string(reason);
	}
	_state = State::DONE;
	_decoder.stop();
	_loop.wheel().cancel(_timer);
	_loop.poller().remove(_socket);
	try
	{
		_socket.close();
	}
	catch (Poco::Exception&)
	{
	}
	_out.clear();
	_queuedBytes = 0;
	_pEndpoint->owner->connectionFinished(_id);
	_loop.transport().connectionClosed();
	reportClose(); // not inside a plugin call: finish is reached from the loop, never from a callback
	_loop.retire(this);
}


void WsConnection::leaveOpen(std::uint16_t code, std::string_view reason)
{
	_state = State::CLOSING;
	_reportCode = code;
	_reportReason = std::string(reason);
	// Reported from the loop after the current callback, so a plugin closing a connection (its own
	// or another on this loop) is never re-entered from inside that call.
	_loop.deferCloseReport(this);
}


void WsConnection::reportClose()
{
	if (_closeReported || !_opened)
		return;
	_closeReported = true;
	std::string reason = _reportReason;
	callPlugin(PluginSite::CLOSE, [&] { _pEndpoint->handler->onClose(*this, _reportCode, reason); });
}


void WsConnection::scheduleDeadline()
{
	if (_state == State::DONE)
		return;
	std::int64_t due = std::numeric_limits<std::int64_t>::max();
	if (_state == State::CLOSING)
		due = _closeDeadlineMs;
	else
	{
		if (_idleTimeoutMs > 0)
			due = std::min(due, _lastActivityMs + _idleTimeoutMs);
		if (_pingIntervalMs > 0)
			due = std::min(due, std::max(_lastActivityMs, _pingSentMs) + _pingIntervalMs);
	}
	if (due == std::numeric_limits<std::int64_t>::max())
		_loop.wheel().cancel(_timer);
	else
		_loop.wheel().schedule(_timer, due);
}


void WsConnection::onTimer(TimerNode* node)
{
	static_cast<WsConnection*>(node->owner)->handleTimer();
}


void WsConnection::handleTimer()
{
	std::int64_t now = _loop.now();
	if (_state == State::CLOSING)
	{
		if (now >= _closeDeadlineMs)
			finish(_reportCode, _reportReason.empty() ? std::string_view("close timeout") : _reportReason);
		else
			scheduleDeadline();
		return;
	}
	if (_state != State::OPEN)
		return;
	if (_idleTimeoutMs > 0 && now - _lastActivityMs >= _idleTimeoutMs)
	{
		if (auto* c = _loop.transport().counters().idleCloses)
			c->increment();
		std::uint16_t code = _pEndpoint->idleCloseCode;
		close(code, code == CloseCode::NONE ? std::string_view() : std::string_view("idle timeout"));
		return;
	}
	if (_pingIntervalMs > 0 && now - std::max(_lastActivityMs, _pingSentMs) >= _pingIntervalMs)
	{
		_pingSentMs = now;
		enqueueFrame(WS::PING, nullptr, 0, true);
	}
	scheduleDeadline();
}


} // namespace Core
} // namespace Switchboard
