//
// WsConnection.cpp
//


#include "net/WsConnection.h"
#include "net/EventLoop.h"
#include "net/Transport.h"
#include "net/SocketIo.h"
#include <algorithm>
#include <limits>


namespace Switchboard {
namespace Core {


namespace {
constexpr int MAX_IOVECS = 64;
constexpr int READ_ROUNDS = 4; // per readiness event: fairness between connections of a loop

std::size_t serverFrameSize(std::size_t payloadLength)
{
	// Server frames are not masked.
	return payloadLength + (payloadLength <= 125 ? 2 : payloadLength <= 0xFFFF ? 4 : 10);
}
} // namespace


WsConnection::WsConnection(EventLoop& loop, ConnectionId id, const Endpoint& endpoint, Poco::Net::StreamSocket socket,
                           std::unique_ptr<TlsSession> tls, std::string remoteAddress, std::int64_t maxMessageSize):
    _loop(loop),
    _id(id),
    _pEndpoint(&endpoint),
    _socket(std::move(socket)),
    _fd(_socket.impl()->sockfd()),
    _tls(std::move(tls)),
    _remoteAddress(std::move(remoteAddress)),
    _decoder(WS::Role::SERVER, static_cast<std::size_t>(maxMessageSize)),
    _offenderThreshold(std::max<std::size_t>(
        1, std::min(static_cast<std::size_t>(maxMessageSize) / 4, loop.transport().settings().highWatermark))),
    _idleTimeoutMs(endpoint.idleTimeoutMs),
    _pingIntervalMs(endpoint.pingIntervalMs),
    _fragmentTimeoutMs(loop.transport().settings().fragmentTimeoutMs),
    _closeTimeoutMs(endpoint.closeTimeoutMs >= 0 ? endpoint.closeTimeoutMs
                                                 : loop.transport().settings().closeTimeoutMs),
    _sendStallTimeoutMs(endpoint.sendStallTimeoutMs >= 0 ? endpoint.sendStallTimeoutMs
                                                         : loop.transport().settings().sendStallTimeoutMs)
{
	_timer.owner = this;
	_timer.fire = &WsConnection::onTimer;
	_budgetAccount.id = id;
	_decoder.setCheckText(!endpoint.acceptInvalidText);
}


WsConnection::~WsConnection()
{
	_loop.wheel().cancel(_timer);
	_loop.transport().memoryBudget().release(_budgetAccount);
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
	_lastWriteMs = _lastActivityMs;
	_pingSentMs = _lastActivityMs; // the first scheduled ping is one interval after the open
	_loop.poller().add(_socket, pollToken(), false);
	_opened = true;
	callPlugin(PluginSite::OPEN, [&] { _pEndpoint->handler->onOpen(*this, request); });
	if (!initialBytes.empty() && _state != State::DONE)
	{
		_decoder.feed(initialBytes.data(), initialBytes.size(), *this);
		accountMemory();
	}
	if (_tls && _tls->hasBufferedInput() && _state != State::DONE)
		readTls(_loop.scratch(), _loop.scratchSize()); // read with the upgrade: no readiness will tell
	if (_state != State::DONE)
		scheduleDeadline();
}


bool WsConnection::fitsOutput(std::size_t frameBytes) const
{
	return _queue.size() + frameBytes <= _pEndpoint->maxOutputQueue;
}


void WsConnection::closeSlowConsumer()
{
	// A consumer this far behind is not reading: drop it rather than grow or slow others.
	if (_abortPending || _state == State::DONE)
		return;
	if (auto* c = _loop.transport().counters().slowConsumerCloses)
		c->increment();
	const Endpoint& endpoint = *_pEndpoint;
	if (endpoint.overflowCloseSent && _state == State::OPEN)
	{
		// The plugin named its own close: drop what the peer has not started to read, put the
		// close frame right behind it and give it the close timeout to be written (a peer that
		// reads again sees it); TCP goes once it is written, or at the deadline.
		_queue.discardUnstarted();
		const std::uint16_t code = endpoint.overflowCloseCode;
		const std::string_view reason =
		    code == CloseCode::NONE ? std::string_view() : std::string_view(endpoint.overflowCloseReason);
		if (startClose(code == CloseCode::NONE ? CloseCode::NO_STATUS : code, reason, code, reason))
		{
			_finishAfterFlush = true;
			checkWatermarks();
			return;
		}
	}
	abort(endpoint.overflowCloseCode == CloseCode::NONE ? CloseCode::NO_STATUS : endpoint.overflowCloseCode,
	      endpoint.overflowCloseReason);
}


void WsConnection::completeAbort()
{
	finish(_reportCode, _reportReason);
}


bool WsConnection::fitsMessage() const
{
	// The hot path without a message limit: one compare.
	return _pEndpoint->maxOutputMessages == 0 || _queue.messageCount() < _pEndpoint->maxOutputMessages;
}


SendResult WsConnection::send(std::string_view data, MessageKind kind)
{
	if (_state != State::OPEN)
		return SendResult::CLOSED;
	if (!fitsOutput(serverFrameSize(data.size())) || !fitsMessage())
	{
		closeSlowConsumer();
		return SendResult::DROPPED;
	}
	queueData(kind == MessageKind::TEXT ? WS::TEXT : WS::BINARY, data.data(), data.size());
	if (_pEndpoint->maxOutputMessages != 0)
		_queue.markMessage();
	if (auto* c = _loop.transport().counters().messagesOut)
		c->increment();
	if (_pEndpoint->pluginMessagesOut)
		_pEndpoint->pluginMessagesOut->increment();
	return SendResult::QUEUED;
}


SendResult WsConnection::sendShared(const std::shared_ptr<const std::string>& frame)
{
	if (_state != State::OPEN)
		return SendResult::CLOSED;
	if (!fitsOutput(frame->size()) || !fitsMessage())
	{
		closeSlowConsumer();
		return SendResult::DROPPED;
	}
	_queue.appendShared(frame);
	if (_pEndpoint->maxOutputMessages != 0)
		_queue.markMessage();
	queued();
	if (auto* c = _loop.transport().counters().messagesOut)
		c->increment();
	if (_pEndpoint->pluginMessagesOut)
		_pEndpoint->pluginMessagesOut->increment();
	return SendResult::QUEUED;
}


void WsConnection::queueData(WS::Opcode opcode, const char* payload, std::size_t length, bool ownChunk)
{
	char header[WS::MAX_HEADER_SIZE];
	std::size_t headerLength = WS::encodeHeader(header, opcode, true, length, nullptr);
	_queue.appendFrame(header, headerLength, payload, length, ownChunk);
	queued();
}


bool WsConnection::queueControl(WS::Opcode opcode, const char* payload, std::size_t length)
{
	// Pongs count like data: a peer that pings without reading reaches the cap like any other.
	if (!fitsOutput(serverFrameSize(length)))
	{
		closeSlowConsumer();
		return false;
	}
	char header[WS::MAX_HEADER_SIZE];
	std::size_t headerLength = WS::encodeHeader(header, opcode, true, length, nullptr);
	_queue.appendControl(header, headerLength, payload, length);
	queued();
	return true;
}


void WsConnection::queued()
{
	markDirty();
	checkWatermarks();
	accountMemory();
}


void WsConnection::markDirty()
{
	if (!_dirty)
	{
		_dirty = true;
		_loop.markDirty(this);
	}
}


void WsConnection::accountMemory()
{
	_loop.transport().memoryBudget().update(_budgetAccount, _queue.size() + _decoder.bufferedBytes(), _loop.now(),
	                                        _offenderThreshold);
}


void WsConnection::checkWatermarks()
{
	const TransportSettings& s = _loop.transport().settings();
	std::size_t queuedBytes = _queue.size();
	bool change = false;
	if (!_aboveHighWatermark && queuedBytes > s.highWatermark)
		_aboveHighWatermark = change = true;
	else if (_aboveHighWatermark && queuedBytes < s.lowWatermark)
	{
		_aboveHighWatermark = false;
		change = true;
	}
	if (!change || _state == State::DONE)
		return;
	// Not read while its output is backed up: what the peer sends (requests, pings) would only
	// queue more.
	_readPaused = _aboveHighWatermark;
	if (_readPaused)
		_readPausedSinceMs = _loop.now();
	else if (_messageOpen)
		_messageStartMs += _loop.now() - _readPausedSinceMs; // the peer could not finish it meanwhile
	applyInterest();
	scheduleDeadline();
	if (_state != State::OPEN)
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


void WsConnection::applyInterest()
{
	if (_opened && _state != State::DONE)
		_loop.poller().setInterest(_socket, pollToken(), !_readPaused, _writeArmed);
}


void WsConnection::flush()
{
	_dirty = false;
	if (_state == State::DONE)
		return;
	if (!(_tls ? writeQueuedTls() : writeQueued()))
		return; // finished: the write failed
	bool pending = !_queue.empty() || (_tls && (_tls->hasPendingOutput() || _tls->wantsWritable()));
	if (pending != _writeArmed)
	{
		_writeArmed = pending;
		applyInterest();
	}
	checkWatermarks();
	accountMemory();
	if (_readPaused && _state == State::OPEN && unreadInput() > _pEndpoint->maxOutputQueue)
		closeSlowConsumer(); // the kernel took too little to resume reading, and it keeps sending
	if (_finishAfterFlush && _queue.empty() && !(_tls && _tls->hasPendingOutput()))
		finish(_reportCode, _reportReason);
}


bool WsConnection::writeQueued()
{
	while (!_queue.empty())
	{
		iovec iov[MAX_IOVECS];
		int count = _queue.gather(iov, MAX_IOVECS);
		long written = SocketIo::sendPieces(_fd, iov, count);
		if (written < 0)
		{
			SocketIo::Failure failure = SocketIo::lastFailure();
			if (failure == SocketIo::Failure::INTERRUPTED)
				continue;
			if (failure == SocketIo::Failure::WOULD_BLOCK)
				break;
			finish(_state == State::OPEN ? CloseCode::ABNORMAL : _reportCode, "write failed");
			return false;
		}
		if (auto* c = _loop.transport().counters().bytesOut)
			c->increment(static_cast<std::uint64_t>(written));
		_queue.consume(static_cast<std::size_t>(written));
		_lastWriteMs = _loop.now();
	}
	return true;
}


bool WsConnection::writeQueuedTls()
{
	// The session takes a record's worth of queued frames at a time; a record the kernel did
	// not take stays in the session (hasPendingOutput) and goes first next time.
	TlsSession::Io io = _tls->flushPending();
	while (io == TlsSession::Io::OK && !_queue.empty())
	{
		iovec iov[MAX_IOVECS];
		int count = _queue.gather(iov, MAX_IOVECS);
		std::size_t taken = 0;
		io = _tls->write(iov, count, taken);
		if (taken > 0)
		{
			if (auto* c = _loop.transport().counters().bytesOut)
				c->increment(taken);
			_queue.consume(taken);
			_lastWriteMs = _loop.now();
		}
		if (_tls->hasPendingOutput())
			break; // the kernel is full: wait for writability
	}
	if (io == TlsSession::Io::CLOSED || io == TlsSession::Io::FAILED)
	{
		finish(_state == State::OPEN ? CloseCode::ABNORMAL : _reportCode, "write failed");
		return false;
	}
	return true;
}


std::size_t WsConnection::unreadInput() const
{
	return SocketIo::unreadBytes(_fd);
}


void WsConnection::onWritable()
{
	if (_tls && _tls->wantsWritable())
	{
		readTls(_loop.scratch(), _loop.scratchSize()); // a read step waited for writability
		if (_state == State::DONE)
			return;
	}
	flush();
}


void WsConnection::onReadable(char* scratch, std::size_t scratchSize)
{
	// While paused, readiness means a hang-up or error (reported whatever the interest) or an
	// event from before the pause: one read finds the EOF or error without reading much more.
	if (_tls)
	{
		readTls(scratch, scratchSize);
		return;
	}
	for (int round = 0; round < READ_ROUNDS && _state != State::DONE; ++round)
	{
		long n = SocketIo::receiveBytes(_fd, scratch, scratchSize, false);
		if (n > 0)
		{
			readBytes(scratch, static_cast<std::size_t>(n));
			if (static_cast<std::size_t>(n) < scratchSize || _readPaused)
				return;
			continue;
		}
		if (n == 0)
		{
			finish(_state == State::OPEN ? CloseCode::ABNORMAL : _reportCode,
			       _state == State::OPEN ? "connection lost" : _reportReason);
			return;
		}
		SocketIo::Failure failure = SocketIo::lastFailure();
		if (failure == SocketIo::Failure::INTERRUPTED)
			continue;
		if (failure != SocketIo::Failure::WOULD_BLOCK)
			finish(_state == State::OPEN ? CloseCode::ABNORMAL : _reportCode, "read failed");
		return;
	}
}


void WsConnection::readBytes(char* data, std::size_t length)
{
	_lastActivityMs = _loop.now();
	if (auto* c = _loop.transport().counters().bytesIn)
		c->increment(static_cast<std::uint64_t>(length));
	if (_decoder.stopped())
		return;
	_decoder.feed(data, length, *this);
	accountMemory();
	if (_messageOpen && !_messageDeadlineArmed && _fragmentTimeoutMs > 0 && _state == State::OPEN)
	{
		_messageDeadlineArmed = true;
		scheduleDeadline();
	}
}


void WsConnection::readTls(char* scratch, std::size_t scratchSize)
{
	// What one read from the socket brought, all of it, even while paused: the poller cannot
	// see what OpenSSL holds (bounded by its read buffer). More on the socket comes back as
	// readiness (level-triggered), so no read ends in EAGAIN.
	TlsSession::Io io;
	do
	{
		std::size_t got = 0;
		io = _tls->read(scratch, scratchSize, got);
		if (io == TlsSession::Io::OK)
			readBytes(scratch, got);
	} while (io == TlsSession::Io::OK && _state != State::DONE && _tls->hasBufferedInput());
	if (_state == State::DONE)
		return;
	if (io == TlsSession::Io::CLOSED)
		finish(_state == State::OPEN ? CloseCode::ABNORMAL : _reportCode,
		       _state == State::OPEN ? "connection lost" : _reportReason);
	else if (io == TlsSession::Io::FAILED)
		finish(_state == State::OPEN ? CloseCode::ABNORMAL : _reportCode, "read failed");
	else if (_tls->wantsWritable() && !_writeArmed)
	{
		_writeArmed = true; // a read step (a TLS 1.3 key update reply) waits for writability
		applyInterest();
	}
}


void WsConnection::onMessageBegin()
{
	_messageOpen = true;
	_messageStartMs = _loop.now();
}


void WsConnection::onMessage(bool isText, const char* data, std::size_t len)
{
	_messageOpen = false;
	_messageDeadlineArmed = false; // a timer already set for it finds nothing due and re-arms
	if (_state != State::OPEN)
		return; // after our close frame, data is read only to find the peer's close
	if (auto* c = _loop.transport().counters().messagesIn)
		c->increment();
	if (_pEndpoint->pluginMessagesIn)
		_pEndpoint->pluginMessagesIn->increment();
	callPlugin(PluginSite::MESSAGE, [&] {
		_pEndpoint->handler->onMessage(*this, std::string_view(data, len),
		                               isText ? MessageKind::TEXT : MessageKind::BINARY);
	});
}


std::int64_t WsConnection::pingBaseMs() const
{
	return _pEndpoint->pingOnSchedule ? _pingSentMs : std::max(_lastActivityMs, _pingSentMs);
}


void WsConnection::onPing(const char* data, std::size_t len)
{
	if (_state != State::OPEN)
		return;
	if (!_pEndpoint->deliverPings)
	{
		queueControl(WS::PONG, data, len);
		return;
	}
	callPlugin(PluginSite::MESSAGE,
	           [&] { _pEndpoint->handler->onMessage(*this, std::string_view(data, len), MessageKind::PING); });
}


SendResult WsConnection::sendPong(std::string_view payload)
{
	if (_state != State::OPEN)
		return SendResult::CLOSED;
	const std::size_t length = std::min<std::size_t>(payload.size(), WS::MAX_CONTROL_PAYLOAD);
	return queueControl(WS::PONG, payload.data(), length) ? SendResult::QUEUED : SendResult::DROPPED;
}


void WsConnection::onPong(const char*, std::size_t)
{
	// Activity is recorded for every inbound byte; an unsolicited pong needs nothing more.
}


void WsConnection::onClose(std::uint16_t code, const char* reason, std::size_t reasonLen)
{
	if (_state == State::OPEN)
	{
		// The server closes TCP once its reply is written.
		if (startClose(code, std::string_view(reason, reasonLen), code == CloseCode::NO_STATUS ? CloseCode::NONE : code,
		               {}))
			_finishAfterFlush = true;
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
	if (_state != State::OPEN)
	{
		finish(_reportCode, _reportReason);
		return;
	}
	// Invalid UTF-8 text closes as the endpoint asks (its code, its reason else the decoder's).
	const Endpoint& endpoint = *_pEndpoint;
	const bool invalidText = closeCode == CloseCode::INVALID_PAYLOAD && _decoder.invalidText();
	std::uint16_t code = invalidText && endpoint.invalidTextCloseCode >= 0
	                         ? static_cast<std::uint16_t>(endpoint.invalidTextCloseCode)
	                         : closeCode;
	std::string_view text = code == CloseCode::NONE ? std::string_view()
	                        : invalidText && !endpoint.invalidTextCloseReason.empty()
	                            ? std::string_view(endpoint.invalidTextCloseReason)
	                            : std::string_view(reason);
	if (startClose(code == CloseCode::NONE ? CloseCode::NO_STATUS : code, text, code, text))
		_finishAfterFlush = true;
}


bool WsConnection::startClose(std::uint16_t reportCode, std::string_view reportReason, std::uint16_t frameCode,
                              std::string_view frameReason)
{
	std::string payload = frameCode == CloseCode::NONE ? std::string() : WS::closePayload(frameCode, frameReason);
	if (!fitsOutput(serverFrameSize(payload.size())))
	{
		closeSlowConsumer(); // no room even for the close frame: cut TCP
		return false;
	}
	leaveOpen(reportCode, reportReason);
	// Its own chunk: no pong queued earlier may be written after it.
	queueData(WS::CLOSE, payload.data(), payload.size(), true);
	const bool shuttingDown = _pEndpoint->shutdownCloseTimeoutMs >= 0 && _loop.transport().shuttingDown();
	_closeDeadlineMs = _loop.now() + (shuttingDown ? _pEndpoint->shutdownCloseTimeoutMs : _closeTimeoutMs);
	scheduleDeadline();
	return true;
}


void WsConnection::close(std::uint16_t code, std::string_view reason)
{
	if (_state != State::OPEN)
		return;
	startClose(code == CloseCode::NONE ? CloseCode::NO_STATUS : code, reason, code, reason);
}


void WsConnection::closeForMemoryBudget()
{
	if (_state == State::DONE)
		return;
	if (auto* c = _loop.transport().counters().memoryBudgetCloses)
		c->increment();
	// Give the memory back now, not after the close handshake: the budget is waiting for it.
	_queue.discardUnstarted();
	_decoder.discard();
	_messageOpen = false;
	accountMemory();
	_loop.transport().memoryBudget().settle(_budgetAccount);
	if (_state != State::OPEN)
	{
		finish(_reportCode, _reportReason);
		return;
	}
	if (startClose(CloseCode::POLICY_VIOLATION, "server memory budget exceeded", CloseCode::POLICY_VIOLATION,
	               "server memory budget exceeded"))
		_finishAfterFlush = true; // nothing more is read, so no close reply will be seen
	checkWatermarks();
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
	if (_tls)
		_tls->shutdown(); // close_notify, when it fits without blocking
	try
	{
		_socket.close();
	}
	catch (Poco::Exception&)
	{
	}
	_queue.clear();
	_loop.transport().memoryBudget().release(_budgetAccount);
	_pEndpoint->owner->connectionFinished(_id);
	_loop.transport().connectionClosed();
	if (_pEndpoint->pluginConnections)
		_pEndpoint->pluginConnections->add(-1);
	// The client's place in the HTTP front's count is free as soon as the socket is closed.
	_heldUntilClosed.reset();
	reportClose(); // not inside a plugin call: finish is reached from the loop, never from a callback
	_loop.retire(this);
}


void WsConnection::leaveOpen(std::uint16_t code, std::string_view reason)
{
	_state = State::CLOSING;
	_reportCode = code;
	_reportReason = std::string(reason);
	// Out of every group now, not when TCP goes: a closing connection takes no more messages, so
	// a publish no longer counts it among its recipients (finish() clears any later join).
	_pEndpoint->owner->connectionFinished(_id);
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
			due = std::min(due, pingBaseMs() + _pingIntervalMs);
		if (_messageOpen && _fragmentTimeoutMs > 0 && !_readPaused)
			due = std::min(due, _messageStartMs + _fragmentTimeoutMs);
		if (_readPaused)
			due = std::min(due, _loop.now() + PAUSED_CHECK_MS); // watches what the peer keeps sending
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
		close(code, code == CloseCode::NONE ? std::string_view() : std::string_view(_pEndpoint->idleCloseReason));
		return;
	}
	if (_messageOpen && _fragmentTimeoutMs > 0 && !_readPaused && now - _messageStartMs >= _fragmentTimeoutMs)
	{
		// Pings do not extend this: a peer must not hold a reassembly buffer open forever.
		_decoder.discard();
		_messageOpen = false;
		accountMemory();
		if (startClose(CloseCode::POLICY_VIOLATION, "message not completed in time", CloseCode::POLICY_VIOLATION,
		               "message not completed in time"))
			_finishAfterFlush = true; // the decoder is gone, so the peer's close reply cannot be read
		return;
	}
	if (_readPaused &&
	    ((_sendStallTimeoutMs > 0 && now - std::max(_readPausedSinceMs, _lastWriteMs) >= _sendStallTimeoutMs) ||
	     unreadInput() > _pEndpoint->maxOutputQueue))
	{
		// Not reading what it has been sent, and either taking none of it or still sending more
		// than its output cap of requests: the kernel buffers it fills are server memory too. A
		// bursty client (sending a burst while its own output is backed up) stays below both.
		closeSlowConsumer();
		return;
	}
	if (_pingIntervalMs > 0 && now - pingBaseMs() >= _pingIntervalMs)
	{
		_pingSentMs = now;
		if (!queueControl(WS::PING, nullptr, 0))
			return;
	}
	scheduleDeadline();
}


} // namespace Core
} // namespace Switchboard
