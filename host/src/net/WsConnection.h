//
// WsConnection.h
//
// One WebSocket connection on an event loop: codec state, bounded output queue, close handshake,
// idle and keepalive deadlines. Implements the SDK's Connection.
//


#ifndef Switchboard_Core_WsConnection_INCLUDED
#define Switchboard_Core_WsConnection_INCLUDED


#include "net/LoopHandler.h"
#include "net/MemoryBudget.h"
#include "net/OutputQueue.h"
#include "net/TimerWheel.h"
#include "net/Tls.h"
#include "plugin/PluginSlot.h"
#include "ws/FrameDecoder.h"
#include "ws/FrameEncoder.h"
#include "switchboard/WebSocket.h"
#include "Poco/Net/StreamSocket.h"
#include <memory>
#include <string>


namespace Switchboard {
namespace Core {


class EventLoop;
struct Endpoint;


class WsConnection: public Switchboard::Connection, public LoopHandler, private WS::DecoderHandler
/// Lives on exactly one EventLoop and is touched only by that loop's thread. The loop owns it;
/// it is destroyed at the end of the loop iteration in which it finished, so pointers held
/// during one iteration stay valid.
///
/// Limits: every queued frame (data, pong, ping, close) counts against max_output_queue, and
/// every message a plugin sends against the endpoint's maxOutputMessages (when set); above
/// high_watermark the connection is not read until its output drains below low_watermark;
/// meanwhile it is closed as a slow consumer if the peer takes none of its output for
/// send_stall_timeout_ms (or the endpoint's own sendStallTimeoutMs), or keeps sending (more than
/// max_output_queue waits unread in the kernel). A message must be complete within
/// fragment_timeout_ms of its first frame, not counting time the connection was not read. After
/// its close frame it waits close_timeout_ms (or the endpoint's closeTimeoutMs) for the peer's.
/// What it holds (reassembly + output) is reported to the transport's MemoryBudget.
{
public:
	enum class State
	{
		OPEN,    ///< messages flow
		CLOSING, ///< a close frame was sent; waiting for the peer's, or for the output to drain
		DONE     ///< finished; the socket is closed and onClose reported
	};

	WsConnection(EventLoop& loop, ConnectionId id, const Endpoint& endpoint, Poco::Net::StreamSocket socket,
	             std::unique_ptr<TlsSession> tls, std::string remoteAddress, std::int64_t maxMessageSize);
	/// tls: null on a plain listener.
	~WsConnection() override;

	// Connection
	ConnectionId id() const noexcept override { return _id; }
	const std::string& remoteAddress() const noexcept override { return _remoteAddress; }
	SendResult send(std::string_view data, MessageKind kind) override;
	void close(std::uint16_t code, std::string_view reason) override;
	std::size_t bufferedAmount() const noexcept override { return _queue.size(); }
	SendResult sendPong(std::string_view payload) override;
	void attachState(std::shared_ptr<void> state, const void* typeKey) override
	{
		_pluginState = std::move(state);
		_pluginStateType = typeKey;
	}
	void* attachedState(const void* typeKey) const noexcept override
	{
		return typeKey == _pluginStateType ? _pluginState.get() : nullptr;
	}

	// Used by the loop and the transport
	void holdUntilClosed(std::shared_ptr<void> held) { _heldUntilClosed = std::move(held); }
	/// Kept until the connection finishes (the HTTP front's per-client count), then released.
	void open(const HttpRequest& request, std::string& initialBytes);
	void onReadable(char* scratch, std::size_t scratchSize) override;
	void onWritable() override;
	bool finished() const override { return _state == State::DONE; }
	void flush();
	void finish(std::uint16_t reportedCode, std::string_view reason);
	/// Ends the connection now: reports onClose (once), closes the socket, schedules destruction.
	SendResult sendShared(const std::shared_ptr<const std::string>& frame);
	/// Queues an already encoded frame shared with other recipients (group publish).
	void abort(std::uint16_t reportedCode, std::string_view reason);
	/// Like finish, but deferred to the end of the current callback (safe inside plugin calls).
	void completeAbort();
	/// The deferred end of abort(): writes a slow consumer's close frame if the endpoint names
	/// one (what the socket takes without waiting), then finishes.
	void reportClose();
	/// Calls the plugin's onClose once, with the code that ended the OPEN state.
	void closeForMemoryBudget();
	/// Chosen by the MemoryBudget: drops what it holds, closes with 1008 (from a loop task).

	State connectionState() const { return _state; }
	const Endpoint& endpoint() const { return *_pEndpoint; }
	Poco::Net::StreamSocket& socket() { return _socket; }
	bool dirty() const { return _dirty; }
	void clearDirty() { _dirty = false; }
	bool readPaused() const { return _readPaused; }

	static constexpr std::int64_t PAUSED_CHECK_MS = 50;
	/// How often a paused connection's unread input is looked at.

private:
	// WS::DecoderHandler
	void onMessage(bool isText, const char* data, std::size_t len) override;
	void onMessageBegin() override;
	void onPing(const char* data, std::size_t len) override;
	void onPong(const char* data, std::size_t len) override;
	void onClose(std::uint16_t code, const char* reason, std::size_t reasonLen) override;
	void onProtocolError(std::uint16_t closeCode, const char* reason) override;

	bool fitsOutput(std::size_t frameBytes) const;
	bool fitsMessage() const;
	/// Room for one more message under the endpoint's maxOutputMessages (0: no limit).
	bool writeQueued();
	bool writeQueuedTls();
	void readBytes(char* data, std::size_t length);
	void readTls(char* scratch, std::size_t scratchSize);
	void closeSlowConsumer();
	void queueData(WS::Opcode opcode, const char* payload, std::size_t length, bool ownChunk = false);
	bool queueControl(WS::Opcode opcode, const char* payload, std::size_t length);
	void queued();
	void markDirty();
	void checkWatermarks();
	void applyInterest();
	void accountMemory();
	std::size_t unreadInput() const;
	bool startClose(std::uint16_t reportCode, std::string_view reportReason, std::uint16_t frameCode,
	                std::string_view frameReason);
	void leaveOpen(std::uint16_t code, std::string_view reason);
	void scheduleDeadline();
	std::int64_t pingBaseMs() const;
	/// When the next ping is counted from: the last ping, or also the last inbound traffic.
	static void onTimer(TimerNode* node);
	void handleTimer();
	template <class Fn>
	void callPlugin(PluginSite site, Fn&& fn);

	EventLoop& _loop;
	ConnectionId _id;
	const Endpoint* _pEndpoint;
	Poco::Net::StreamSocket _socket;
	int _fd;
	std::unique_ptr<TlsSession> _tls;
	std::string _remoteAddress;
	WS::FrameDecoder _decoder;
	OutputQueue _queue;
	MemoryBudget::Account _budgetAccount;
	std::size_t _offenderThreshold; ///< held bytes above which it is a memory offender
	std::shared_ptr<void> _pluginState;
	const void* _pluginStateType = nullptr;
	std::shared_ptr<void> _heldUntilClosed;
	TimerNode _timer;
	std::int64_t _lastActivityMs = 0;
	std::int64_t _closeDeadlineMs = 0;
	std::int64_t _pingSentMs = 0;
	std::int64_t _idleTimeoutMs;
	std::int64_t _pingIntervalMs;
	std::int64_t _fragmentTimeoutMs;
	std::int64_t _closeTimeoutMs;     ///< the endpoint's, else close_timeout_ms
	std::int64_t _sendStallTimeoutMs; ///< the endpoint's, else send_stall_timeout_ms; 0 = no limit
	std::int64_t _messageStartMs = 0; ///< when the open message's first frame header was read
	std::int64_t _readPausedSinceMs = 0;
	std::int64_t _lastWriteMs = 0; ///< last time the kernel took some output
	State _state = State::OPEN;
	std::uint16_t _reportCode = 0;
	std::string _reportReason;
	bool _opened = false;
	bool _dirty = false;
	bool _writeArmed = false;
	bool _readPaused = false;
	bool _messageOpen = false;
	bool _messageDeadlineArmed = false;
	bool _aboveHighWatermark = false;
	bool _finishAfterFlush = false;
	bool _abortPending = false;
	bool _closeReported = false;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_WsConnection_INCLUDED
