//
// Log.h
//
// Switchboard SDK: the per-plugin logger and the clock.
//


#ifndef Switchboard_Log_INCLUDED
#define Switchboard_Log_INCLUDED


#include <cstdint>
#include <string_view>


namespace Switchboard {


enum class LogLevel
{
	LEVEL_TRACE,
	LEVEL_DEBUG,
	LEVEL_INFO,
	LEVEL_NOTICE,
	LEVEL_WARNING,
	LEVEL_ERROR
};


class Logger
/// A plugin's logger. The host prefixes every line with the plugin's name and applies the
/// configured level. Thread-safe: call from any thread. The host owns it; it lives until the
/// plugin is destroyed.
///
/// Logging never blocks an event loop on I/O for long, but formatting still costs: guard
/// per-message logging with enabled() and keep it off the hot path by default.
{
public:
	virtual ~Logger() = default;

	virtual bool enabled(LogLevel level) const noexcept = 0;
	/// True if a message at this level would be written.

	virtual void log(LogLevel level, std::string_view message) = 0;
	/// Writes one line. The message is copied before the call returns.

	void debug(std::string_view message) { log(LogLevel::LEVEL_DEBUG, message); }
	void info(std::string_view message) { log(LogLevel::LEVEL_INFO, message); }
	void warning(std::string_view message) { log(LogLevel::LEVEL_WARNING, message); }
	void error(std::string_view message) { log(LogLevel::LEVEL_ERROR, message); }
};


class Clock
/// Time as the host sees it; injectable so FakeHost can drive a virtual clock.
/// Thread-safe; owned by the host.
{
public:
	virtual ~Clock() = default;

	virtual std::int64_t monotonicMs() const noexcept = 0;
	/// Milliseconds from an arbitrary origin; never goes backwards. Use for timeouts.

	virtual std::int64_t wallMs() const noexcept = 0;
	/// Milliseconds since the Unix epoch (UTC). Use for timestamps shown to people.
};


} // namespace Switchboard


#endif // Switchboard_Log_INCLUDED
