//
// TimerWheel.h
//
// A hashed timer wheel: O(1) schedule and cancel, intrusive nodes, one per event loop.
//


#ifndef Switchboard_Core_TimerWheel_INCLUDED
#define Switchboard_Core_TimerWheel_INCLUDED


#include <cstdint>
#include <vector>


namespace Switchboard {
namespace Core {


struct TimerNode
/// Embedded in whatever owns the timer (a connection, an SDK timer), so scheduling never
/// allocates. The owner must cancel a linked node before destroying it.
{
	TimerNode* prev = nullptr;
	TimerNode* next = nullptr;
	std::int64_t due = 0;
	std::uint32_t slot = 0; ///< the wheel slot it is linked into, while linked
	void (*fire)(TimerNode* node) = nullptr;
	void* owner = nullptr;

	bool linked() const { return prev != nullptr; }
};


class TimerWheel
/// Slots of TICK_MS each; a node lands in the slot of its due time and is only looked at when
/// the wheel passes that slot (once per revolution for far deadlines), so idle connections
/// cost nothing per tick. Not thread-safe: owned by one loop.
{
public:
	static constexpr std::int64_t TICK_MS = 10;
	static constexpr std::size_t SLOTS = 1024;

	explicit TimerWheel(std::int64_t nowMs);
	~TimerWheel();

	void schedule(TimerNode& node, std::int64_t dueMs);
	/// (Re)schedules node; a due time in the past fires at the next advance.

	void cancel(TimerNode& node);
	/// Unlinks node if it is scheduled; safe to call on an unscheduled node.

	void advance(std::int64_t nowMs);
	/// Fires every node due at or before nowMs. A fired node is unlinked before its callback,
	/// which may reschedule it or schedule and cancel others.

	int millisecondsToNextTick(std::int64_t nowMs) const;
	/// How long a loop may sleep: until the next slot holding a timer (-1 when nothing is
	/// scheduled), so idle connections with far deadlines do not wake the loop every tick.

	std::size_t size() const { return _count; }

private:
	std::size_t slotOf(std::int64_t dueMs) const;
	void link(TimerNode& node);
	static void unlink(TimerNode& node);

	void markSlot(std::size_t slot);
	void clearSlotIfEmpty(std::size_t slot);

	std::vector<TimerNode> _heads;            // sentinel of each slot's circular list
	std::uint64_t _occupied[SLOTS / 64] = {}; // one bit per non-empty slot: the next wake-up in a few words
	std::int64_t _currentTick;
	std::size_t _count = 0;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_TimerWheel_INCLUDED
