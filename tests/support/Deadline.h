//
// Deadline.h
//
// A point in monotonic time by which a test's wait must end.
//


#ifndef Switchboard_Test_Deadline_INCLUDED
#define Switchboard_Test_Deadline_INCLUDED


#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>


namespace Switchboard {
namespace Test {


class Deadline
/// Every blocking call of the test support library takes a timeout and turns it into a Deadline,
/// so a loop of several reads still ends within the caller's bound. Negative timeouts count as 0.
{
public:
	explicit Deadline(int timeoutMs):
	    _endMicros(nowMicros() + static_cast<int64_t>(timeoutMs < 0 ? 0 : timeoutMs) * 1000)
	{
	}

	int remainingMs() const
	/// Milliseconds left, rounded up so a short poll() never spins; 0 once expired.
	{
		const int64_t left = _endMicros - nowMicros();
		if (left <= 0)
			return 0;
		return static_cast<int>((left + 999) / 1000);
	}

	bool expired() const { return nowMicros() >= _endMicros; }

	static int64_t nowMicros()
	/// Monotonic clock in microseconds (steady_clock; arbitrary epoch).
	{
		return std::chrono::duration_cast<std::chrono::microseconds>(
		           std::chrono::steady_clock::now().time_since_epoch())
		    .count();
	}

private:
	int64_t _endMicros;
};


inline bool waitUntil(int timeoutMs, int stepMs, const std::function<bool()>& condition)
/// Polls condition every stepMs until it holds (true) or timeoutMs passes (false).
{
	const Deadline deadline(timeoutMs);
	for (;;)
	{
		if (condition())
			return true;
		if (deadline.expired())
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(std::max(1, std::min(stepMs, deadline.remainingMs()))));
	}
}


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_Deadline_INCLUDED
