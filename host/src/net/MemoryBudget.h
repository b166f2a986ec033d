//
// MemoryBudget.h
//
// The process-wide limit on bytes held by WebSocket connections: reassembly buffers and output
// queues, summed over every loop ([websocket] max_buffered_total).
//


#ifndef Switchboard_Core_MemoryBudget_INCLUDED
#define Switchboard_Core_MemoryBudget_INCLUDED


#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>


namespace Switchboard {
namespace Core {


class MemoryBudget
/// Each holder (a connection) owns an Account and reports what it holds after each change to its
/// buffers. The total is one relaxed atomic, touched only when a holder's figure has moved by a
/// granule (GRANULE_BYTES) or dropped to zero, so small messages never touch shared memory.
///
/// A holder above its offender threshold (its share) is listed, oldest first, under a mutex
/// taken only when it crosses the threshold (with hysteresis). When a growth takes the total
/// past the limit, the oldest offenders are shed until the excess is covered: the shed callback
/// gets their ids (it closes them on their own loops), and their bytes count as pending release
/// until the holder settles, so later growth before the release does not shed more.
///
/// Holders below their threshold are never shed: with none listed, the budget is exceeded
/// rather than closing well-behaved connections.
///
/// Threading: update/settle/release from the holder's own thread; the shed callback runs on the
/// thread whose growth hit the limit, without the mutex held.
{
public:
	static constexpr std::size_t GRANULE_BYTES = 16 * 1024;

	using ShedCallback = std::function<void(std::uint64_t holderId)>;

	struct Account
	/// Embedded in a holder; must be released before it is destroyed.
	{
		std::uint64_t id = 0;
		std::size_t counted = 0;          ///< this holder's bytes in the total (holder only)
		bool listed = false;              ///< the holder put itself on the offender list (holder only)
		bool everListed = false;          ///< it did at least once, so it may be shed (holder only)
		std::atomic<std::size_t> held{0}; ///< latest figure, read by the shedder while listed
		std::int64_t offenderSinceMs = 0; ///< guarded by the budget's mutex from here on
		bool onList = false;              ///< still on the list (not taken off by shedding)
		bool shed = false;                ///< chosen to be closed
		std::size_t pendingBytes = 0;     ///< its bytes counted as pending release
	};

	MemoryBudget(std::size_t limit, ShedCallback shed);
	/// limit 0: no limit (the total is still kept, for tests and diagnostics).

	MemoryBudget(const MemoryBudget&) = delete;
	MemoryBudget& operator=(const MemoryBudget&) = delete;

	void update(Account& account, std::size_t held, std::int64_t nowMs, std::size_t offenderThreshold)
	/// The holder now holds held bytes. Lists or unlists it as an offender (above threshold, below
	/// half of it) and sheds offenders when its growth takes the total past the limit.
	{
		// Inline for the usual case, called on every read and send: an unlisted holder within its
		// threshold whose figure moved less than a granule changes nothing.
		if (!account.listed && held <= offenderThreshold)
		{
			const std::size_t before = account.counted;
			const std::size_t moved = held > before ? held - before : before - held;
			if (moved == 0 || (held != 0 && moved < GRANULE_BYTES))
				return;
		}
		updateSlow(account, held, nowMs, offenderThreshold);
	}

	void settle(Account& account);
	/// A shed holder has let go of its memory: its bytes stop counting as pending release.

	void release(Account& account);
	/// The holder is gone: its bytes leave the total and it leaves the list.

	std::size_t total() const { return static_cast<std::size_t>(_total.load(std::memory_order_relaxed)); }
	std::size_t limit() const { return _limit; }
	std::size_t offenderCount() const;

private:
	void updateSlow(Account& account, std::size_t held, std::int64_t nowMs, std::size_t offenderThreshold);
	void list(Account& account, std::int64_t nowMs);
	void unlist(Account& account);
	void shedOffenders();

	const std::size_t _limit;
	const ShedCallback _shed;
	std::atomic<std::int64_t> _total{0};
	mutable std::mutex _mutex;
	std::vector<Account*> _offenders; ///< oldest first
	std::size_t _pendingRelease = 0;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_MemoryBudget_INCLUDED
