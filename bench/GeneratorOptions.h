//
// GeneratorOptions.h
//
// What one load-generator process does: target, source address, workload and timing.
//


#ifndef Switchboard_Bench_GeneratorOptions_INCLUDED
#define Switchboard_Bench_GeneratorOptions_INCLUDED


#include <cstddef>
#include <cstdint>
#include <string>


namespace Switchboard {
namespace Bench {


enum class Workload
{
	HOLD,     ///< idle connections that only send HEARTBEAT
	CLOSED,   ///< pairs with a fixed window of messages in flight (saturation)
	OPEN,     ///< pairs sending at a fixed total rate on a schedule (latency without coordinated omission)
	PINGPONG, ///< one pair, one message in flight, round trips measured by the first peer
	JOIN      ///< GoVPN: owners create rooms while connecting; at "go" every other member sends JoinRoom
};


enum class Protocol
{
	PEERJS, ///< PeerJS CANDIDATE messages between pairs (docs/protocols/peerjs.md)
	GOVPN   ///< GoVPN rooms: Offer/Answer/Candidate among the members of a room (docs/protocols/govpn.md)
};


struct GeneratorOptions
{
	std::string targetAddress = "127.0.0.1";
	int targetPort = 0;
	int peerPort = 0; ///< PEERJS pairs: > 0 sends the second peer of every pair ("-b") to targetAddress:peerPort
	std::string sourceAddress; ///< local address to bind, e.g. 127.0.0.2; empty: the kernel's choice
	std::string path = "/peerjs";
	std::string key = "peerjs";
	std::string tag = "bench"; ///< id prefix, unique per run so ids never collide with a previous run's
	bool tls = false;          ///< wss://: a TLS handshake (OpenSSL, non-blocking) before each upgrade
	std::string tlsCaFile;     ///< with tls: verify the server against these PEM certificates; empty: no verification

	Protocol protocol = Protocol::PEERJS;
	int roomSize = 2;             ///< GOVPN: members per room, the first of each creates it; rooms never span processes
	std::size_t messageBytes = 0; ///< PEERJS: pad each relayed message to this size (0: the plain CANDIDATE)
	std::string roomPassword = "4821"; ///< GOVPN: every room's four digits

	Workload workload = Workload::HOLD;
	int connections = 0;            ///< HOLD, JOIN
	int pairs = 0;                  ///< CLOSED, OPEN
	int window = 16;                ///< CLOSED: messages in flight per pair
	double rate = 0;                ///< OPEN: messages per second sent by this process in total
	double victimRate = 0;          ///< OPEN: > 0 adds a pair whose sender sends this many messages/s
	bool victimStop = false;        ///< OPEN: the victim pair's receiver stops reading at "go"
	std::int64_t intervalUs = 1000; ///< PINGPONG: a round trip starts at most this often

	std::int64_t warmupMs = 1000;
	std::int64_t measureMs = 5000; ///< the window; for HOLD the longest hold before exiting
	std::int64_t drainMs = 1000;
	std::int64_t heartbeatMs = 5000;
	int connectConcurrency = 64; ///< handshakes in progress at once
	std::int64_t connectTimeoutMs = 60000;
	std::int64_t goTimeoutMs = 600000;
	bool autoGo = false; ///< start right after connecting instead of waiting for "go" on stdin
	std::size_t maxPendingBytes = std::size_t(4) << 20; ///< per connection; beyond it sends are dropped and counted
};


} // namespace Bench
} // namespace Switchboard


#endif // Switchboard_Bench_GeneratorOptions_INCLUDED
