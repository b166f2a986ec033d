//
// TimerWheel.cpp
//


#include "core/TimerWheel.h"


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


void TimerWheel::link(TimerNode& node)
{
	TimerNode& head = _heads[slotOf(node.due)];
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
	std::int64_t nextTickMs = (nowMs / TICK_MS + 1) * TICK_MS;
	return static_cast<int>(nextTickMs - nowMs);
}


} // namespace Core
} // namespace Switchboard
