//
// TimerWheel.cpp
//


#include "net/TimerWheel.h"


namespace Switchboard {
namespace Core {


TimerWheel::TimerWheel(std::int64_t nowMs):
    _heads(SLOTS),
    _currentTick(nowMs / TICK_MS)
{
	for (auto& head : _heads)
		head.prev = head.next = &head;
}


TimerWheel::~TimerWheel()
{
	for (auto& head : _heads)
	{
		while (head.next != &head)
			cancel(*head.next);
	}
}


std::size_t TimerWheel::slotOf(std::int64_t dueMs) const
{
	std::int64_t tick = (dueMs + TICK_MS - 1) / TICK_MS; // rounded up: never early
	if (tick <= _currentTick)
		tick = _currentTick + 1;
	return static_cast<std::size_t>(tick) % SLOTS;
}


void TimerWheel::markSlot(std::size_t slot)
{
	_occupied[slot / 64] |= std::uint64_t(1) << (slot % 64);
}


void TimerWheel::clearSlotIfEmpty(std::size_t slot)
{
	if (_heads[slot].next == &_heads[slot])
		_occupied[slot / 64] &= ~(std::uint64_t(1) << (slot % 64));
}


void TimerWheel::link(TimerNode& node)
{
	std::size_t slot = slotOf(node.due);
	node.slot = static_cast<std::uint32_t>(slot);
	markSlot(slot);
	TimerNode& head = _heads[slot];
	node.next = &head;
	node.prev = head.prev;
	head.prev->next = &node;
	head.prev = &node;
}


void TimerWheel::unlink(TimerNode& node)
{
	node.prev->next = node.next;
	node.next->prev = node.prev;
	node.prev = node.next = nullptr;
}


void TimerWheel::schedule(TimerNode& node, std::int64_t dueMs)
{
	cancel(node);
	node.due = dueMs;
	link(node);
	++_count;
}


void TimerWheel::cancel(TimerNode& node)
{
	if (!node.linked())
		return;
	unlink(node);
	clearSlotIfEmpty(node.slot);
	--_count;
}


void TimerWheel::advance(std::int64_t nowMs)
{
	std::int64_t targetTick = nowMs / TICK_MS;
	while (_currentTick < targetTick && _count > 0)
	{
		++_currentTick;
		TimerNode& head = _heads[static_cast<std::size_t>(_currentTick) % SLOTS];
		if (head.next == &head)
			continue;
		// Move the slot's list aside first, so a callback that reschedules into this very slot
		// (a deadline one revolution later) is not visited again in this pass.
		TimerNode pending;
		pending.next = head.next;
		pending.prev = head.prev;
		pending.next->prev = &pending;
		pending.prev->next = &pending;
		head.next = head.prev = &head;
		clearSlotIfEmpty(static_cast<std::size_t>(_currentTick) % SLOTS);
		while (pending.next != &pending)
		{
			TimerNode* node = pending.next;
			unlink(*node);
			if (node->due <= nowMs)
			{
				--_count;
				node->fire(node);
			}
			else
			{
				link(*node); // a far deadline: wait for a later revolution
			}
		}
	}
	if (_currentTick < targetTick)
		_currentTick = targetTick; // nothing scheduled: skip the idle ticks at once
}


int TimerWheel::millisecondsToNextTick(std::int64_t nowMs) const
{
	if (_count == 0)
		return -1;
	// The first occupied slot after the current tick, at most one revolution ahead.
	std::size_t start = static_cast<std::size_t>(_currentTick + 1) % SLOTS;
	std::size_t distance = SLOTS;
	for (std::size_t scanned = 0; scanned < SLOTS;)
	{
		std::size_t slot = (start + scanned) % SLOTS;
		std::uint64_t word = _occupied[slot / 64] >> (slot % 64);
		if (word != 0)
		{
			distance = scanned + static_cast<std::size_t>(__builtin_ctzll(word));
			break;
		}
		scanned += 64 - slot % 64;
	}
	if (distance >= SLOTS)
		distance = SLOTS - 1;
	std::int64_t dueMs = (_currentTick + 1 + static_cast<std::int64_t>(distance)) * TICK_MS;
	return dueMs <= nowMs ? 0 : static_cast<int>(dueMs - nowMs);
}


} // namespace Core
} // namespace Switchboard
