//
// WsTestClient.h
//
// A blocking RFC 6455 WebSocket client for tests, with its own framing on raw POSIX sockets.
//


#ifndef Switchboard_Test_WsTestClient_INCLUDED
#define Switchboard_Test_WsTestClient_INCLUDED


#include "HttpResponse.h"
#include "TestSocket.h"
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace Switchboard {
namespace Test {


class WsTestClient
/// Drives a WebSocket server the way a test needs: every call has a timeout, every frame can
/// be crafted (opcode, FIN, RSV bits, masking, raw bytes), and what the server sends is
/// reported as it arrived (frames, fragments, pings, close codes), not smoothed over.
///
/// The handshake and the frame codec are implemented here, independently of the server's code
/// in host/src/ws. Client frames are masked with a fresh random key unless told otherwise.
/// Bytes the server sends right after its 101 response are kept for receive().
///
/// Pings are NOT answered by default, so tests can see them; setAutoPong(true) answers them
/// inside receive() and hides them. Sending after the connection failed throws
/// std::runtime_error; sending a frame before a 101 throws std::logic_error.
///
/// For slow-consumer tests: set a small receive buffer before connect() and simply stop
/// calling receive(); fd() gives the descriptor for anything else. Not thread-safe.
{
public:
	using Headers = std::vector<std::pair<std::string, std::string>>;

	enum Opcode
	{
		OPCODE_CONTINUATION = 0x0,
		OPCODE_TEXT = 0x1,
		OPCODE_BINARY = 0x2,
		OPCODE_CLOSE = 0x8,
		OPCODE_PING = 0x9,
		OPCODE_PONG = 0xA
	};

	enum Result
	{
		RESULT_OK,
		RESULT_TIMEOUT,
		RESULT_CLOSED,
		RESULT_PROTOCOL_ERROR
	};

	struct Frame
	/// One frame as received. result says whether there is a frame at all.
	{
		Result result = RESULT_TIMEOUT;
		int opcode = -1;
		std::string payload;
		/// Unmasked payload.
		bool fin = false;
		int rsv = 0;
		/// The three RSV bits as a number 0-7 (RSV1 = 4).
		bool masked = false;
		/// True if the server masked the frame (a server must not).
		std::string error;
		/// Why the connection counts as closed, or what was malformed.

		bool ok() const { return result == RESULT_OK; }
		bool timedOut() const { return result == RESULT_TIMEOUT; }
		bool closed() const { return result == RESULT_CLOSED; }
	};

	struct Message
	/// A whole message as reassembled by receiveMessage(), or a control frame.
	{
		Result result = RESULT_TIMEOUT;
		int opcode = -1;
		/// OPCODE_TEXT or OPCODE_BINARY for data, or the control opcode.
		std::string payload;
		int frameCount = 0;
		/// How many data frames made up the message.
		std::vector<Frame> controlFrames;
		/// Pings and pongs that arrived between the message's fragments.
		std::string error;

		bool ok() const { return result == RESULT_OK; }
		bool timedOut() const { return result == RESULT_TIMEOUT; }
		bool closed() const { return result == RESULT_CLOSED; }
	};

	struct CloseInfo
	/// The outcome of expectClose().
	{
		static constexpr int NO_CLOSE_FRAME = -1;
		/// TCP closed (or reset) without a close frame.
		static constexpr int TIMED_OUT = -2;
		/// Neither a close frame nor EOF within the timeout.
		static constexpr int MALFORMED = -3;
		/// A close frame with a 1-byte payload.

		int code = TIMED_OUT;
		/// The status code; 1005 for a close frame with an empty payload.
		std::string reason;
		bool eof = false;
		/// True if TCP EOF (or a reset) was seen before expectClose() returned.
		std::vector<Frame> skippedFrames;
		/// Frames that arrived before the close frame.
	};

	static constexpr int DEFAULT_TIMEOUT_MS = 5000;

	WsTestClient();
	~WsTestClient();
	WsTestClient(WsTestClient&&) = default;
	WsTestClient& operator=(WsTestClient&&) = default;
	WsTestClient(const WsTestClient&) = delete;
	WsTestClient& operator=(const WsTestClient&) = delete;

	void setBindAddress(const std::string& address);
	/// Local loopback address for the next connect(), e.g. "127.0.0.2".

	void setReceiveBufferSize(int bytes);
	/// SO_RCVBUF applied before the next connect(); 0 for the system default.

	void setSendBufferSize(int bytes);
	/// SO_SNDBUF applied before the next connect(); 0 for the system default.

	void setAutoPong(bool enabled);
	/// Answer pings inside receive() and do not return them. Off by default.

	void setSendTimeout(int timeoutMs);
	/// Bound for each send call (default 5000 ms); a send that cannot finish throws.

	void setMaxFrameSize(std::size_t bytes);
	/// Largest frame payload receive() accepts (default 64 MiB); larger is RESULT_PROTOCOL_ERROR.

	HttpResponse connect(const std::string& host, int port, const std::string& pathAndQuery,
	                     const Headers& extraHeaders = {}, int timeoutMs = DEFAULT_TIMEOUT_MS);
	/// Opens TCP, sends the opening handshake (Host, Upgrade, Connection, a random
	/// Sec-WebSocket-Key, Sec-WebSocket-Version: 13) and reads the response head. An extra
	/// header with the name of a default one replaces it (e.g. Sec-WebSocket-Version: 8);
	/// others are appended. Returns the response whatever its status; for a non-101 the body
	/// is read if Content-Length says so. A 101 without a correct Sec-WebSocket-Accept,
	/// Upgrade: websocket or Connection: upgrade throws std::runtime_error, as do a refused
	/// connection, a timeout and a malformed response.

	bool isOpen() const { return _upgraded && _socket.isOpen(); }
	/// True after a 101 until close()/abort().

	void sendText(std::string_view text);
	void sendBinary(std::string_view data);
	void sendPing(std::string_view payload = {});
	void sendPong(std::string_view payload = {});

	void sendClose(int code, std::string_view reason = {});
	/// A close frame with any code (invalid ones too, for tests) and reason.

	void sendCloseEmpty();
	/// A close frame without payload.

	void sendFrame(int opcode, std::string_view payload, bool fin = true, bool masked = true, int rsv = 0);
	/// Any frame: opcode 0-15, rsv 0-7, with or without a (random) mask.

	void sendFragmented(int opcode, std::string_view payload, std::size_t fragmentSize);
	/// payload as a fragmented message: first frame opcode, then continuations, FIN on the last.

	void sendRaw(std::string_view bytes);
	/// Bytes exactly as given, for malformed-frame tests. Allowed before a 101 too.

	Frame receive(int timeoutMs = DEFAULT_TIMEOUT_MS);
	/// The next frame, or RESULT_TIMEOUT / RESULT_CLOSED (EOF or reset; frames received
	/// before are returned first) / RESULT_PROTOCOL_ERROR (undecodable header; sticky).

	Message receiveMessage(int timeoutMs = DEFAULT_TIMEOUT_MS);
	/// The next whole data message (fragments joined), or the next control frame that is not
	/// inside a fragmented message. Pings and pongs between fragments are kept in
	/// controlFrames; a close between fragments is returned (error says so). A message cut
	/// by a timeout is continued by the next call. RESULT_PROTOCOL_ERROR for a continuation
	/// without a message, a new data frame inside one, or a reserved opcode.

	CloseInfo expectClose(int timeoutMs = DEFAULT_TIMEOUT_MS, bool reply = true, bool waitEof = true);
	/// Reads until a close frame (other frames go to skippedFrames), EOF or the timeout.
	/// With reply, answers with a close frame echoing the code (or an empty one) unless this
	/// client already sent a close. With waitEof, then waits for TCP EOF within the same
	/// timeout.

	bool waitForEof(int timeoutMs = DEFAULT_TIMEOUT_MS);
	/// True once the server has closed the connection (FIN or reset). Received bytes stay
	/// buffered for receive().

	void shutdownWrite();
	/// Half-close (TCP FIN), reading stays possible.

	void abort();
	/// Close with a TCP reset.

	void close();
	/// Close TCP without a close frame.

	int fd() const { return _socket.fd(); }
	std::string localAddress() const { return _socket.localAddress(); }

	const std::string& key() const { return _key; }
	/// The Sec-WebSocket-Key of the last connect().

	int pingsAnswered() const { return _pingsAnswered; }
	/// Pings answered by auto-pong.

	bool closeSent() const { return _closeSent; }
	bool closeReceived() const { return _closeReceived; }

	std::size_t bufferedBytes() const { return _in.size() - _inPosition; }
	/// Bytes received but not yet returned as frames.

	static std::string encodeFrame(int opcode, std::string_view payload, bool fin, bool masked, int rsv,
	                               const unsigned char maskKey[4]);
	/// The wire bytes of one frame (maskKey ignored if not masked). For tests that build
	/// frames to send with sendRaw(), e.g. split at odd places.

	static std::string computeAcceptKey(const std::string& secWebSocketKey);
	/// Base64(SHA-1(key + RFC 6455 GUID)).

	static int64_t nowMicros();
	/// Monotonic clock in microseconds, for latency measurements.

private:
	void requireOpen(const char* what) const;
	void resetState();
	void send(std::string_view bytes);

	TestSocket _socket;
	std::mt19937 _random;
	std::string _key;
	std::string _in;
	std::size_t _inPosition;
	bool _upgraded;
	int _handshakeStatus;
	bool _eof;
	std::string _eofReason;
	std::string _protocolError;
	bool _autoPong;
	int _sendTimeoutMs;
	std::size_t _maxFrameSize;
	int _pingsAnswered;
	bool _closeSent;
	bool _closeReceived;
	int _partialOpcode;
	std::string _partialPayload;
	int _partialFrames;
	std::vector<Frame> _partialControl;
};


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_WsTestClient_INCLUDED
