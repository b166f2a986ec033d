//
// LogRing.cpp
//


#include "console/LogRing.h"
#include "switchboard/util/Json.h"
#include "Poco/AutoPtr.h"


namespace Switchboard {
namespace Core {


namespace {


const char* levelName(int priority)
{
	switch (priority)
	{
		case Poco::Message::PRIO_FATAL:
			return "fatal";
		case Poco::Message::PRIO_CRITICAL:
			return "critical";
		case Poco::Message::PRIO_ERROR:
			return "error";
		default:
			return "warning";
	}
}


std::string cut(const std::string& text, std::size_t limit)
{
	if (text.size() <= limit)
		return text;
	std::size_t end = limit;
	// Not inside a UTF-8 sequence: back off over continuation bytes.
	while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
		--end;
	return text.substr(0, end) + "...";
}


} // namespace


LogRing::LogRing(std::size_t capacity):
    _capacity(capacity > 0 ? capacity : 1)
{
}


LogRing::~LogRing() = default;


void LogRing::log(const Poco::Message& message)
{
	if (message.getPriority() > Poco::Message::PRIO_WARNING)
		return;
	Line line{message.getTime().epochMicroseconds() / 1000, static_cast<int>(message.getPriority()),
	          cut(message.getSource(), 200), cut(message.getText(), MAX_TEXT)};
	std::lock_guard<std::mutex> lock(_mutex);
	if (_lines.size() >= _capacity)
	{
		_lines.pop_front();
		++_dropped;
	}
	_lines.push_back(std::move(line));
}


std::string LogRing::json() const
{
	std::lock_guard<std::mutex> lock(_mutex);
	std::string out = "{\"dropped\":" + std::to_string(_dropped) + ",\"lines\":[";
	bool first = true;
	for (const Line& line : _lines)
	{
		out += first ? "{" : ",{";
		first = false;
		out += "\"time_ms\":" + std::to_string(line.timeMs);
		out += ",\"level\":\"";
		out += levelName(line.priority);
		out += "\",\"source\":";
		Json::appendString(out, line.source);
		out += ",\"text\":";
		Json::appendString(out, line.text);
		out += "}";
	}
	return out + "]}";
}


std::size_t LogRing::size() const
{
	std::lock_guard<std::mutex> lock(_mutex);
	return _lines.size();
}


LogRing& LogRing::process()
{
	static Poco::AutoPtr<LogRing> ring(new LogRing());
	return *ring;
}


} // namespace Core
} // namespace Switchboard
