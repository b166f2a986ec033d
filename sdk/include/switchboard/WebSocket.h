//
// WebSocket.h
//
// Switchboard SDK: WebSocket endpoints, connection handles and the per-connection callbacks.
//


#ifndef Switchboard_WebSocket_INCLUDED
#define Switchboard_WebSocket_INCLUDED


#include "switchboard/Http.h"
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>


namespace Switchboard {


using ConnectionId = std::uint64_t;
///< Identifies a connection for the life of the process. Never reused, so a stale id can
///< never reach a newer connection; 0 means "no connection".


enum class MessageKind
{
	TEXT,
	BINARY,
	PING ///< only ever passed to onMessage, and only on an endpoint with deliverPings (ABI 4.0)
};


enum class SendResult
/// What became of an outgoing message. The host never grows memory without bound.
{
	QUEUED,  ///< written to the socket or held in its bounded output queue
	DROPPED, ///< refused: the output queue is over its cap (bytes or messages); the host closes the connection (1008)
	CLOSED   ///< the connection is closing or gone; nothing was sent
};


namespace CloseCode {
constexpr std::uint16_t NONE = 0; ///< close() with NONE sends a close frame with no status (peers report 1005)
constexpr std::uint16_t NORMAL = 1000;
constexpr std::uint16_t GOING_AWAY = 1001;
constexpr std::uint16_t PROTOCOL_ERROR = 1002;
constexpr std::uint16_t UNSUPPORTED_DATA = 1003;
constexpr std::uint16_t NO_STATUS = 1005; ///< reported by onClose, never sent
constexpr std::uint16_t ABNORMAL = 1006;  ///< reported by onClose when TCP ended without a close frame
constexpr std::uint16_t INVALID_PAYLOAD = 1007;
constexpr std::uint16_t POLICY_VIOLATION = 1008;
constexpr std::uint16_t MESSAGE_TOO_BIG = 1009;
constexpr std::uint16_t INTERNAL_ERROR = 1011;
constexpr std::uint16_t SERVICE_RESTART = 1012; ///< e.g. a cluster name lost while Redis was away: reconnect
constexpr std::uint16_t TRY_AGAIN_LATER = 1013;
} // namespace CloseCode


class Connection
/// One open WebSocket, as a plugin sees it inside a callback.
///
/// Threading: a Connection& is valid only during a callback for this connection (or a task
/// run through Host::runOn), always on the connection's own event loop; never keep the
/// reference or use it from another thread. Keep id() instead and reach the connection later
/// through Router::send, Router::close or Host::runOn, which are safe from any thread.
{
public:
	virtual ~Connection() = default;

	virtual ConnectionId id() const noexcept = 0;

	virtual const std::string& remoteAddress() const noexcept = 0;
	/// "ip:port" of the peer.

	virtual SendResult send(std::string_view data, MessageKind kind = MessageKind::TEXT) = 0;
	/// Sends one message; the bytes are copied (or written) before the call returns. TEXT data
	/// must be valid UTF-8 (the host does not re-check what plugins send).

	virtual void close(std::uint16_t code = CloseCode::NORMAL, std::string_view reason = {}) = 0;
	/// Starts the closing handshake after everything already queued: sends a close frame
	/// (with no status when code is CloseCode::NONE), accepts no more sends, and reports
	/// onClose once the peer answers or the close timeout passes. Idempotent.

	virtual std::size_t bufferedAmount() const noexcept = 0;
	/// Bytes accepted by send() but not yet written to the socket.

	virtual SendResult sendPong(std::string_view payload) = 0;
	/// Sends a pong control frame with payload (at most 125 bytes; longer is cut to 125), after
	/// what is already queued; it counts against maxOutputQueue like any frame but not against
	/// maxOutputMessages. For endpoints with deliverPings, which answer pings themselves (ABI 4.0).

	// --- per-connection state ---------------------------------------------------------------

	template <class T>
	void setState(std::shared_ptr<T> state)
	/// Attaches the plugin's per-connection state, replacing any earlier one. The host keeps the
	/// shared_ptr (and so runs the plugin's own deleter) until after onClose returns.
	{
		attachState(std::shared_ptr<void>(std::move(state)), stateTypeKey<T>());
	}

	template <class T, class... Args>
	T& emplaceState(Args&&... args)
	/// Makes a T as the connection's state and returns it.
	{
		auto state = std::make_shared<T>(std::forward<Args>(args)...);
		T& ref = *state;
		setState(std::move(state));
		return ref;
	}

	template <class T>
	T* stateAs() const noexcept
	/// The state attached as a T; nullptr when there is none or it was attached as another type.
	{
		return static_cast<T*>(attachedState(stateTypeKey<T>()));
	}

	virtual void attachState(std::shared_ptr<void> state, const void* typeKey) = 0;
	virtual void* attachedState(const void* typeKey) const noexcept = 0;
	/// What setState and stateAs use: the state and a key naming its type, compared by address
	/// (unique per type within one plugin library, which is the only place that reads it).

private:
	template <class T>
	static const void* stateTypeKey() noexcept
	{
		static const char key = 0;
		return &key;
	}
};


struct AcceptDecision
/// The answer of WebSocketHandler::onAccept: upgrade (status 0) or an HTTP error response.
{
	int status = 0;
	std::string body;

	static AcceptDecision accept() { return {}; }
	static AcceptDecision reject(int httpStatus, std::string text) { return {httpStatus, std::move(text)}; }
};


struct WebSocketOptions
/// Per-endpoint limits; a negative value (or 0 for the sizes) takes the host's [websocket]
/// default, except that the two timeouts at the end take exactly -1 for it. Activity for the idle
/// timeout is any inbound frame, control frames included.
///
/// The close codes and reasons replace the host's own for this endpoint's connections
/// (util/CloseRules.h has the rules). A code is -1 (the host's), CloseCode::NONE (a close
/// without status; onClose then reports 1005) or one a server may send: 1000-1003, 1007-1014,
/// 3000-4999. A reason is nullptr or "" (the host's) or at most 123 bytes of UTF-8. The close and
/// send-stall timeouts are -1 (the host's) and maxOutputMessages 0 (no limit), or within the range
/// each one states. addWebSocket refuses anything else. Ownership: a reason must point at
/// characters that stay valid and unchanged for the plugin's whole life (a string literal or a
/// static the plugin owns); the host does not free them and may read them at any time until the
/// plugin is destroyed.
{
	std::int64_t maxMessageSize = 0;  ///< bytes after reassembly; beyond it the host closes with 1009
	std::int64_t idleTimeoutMs = -1;  ///< close (1001) after this long with no inbound frame; 0 = never
	std::int64_t pingIntervalMs = -1; ///< send a WebSocket ping after this long without inbound traffic; 0 = never
	std::int64_t maxOutputQueue = 0;  ///< bytes queued per connection before sends are DROPPED and it is closed
	std::int32_t idleCloseCode = -1;  ///< code of the idle close: -1 = 1001 "idle timeout", CloseCode::NONE = no status
	const char* idleCloseReason = nullptr;
	///< reason of the idle close frame: nullptr or "" = "idle timeout"; none goes with CloseCode::NONE
	std::int32_t overflowCloseCode = -1;
	///< code of the slow-consumer close (a send over maxOutputQueue DROPPED, or no output taken for
	///< sendStallTimeoutMs): -1 = 1008. This is the code onClose reports. By default the host only
	///< cuts TCP (the peer is not reading, and its queue is full); when this code or
	///< overflowCloseReason is set, it first drops the queued messages not yet started, queues this
	///< close frame and gives it closeTimeoutMs to be written (a peer that reads again sees it),
	///< then cuts TCP.
	const char* overflowCloseReason = nullptr; ///< its reason: nullptr or "" = "slow consumer"
	std::int64_t closeTimeoutMs = -1;
	///< how long the host waits, once it has sent a close frame (a plugin's close, the idle close),
	///< for the peer's close frame before it drops TCP; also the most time it gives its last frames
	///< (its reply to the peer's close, a protocol error's close) to be written: -1 = [websocket]
	///< close_timeout_ms (3000 by default), else 100..60000 ms. onClose does not wait for it.
	std::int64_t sendStallTimeoutMs = -1;
	///< how long a connection whose output is above [websocket] high_watermark (and that is
	///< therefore not read) may take none of that output before the host closes it as a slow
	///< consumer (the overflow close above): -1 = [websocket] send_stall_timeout_ms (10000 by
	///< default), 0 = no limit, else 1..3600000 ms.
	std::int32_t invalidTextCloseCode = -1;
	///< code of the close the host sends when a TEXT message is not valid UTF-8: -1 = 1007, else as
	///< the other codes (CloseCode::NONE: a close without status; onClose then reports 1005). The
	///< host reads it when it fails such a message; onMessage never sees the message.
	const char* invalidTextCloseReason = nullptr;
	///< its reason: nullptr or "" = the host's ("text message is not valid UTF-8" or "text message
	///< ends inside a UTF-8 sequence"); none goes with CloseCode::NONE
	std::int64_t maxOutputMessages = 0;
	///< messages (plugin sends, not pings, pongs or close frames) queued per connection and not yet
	///< fully written; a send that would exceed it is DROPPED and the connection gets the overflow
	///< close, exactly as for maxOutputQueue bytes: 0 = no count limit, else 1..100000000. The host
	///< reads it on every send.
	bool deliverPings = false;
	///< false: the host answers every ping with a pong itself. true: each ping goes to onMessage
	///< (kind PING, data its payload) and is not answered unless the plugin calls
	///< Connection::sendPong, so a plugin can count pings against its own rate limit (ABI 4.0).
	std::int64_t shutdownCloseTimeoutMs = -1;
	///< how long, once the server is shutting down, the host waits for the peer's close frame after
	///< sending its own (the 1001 the host sends, or one the plugin sends from stopping()) before
	///< dropping TCP: -1 = closeTimeoutMs, else 100..60000 ms. Still bounded by [host]
	///< shutdown_deadline_ms (ABI 4.0).
	bool acceptInvalidText = false;
	///< false: a TEXT message that is not valid UTF-8 closes the connection (invalidTextCloseCode).
	///< true: the host does not check TEXT messages; each reaches onMessage as sent (kind TEXT,
	///< possibly not UTF-8), for protocols that answer bad input with an error and stay open (ABI 4.0).
	bool pingOnSchedule = false;
	///< false: a ping goes out after pingIntervalMs without inbound traffic. true: every
	///< pingIntervalMs whatever the traffic, for protocols whose clients expect a steady ping (ABI 4.0).
};


class WebSocketHandler
/// A plugin's WebSocket endpoint. The plugin owns the handler; it must outlive stop().
///
/// Threading: every callback runs on an event loop: onAccept on the loop that read the upgrade
/// request (upgrades never leave the loops, so a reconnect storm is not queued behind threads),
/// onOpen, onMessage, onBackpressure and onClose on the connection's loop, and never
/// concurrently for one connection; callbacks of connections on different loops do run
/// concurrently, so state shared between connections needs a lock. Callbacks must not block
/// (no storage calls: use Storage::executeAsync or Host::offload) and should not throw: the host
/// catches what escapes, counts and logs it, and closes that connection with 1011 (see the
/// policy table in docs/sdk.md).
{
public:
	virtual ~WebSocketHandler() = default;

	virtual AcceptDecision onAccept(const HttpRequest& /*request*/) { return AcceptDecision::accept(); }
	/// Decides before the upgrade; a rejection is answered as plain HTTP with that status.

	virtual void onOpen(Connection& connection, const HttpRequest& request) = 0;
	/// The upgrade is done (101 sent). request is the upgrade request, valid during this call
	/// only: copy the query or headers you need into the connection's state.

	virtual void onMessage(Connection& connection, std::string_view data, MessageKind kind) = 0;
	/// One complete message (fragments reassembled, TEXT already validated as UTF-8 unless the
	/// endpoint set acceptInvalidText), or a ping with deliverPings. data is valid during this
	/// call only.

	virtual void onBackpressure(Connection& /*connection*/, bool /*aboveHighWatermark*/) {}
	/// The connection's output queue went above the high watermark (true) or back below the
	/// low one (false). A relay may pause what feeds it.

	virtual void onClose(Connection& /*connection*/, std::uint16_t /*code*/, std::string_view /*reason*/) {}
	/// The connection has stopped being open: the peer sent a close frame (code is its code, 1005
	/// when it had none), the host or plugin closed it (the code it closed with; 1005 for
	/// CloseCode::NONE), a protocol error failed it (1002, 1007, 1009), or TCP was lost (1006).
	/// Reported at once, not after the closing handshake, and never from inside another call of
	/// this plugin on the same loop. No message is delivered and every send fails with CLOSED from
	/// here on. Called exactly once per opened connection.
};


} // namespace Switchboard


#endif // Switchboard_WebSocket_INCLUDED
