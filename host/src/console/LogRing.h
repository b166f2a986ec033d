//
// LogRing.h
//
// A Poco channel that keeps the last N log lines at warning and above in memory, for the admin
// console's "recent warnings and errors".
//


#ifndef Switchboard_Core_LogRing_INCLUDED
#define Switchboard_Core_LogRing_INCLUDED


#include "Poco/Channel.h"
#include "Poco/Message.h"
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>


namespace Switchboard {
namespace Core {


class LogRing: public Poco::Channel
/// Bounded: at most capacity lines (each cut to MAX_TEXT bytes) are kept, the oldest dropped
/// first. Lines below Poco's PRIO_WARNING are ignored. Thread-safe; log() takes a short lock and
/// copies one line, so it can sit beside the console channel behind the AsyncChannel.
{
public:
	static constexpr std::size_t DEFAULT_CAPACITY = 200;
	static constexpr std::size_t MAX_TEXT = 2048;

	explicit LogRing(std::size_t capacity = DEFAULT_CAPACITY);

	void log(const Poco::Message& message) override;

	std::string json() const;
	/// {"dropped":N,"lines":[{"time_ms":..,"level":"warning","source":"..","text":".."}, ...]},
	/// oldest first; dropped counts the lines that fell out of the ring.

	std::size_t size() const;

	static LogRing& process();
	/// The ring of this process (main() puts it beside the console channel).

protected:
	~LogRing() override;

private:
	struct Line
	{
		std::int64_t timeMs;
		int priority;
		std::string source;
		std::string text;
	};

	const std::size_t _capacity;
	mutable std::mutex _mutex;
	std::deque<Line> _lines;
	std::uint64_t _dropped = 0;
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_LogRing_INCLUDED
