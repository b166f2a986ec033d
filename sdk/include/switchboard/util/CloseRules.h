//
// util/CloseRules.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): the one definition of the
// close codes, reasons and close timeouts an endpoint may name in WebSocketOptions, and of what
// the host sends when an option is left at its default. The host and FakeHost both use it, so a
// plugin's tests refuse and close exactly as the host does.
//


#ifndef Switchboard_Util_CloseRules_INCLUDED
#define Switchboard_Util_CloseRules_INCLUDED


#include "switchboard/WebSocket.h"
#include "switchboard/util/HttpText.h"
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>


namespace Switchboard {
namespace CloseRules {


constexpr std::size_t MAX_REASON_BYTES = 123;
///< A close frame's payload is at most 125 bytes: the two-byte code, then the reason.

constexpr std::int64_t MIN_CLOSE_TIMEOUT_MS = 100;
constexpr std::int64_t MAX_CLOSE_TIMEOUT_MS = 60000;
///< WebSocketOptions::closeTimeoutMs, when not -1 (the range of [websocket] close_timeout_ms).
constexpr std::int64_t MAX_SEND_STALL_TIMEOUT_MS = 3600000;
///< WebSocketOptions::sendStallTimeoutMs, when not -1: 0 (no limit) up to an hour.
constexpr std::int64_t MAX_OUTPUT_MESSAGES = 100000000;
///< WebSocketOptions::maxOutputMessages: 0 (no limit) up to this.

constexpr const char* DEFAULT_IDLE_REASON = "idle timeout";
constexpr const char* DEFAULT_OVERFLOW_REASON = "slow consumer";
constexpr const char* DEFAULT_INVALID_TEXT_REASON = "text message is not valid UTF-8";
///< What FakeHost sends for invalid UTF-8 text; the host's decoder also says where it failed.


inline bool isSendableCode(std::int64_t code) noexcept
/// A code a server may put in a close frame (RFC 6455 7.4 and the IANA registry): 1000-1003,
/// 1007-1014, 3000-4999. 1004-1006 and 1015 are reserved, 1016-2999 unassigned.
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}


inline std::string checkCode(const char* field, std::int32_t code)
/// "" when code is -1 (the host's), CloseCode::NONE or sendable; else the problem.
{
	if (code == -1 || code == CloseCode::NONE || isSendableCode(code))
		return std::string();
	return std::string(field) + " " + std::to_string(code) +
	       " cannot be sent (expected -1, 0 for no status, 1000-1003, 1007-1014 or 3000-4999)";
}


inline std::string checkReason(const char* field, const char* reason)
/// "" when reason is null or at most MAX_REASON_BYTES of valid UTF-8; else the problem.
{
	if (reason == nullptr)
		return std::string();
	std::string_view text(reason);
	if (text.size() > MAX_REASON_BYTES)
		return std::string(field) + " is " + std::to_string(text.size()) + " bytes (at most " +
		       std::to_string(MAX_REASON_BYTES) + ")";
	if (HttpText::replaceInvalidUtf8(text) != text)
		return std::string(field) + " is not valid UTF-8";
	return std::string();
}


inline std::string checkTimeout(const char* field, std::int64_t ms, std::int64_t minimum, std::int64_t maximum,
                                const char* hostKey)
/// "" when ms is -1 (the host's hostKey) or within minimum..maximum; else the problem.
{
	if (ms == -1 || (ms >= minimum && ms <= maximum))
		return std::string();
	return std::string(field) + " " + std::to_string(ms) + " is outside " + std::to_string(minimum) + ".." +
	       std::to_string(maximum) + " (or -1 for [websocket] " + hostKey + ")";
}


inline std::string checkCount(const char* field, std::int64_t count, std::int64_t maximum)
/// "" when count is 0 (no limit) up to maximum; else the problem.
{
	if (count >= 0 && count <= maximum)
		return std::string();
	return std::string(field) + " " + std::to_string(count) + " is outside 0.." + std::to_string(maximum) +
	       " (0 for no limit)";
}


inline std::string checkOptions(const WebSocketOptions& options)
/// The close codes, reasons, close timeouts and message count of an endpoint's options, as Setup::addWebSocket
/// checks them: "" or the first problem, e.g. "idleCloseCode 1006 cannot be sent (...)" or
/// "closeTimeoutMs 50 is outside 100..60000 (or -1 for [websocket] close_timeout_ms)".
/// Thread-safe (pure; reads the reasons' characters).
{
	for (std::string problem :
	     {checkCode("idleCloseCode", options.idleCloseCode), checkReason("idleCloseReason", options.idleCloseReason),
	      checkCode("overflowCloseCode", options.overflowCloseCode),
	      checkReason("overflowCloseReason", options.overflowCloseReason),
	      checkTimeout("closeTimeoutMs", options.closeTimeoutMs, MIN_CLOSE_TIMEOUT_MS, MAX_CLOSE_TIMEOUT_MS,
	                   "close_timeout_ms"),
	      checkTimeout("sendStallTimeoutMs", options.sendStallTimeoutMs, 0, MAX_SEND_STALL_TIMEOUT_MS,
	                   "send_stall_timeout_ms"),
	      checkCode("invalidTextCloseCode", options.invalidTextCloseCode),
	      checkReason("invalidTextCloseReason", options.invalidTextCloseReason),
	      checkCount("maxOutputMessages", options.maxOutputMessages, MAX_OUTPUT_MESSAGES),
	      checkTimeout("shutdownCloseTimeoutMs", options.shutdownCloseTimeoutMs, MIN_CLOSE_TIMEOUT_MS,
	                   MAX_CLOSE_TIMEOUT_MS, "close_timeout_ms, through closeTimeoutMs")})
	{
		if (!problem.empty())
			return problem;
	}
	return std::string();
}


inline std::uint16_t idleCode(const WebSocketOptions& options) noexcept
/// The code of the idle close: the endpoint's, else 1001 (CloseCode::NONE: a close without status).
{
	return options.idleCloseCode >= 0 ? static_cast<std::uint16_t>(options.idleCloseCode) : CloseCode::GOING_AWAY;
}


inline std::string idleReason(const WebSocketOptions& options)
/// The reason of the idle close: the endpoint's, else "idle timeout"; empty with CloseCode::NONE
/// (a close frame without status has no reason either).
{
	if (idleCode(options) == CloseCode::NONE)
		return std::string();
	return options.idleCloseReason && *options.idleCloseReason ? options.idleCloseReason : DEFAULT_IDLE_REASON;
}


inline bool hasOverflowClose(const WebSocketOptions& options) noexcept
/// Whether the endpoint names its own slow-consumer close, code or reason; the host then also
/// tries to send it to the peer (see WebSocketOptions).
{
	return options.overflowCloseCode >= 0 || (options.overflowCloseReason && *options.overflowCloseReason);
}


inline std::uint16_t overflowCode(const WebSocketOptions& options) noexcept
/// The code of the slow-consumer close: the endpoint's, else 1008 (CloseCode::NONE: no status).
{
	return options.overflowCloseCode >= 0 ? static_cast<std::uint16_t>(options.overflowCloseCode)
	                                      : CloseCode::POLICY_VIOLATION;
}


inline std::string overflowReason(const WebSocketOptions& options)
/// The reason of the slow-consumer close: the endpoint's, else "slow consumer"; empty with
/// CloseCode::NONE.
{
	if (overflowCode(options) == CloseCode::NONE)
		return std::string();
	return options.overflowCloseReason && *options.overflowCloseReason ? options.overflowCloseReason
	                                                                   : DEFAULT_OVERFLOW_REASON;
}


inline bool hasInvalidTextClose(const WebSocketOptions& options) noexcept
/// Whether the endpoint names its own close for invalid UTF-8 text, code or reason.
{
	return options.invalidTextCloseCode >= 0 || (options.invalidTextCloseReason && *options.invalidTextCloseReason);
}


inline std::uint16_t invalidTextCode(const WebSocketOptions& options) noexcept
/// The code of the invalid UTF-8 text close: the endpoint's, else 1007 (CloseCode::NONE: no status).
{
	return options.invalidTextCloseCode >= 0 ? static_cast<std::uint16_t>(options.invalidTextCloseCode)
	                                         : CloseCode::INVALID_PAYLOAD;
}


inline std::string invalidTextReason(const WebSocketOptions& options, std::string_view hostReason)
/// The reason of the invalid UTF-8 text close: the endpoint's, else hostReason (what the host
/// found wrong); empty with CloseCode::NONE.
{
	if (invalidTextCode(options) == CloseCode::NONE)
		return std::string();
	return options.invalidTextCloseReason && *options.invalidTextCloseReason ? options.invalidTextCloseReason
	                                                                         : std::string(hostReason);
}


} // namespace CloseRules
} // namespace Switchboard


#endif // Switchboard_Util_CloseRules_INCLUDED
