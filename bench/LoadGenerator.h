//
// LoadGenerator.h
//
// One single-threaded epoll process of the PeerJS load generator: connects its peers, waits for
// "go" on stdin, runs one workload, prints a JSON result line on stdout and exits.
//


#ifndef Switchboard_Bench_LoadGenerator_INCLUDED
#define Switchboard_Bench_LoadGenerator_INCLUDED


#include "ClientCodec.h"
#include "GeneratorOptions.h"
#include "GovpnMessages.h"
#include "LatencyHistogram.h"
#include <sys/resource.h>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>


struct ssl_st;
struct ssl_ctx_st;


namespace Switchboard {
namespace Bench {


class LoadGenerator
/// Protocol on stdout (one JSON object per line): {"event":"ready",...} once every connection
/// is open or has failed, then {"event":"result",...} at the end. On stdin: "go" starts the
/// workload, "stop" (or end of file) ends a HOLD or cuts a run short.
///
/// Every message is a PeerJS CANDIDATE of about 330 bytes whose payload carries the intended
/// send time (CLOCK_MONOTONIC ns) and a per-sender sequence number; the receiver computes the
/// one-way latency from it. Open-loop messages carry their scheduled time, not the time they
/// were written, so a generator or server that falls behind shows up in the latency.
///
/// With GeneratorOptions::tls every connection does a TLS handshake (OpenSSL, non-blocking, in the
/// same event loop) between the TCP connect and the upgrade, and all its bytes go through TLS. The
/// plain path is unchanged: a connection without TLS has no SSL object and never reaches the TLS code.
///
/// With GeneratorOptions::peerPort the second peer of every pair (odd index: "-b", the victim
/// pair's receiver) connects to that port of the same address, the first to targetPort: with two
/// clustered nodes every relayed message then crosses from one node to the other. Nothing else changes.
///
/// With Protocol::GOVPN the connections are GoVPN clients (X-Client-ID on the upgrade, base64
/// payloads) in rooms of roomSize: the first member of each room sends CreateRoom once upgraded, the
/// others JoinRoom with the password once the room exists (JOIN: at "go"). A connection counts as
/// open when it is online in its room. Relay messages cycle Offer, Answer and four Candidates, each
/// to the next other member of the sender's room in turn, the stamp inside the SDP or candidate text.
{
public:
	explicit LoadGenerator(const GeneratorOptions& options);
	~LoadGenerator();

	LoadGenerator(const LoadGenerator&) = delete;
	LoadGenerator& operator=(const LoadGenerator&) = delete;

	int run();
	/// Returns the process exit code: 0 after a result was printed, non-zero on setup failure.

private:
	enum class Phase
	{
		CONNECTING,
		READY,
		RUNNING,
		DRAINING,
		DONE
	};

	enum class State
	{
		IDLE,
		CONNECTING,
		TLS_HANDSHAKE,
		UPGRADING,
		AWAIT_OPEN,
		OPEN,
		CLOSED
	};

	struct Conn
	{
		int fd = -1;
		int partner = -1;
		ssl_st* ssl = nullptr; ///< with TLS only
		bool tlsReadWantsWrite = false;
		bool tlsWriteWantsRead = false;
		bool tlsQueued = false; ///< in _tlsPending: OpenSSL holds bytes the socket no longer signals
		State state = State::IDLE;
		bool reading = true;
		bool dirty = false;
		std::uint32_t interest = 0; ///< the epoll events currently registered
		bool victimFlow = false;    ///< messages to this connection are the victim flow
		std::string id;
		std::string in;   ///< handshake response or a partial frame carried between reads
		std::string frag; ///< a fragmented message being assembled
		std::string out;
		std::size_t outOff = 0;
		std::string message; ///< the CANDIDATE template addressed to the partner
		std::size_t tsOff = 0;
		std::size_t seqOff = 0;
		std::uint64_t seqOut = 0;
		std::uint64_t seqIn = 0;

		// GOVPN, and PeerJS in groups (room, slot, nextDestination, seqTo, seqFrom)
		int room = -1;                ///< index in _rooms
		int slot = 0;                 ///< position in the room; 0 created it
		std::string key;              ///< the public key bound on the upgrade
		int nextDestination = 1;      ///< rotation over the other slots of the room
		std::uint32_t nextSignal = 0; ///< position in the Offer/Answer/Candidate mix
		std::uint32_t messageIds = 0;
		std::uint64_t joinSentNs = 0;       ///< JOIN: JoinRoom outstanding since then; 0: none
		std::vector<std::uint32_t> seqTo;   ///< per destination slot
		std::vector<std::uint32_t> seqFrom; ///< per source slot
		std::vector<Govpn::SignalTemplate> signals;
		std::vector<std::string> groupMessages; ///< PeerJS groups: the template per destination slot
	};

	struct Room
	/// GOVPN: members first .. first + size - 1 of _conns; id empty until RoomCreated.
	{
		int first = 0;
		int size = 0;
		std::string id;
	};

	struct Schedule
	/// A fixed-rate sequence of due times, served round-robin over a list of connections.
	{
		bool active = false;
		std::uint64_t startNs = 0;
		double intervalNs = 0;
		std::uint64_t next = 0; ///< index of the next due item
		std::vector<int> conns;

		std::uint64_t dueNs() const { return startNs + static_cast<std::uint64_t>(intervalNs * double(next)); }
	};

	struct Counters
	{
		std::uint64_t connectErrors = 0;
		std::uint64_t handshakeErrors = 0;
		std::uint64_t setupResets = 0;   ///< reset (or refused) by the server before OPEN
		std::uint64_t setupClosed = 0;   ///< closed by the server (end of stream) before OPEN
		std::uint64_t setupTimeouts = 0; ///< not OPEN by the connect deadline (never started ones included)
		std::uint64_t closedByServer = 0;
		std::uint64_t protocolErrors = 0;
		std::uint64_t sent = 0;     ///< data messages, main flow
		std::uint64_t received = 0; ///< data messages, main flow
		std::uint64_t windowReceived = 0;
		std::uint64_t outOfOrder = 0;
		std::uint64_t victimSent = 0;
		std::uint64_t victimReceived = 0;
		std::uint64_t heartbeats = 0;
		std::uint64_t leaveFrames = 0;
		std::uint64_t expireFrames = 0;
		std::uint64_t errorFrames = 0;
		std::uint64_t otherFrames = 0;
		std::uint64_t droppedSends = 0;
		std::uint64_t pingsLost = 0;
		std::uint64_t dataBytes = 0; ///< frame payload bytes of the main flow's data messages
		std::uint64_t joins = 0;     ///< JOIN: RoomJoined answers to the joins sent at "go"
		std::uint64_t joinFailures = 0;
	};

	void buildConnections();
	void buildTemplate(Conn& conn);
	void buildPeerjsGroups();
	void startConnects(std::uint64_t now);
	void connectOne(int index);
	void resolved(int index, bool ok);
	void becomeReady(std::uint64_t now);
	void go(std::uint64_t now);
	void finish();

	void onEvent(int index, std::uint32_t events);
	void onConnected(int index);
	void sendUpgrade(int index);
	void onReadable(int index);
	void absorb(int index, char* data, std::size_t total);
	bool initTls();
	void startTls(int index);
	void tlsHandshake(int index);
	void onReadableTls(int index);
	void flushTls(int index);
	void runTlsPending();
	void tlsFailure(int index, int sslError, int result, bool handshake);
	std::size_t consume(int index, char* data, std::size_t size);
	bool consumeHandshake(int index);
	void onMessage(int index, const char* data, std::size_t size);
	void onData(int index, const char* data, std::size_t size);
	void closeConn(int index, bool byServer, int error = 0);
	/// error: the errno that ended it (0: end of stream or our own close), to tell resets apart.

	void deliver(int index, std::uint64_t ts, bool inOrder);
	void sendData(int index, std::uint64_t tsNs);

	bool govpn() const { return _options.protocol == Protocol::GOVPN; }
	/// PeerJS closed or open relay in groups of roomSize (> 2) instead of pairs.
	bool peerjsGroups() const
	{
		return !govpn() && _options.roomSize > 2 &&
		       (_options.workload == Workload::CLOSED || _options.workload == Workload::OPEN);
	}
	int portOf(int index) const
	/// The server port of a connection: targetPort, or peerPort for the second peer of a pair.
	{
		return _options.peerPort > 0 && (index & 1) ? _options.peerPort : _options.targetPort;
	}
	void buildGovpnConnections();
	void govpnUpgraded(int index);
	void govpnMessage(int index, const char* data, std::size_t size);
	void govpnSetupReply(int index, const char* data, std::size_t size);
	void sendJoin(int index);
	void sendGovpnData(int index, std::uint64_t tsNs);
	void roomReady(int index);
	void sendHeartbeat(int index);
	void markDirty(int index);
	void flushDirty();
	void flush(int index);
	void updateInterest(int index);

	void onStdin();
	void advance();
	std::uint64_t nextWakeNs() const;
	void runSchedules();
	void printReady();
	void printResult();
	std::uint64_t inFlight() const;
	bool inWindow(std::uint64_t ns) const { return ns >= _windowStartNs && ns < _windowEndNs; }

	GeneratorOptions _options;
	ClientCodec _codec;
	int _epoll = -1;
	Phase _phase = Phase::CONNECTING;
	std::uint64_t _now = 0;
	std::vector<Conn> _conns;
	std::vector<int> _dirty;
	std::vector<char> _scratch;
	std::string _stdinBuffer;
	ssl_ctx_st* _tlsContext = nullptr;
	std::vector<int> _tlsPending; ///< TLS connections to read again without waiting for epoll
	std::string _tlsSession;      ///< protocol, cipher and ALPN of the first completed handshake
	bool _stdinOpen = true;
	bool _stopRequested = false;

	bool _inStartConnects = false;
	int _nextConnect = 0;
	int _pending = 0;
	int _resolved = 0;
	int _opened = 0;
	std::uint64_t _connectStartNs = 0;
	std::uint64_t _lastOpenNs = 0;
	std::uint64_t _connectDeadlineNs = 0;
	std::uint64_t _goDeadlineNs = 0;

	std::uint64_t _goNs = 0;
	std::uint64_t _windowStartNs = ~std::uint64_t(0);
	std::uint64_t _windowEndNs = ~std::uint64_t(0);
	std::uint64_t _drainDeadlineNs = 0;
	bool _windowOpened = false;
	bool _windowClosed = false;
	rusage _usageStart{};
	rusage _usageEnd{};

	Schedule _heartbeats;
	Schedule _traffic;
	Schedule _victimTraffic;
	int _victim = -1;  ///< the victim pair's receiver
	int _flooder = -1; ///< its sender

	bool _pingAwaiting = false;
	std::uint64_t _pingSentNs = 0;
	std::uint64_t _nextPingNs = 0;

	std::vector<Room> _rooms;
	int _joinsOutstanding = 0;
	std::uint64_t _lastJoinNs = 0;

	Counters _counters;
	LatencyHistogram _latency;  ///< one-way (round trip in PINGPONG), messages scheduled in the window
	LatencyHistogram _lateness; ///< open loop: how late the generator wrote scheduled messages
	LatencyHistogram _victimLatency;
};


} // namespace Bench
} // namespace Switchboard


#endif // Switchboard_Bench_LoadGenerator_INCLUDED
