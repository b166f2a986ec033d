//
// HttpConnection.h
//
// One HTTP/1.1 connection on an event loop, from accept to its last response or its upgrade.
//


#ifndef Switchboard_Core_HttpConnection_INCLUDED
#define Switchboard_Core_HttpConnection_INCLUDED


#include "http/HttpFront.h"
#include "http/HttpParser.h"
#include "net/LoopHandler.h"
#include "net/Tls.h"
#include "net/TimerWheel.h"
#include "Poco/Net/StreamSocket.h"
#include <memory>
#include <string>


namespace Switchboard {
namespace Core {


class EventLoop;


class HttpConnection: public LoopHandler
/// Reads requests incrementally and answers them in order: one request at a time (reading pauses
/// while a route handler runs or a response is being written, so a client cannot make the server
/// buffer without bound), each with a total deadline for its head and for its body, and an idle
/// deadline between keep-alive requests. Admin requests are answered on the loop, route requests
/// on the front's worker pool, upgrades handed to the Transport. Loop thread only.
{
public:
	HttpConnection(HttpFront& front, EventLoop& loop, int loopIndex, std::uint64_t serial,
	               Poco::Net::StreamSocket socket, std::string remoteAddress, HttpFront::Listener& listener,
	               HttpFront::ClientSlotPtr clientSlot);
	~HttpConnection() override;

	void start();
	void onReadable(char* scratch, std::size_t scratchSize) override;
	void onWritable() override;
	bool finished() const override { return _state == State::DONE; }

	void deliver(const HttpResponse& response, bool headOnly);
	/// A route handler's response, back on the loop.
	void drain();
	/// Shutdown: close now if idle between requests, else after the current response.

private:
	enum class State
	{
		READING,   ///< waiting for or reading a request
		WAITING,   ///< a route handler runs; not reading
		WRITING,   ///< a response is being written; not reading
		UPGRADING, ///< the 101 is being written; then the socket goes to the Transport
		DONE
	};

	void received(const char* data, std::size_t length);
	void readTls(char* scratch, std::size_t scratchSize);
	bool outputPending() const;
	void process();
	void onHeadComplete();
	void onRequestComplete();
	void handleAdmin();
	static bool adminAuthorized(const ParsedRequest& request, const AdminHooks& hooks);
	void handleUpgrade();
	void handleRoute();
	void runLoopRoute(const Route& route, std::shared_ptr<const void> keepRoute, HttpRequest&& request, bool head);
	/// A Setup::addLoopRoute handler, run on this loop; keepRoute holds the table route is in.
	void sendError(int status, const std::string& detail, const char* jsonMessage = nullptr);
	/// Answers a request the host refuses itself and closes: "<reason phrase>: <detail>" as
	/// text, or on a json_errors listener {"error": jsonMessage, else the status's message}.
	void hostError(HttpResponse& response, int status, const std::string& text, const std::string& message) const;
	/// Fills response with a host-generated error: text as text/plain, or on a json_errors
	/// listener {"error":message} as application/json (headers such as Allow are the caller's).
	void queueResponse(const HttpResponse& response, bool headOnly);
	void writeOut();
	void afterResponse();
	void handOff();
	void setReading(bool reading);
	void armDeadline(std::int64_t dueMs);
	static void onTimer(TimerNode* node);
	void handleTimer();
	void finish();
	void firstHeadDone();
	HttpRequest makeRequest();

	HttpFront& _front;
	EventLoop& _loop;
	int _loopIndex;
	std::uint64_t _serial;
	Poco::Net::StreamSocket _socket;
	int _fd;
	std::string _remoteAddress;
	HttpFront::Listener& _listener;
	HttpFront::ClientSlotPtr _clientSlot; ///< its place in the per-client count; goes with an upgrade
	std::unique_ptr<TlsSession> _tls;     ///< null on a plain listener; goes with an upgrade
	HttpRequestParser _parser;
	std::string _in;  ///< bytes read and not yet consumed by the parser
	std::string _out; ///< response bytes not yet written
	std::size_t _outOffset = 0;
	TimerNode _timer;
	State _state = State::READING;
	bool _registered = false;
	bool _readArmed = false;
	bool _writeArmed = false;
	bool _closeAfterWrite = false;
	bool _requestStarted = false; ///< bytes of the current request have arrived
	bool _headDone = false;       ///< the current request's head was handled
	bool _draining = false;
	bool _processing = false;
	bool _awaitingFirstHead; ///< counted in the front's pending handshakes (public listeners only)
	std::int64_t _deadlineMs = 0;
	const Endpoint* _upgradeEndpoint = nullptr;
	HttpRequest _upgradeRequest;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_HttpConnection_INCLUDED
