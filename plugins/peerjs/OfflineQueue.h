//
// OfflineQueue.h
//
// Messages held for ids that are not registered, with per-pair expiry and bounds (docs/protocols/peerjs.md §9).
//


#ifndef Switchboard_PeerJs_OfflineQueue_INCLUDED
#define Switchboard_PeerJs_OfflineQueue_INCLUDED


#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>


namespace Switchboard {
namespace PeerJs {


class OfflineQueue
/// Each message is kept at least expireMs; all messages of a (source, destination) pair expire
/// together, expireMs after the pair's newest one, with one EXPIRE per pair. Bounded per
/// destination, per source and in total; a message that does not fit discards its whole pair,
/// earns one early EXPIRE and opens a window in which further messages of that pair are
/// dropped silently. Not thread-safe (the plugin's lock covers it); time is passed in.
{
public:
	struct Limits
	{
		std::size_t perDestination = 128;
		std::size_t perSource = 64;
		std::size_t totalBytes = 64 * 1024 * 1024;
		std::int64_t expireMs = 5000;
	};

	enum class Admission
	{
		QUEUED,
		SUPPRESSED, ///< dropped silently: the pair was rejected less than expireMs ago
		REJECTED    ///< did not fit: the pair is discarded; send the source one EXPIRE now
	};

	struct Expired
	{
		std::string source;      ///< who queued (gets the EXPIRE)
		std::string destination; ///< who never came (the EXPIRE's src)
	};

	explicit OfflineQueue(const Limits& limits);

	Admission enqueue(const std::string& source, const std::string& destination, std::string frame, std::int64_t nowMs);
	std::vector<std::string> take(const std::string& destination);
	/// Every frame queued for destination, in global enqueue order; clears its pairs and its
	/// suppression windows (the destination registered).
	void expire(std::int64_t nowMs, std::vector<Expired>& out);
	/// Discards every pair whose newest message is expireMs old and reports it once.
	void clear();
	void setLimits(const Limits& limits) { _limits = limits; }
	/// For what comes next: queued messages stay even above a lowered bound, and expireMs
	/// applies to every pair at the next expire().

	std::size_t messageCount() const { return _messages; }
	std::size_t byteCount() const { return _bytes; }

private:
	struct Item
	{
		std::string source;
		std::string frame;
	};
	struct Pair
	{
		std::size_t count = 0;
		std::int64_t newestMs = 0;
	};
	using PairKey = std::pair<std::string, std::string>; // (source, destination)

	void discardPair(const PairKey& key);

	Limits _limits;
	std::unordered_map<std::string, std::deque<Item>> _byDestination;
	std::map<PairKey, Pair> _pairs;
	std::unordered_map<std::string, std::size_t> _perSource;
	std::map<PairKey, std::int64_t> _suppressedUntil;
	std::size_t _messages = 0;
	std::size_t _bytes = 0;
};


} // namespace PeerJs
} // namespace Switchboard


#endif // Switchboard_PeerJs_OfflineQueue_INCLUDED
