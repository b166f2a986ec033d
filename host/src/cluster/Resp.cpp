//
// Resp.cpp
//


#include "cluster/Resp.h"


namespace Switchboard {
namespace Cluster {


namespace {

constexpr int MAX_DEPTH = 8;
constexpr std::int64_t MAX_ELEMENTS = 1 << 20;

void appendNumberLine(std::string& out, char marker, std::size_t n)
{
	out += marker;
	out += std::to_string(n);
	out += "\r\n";
}

} // namespace


void appendCommand(std::string& out, const std::vector<std::string_view>& arguments)
{
	appendNumberLine(out, '*', arguments.size());
	for (std::string_view a : arguments)
	{
		appendNumberLine(out, '$', a.size());
		out.append(a.data(), a.size());
		out += "\r\n";
	}
}


void RespParser::feed(const char* data, std::size_t size)
{
	// Compact once the consumed part dominates, so a long-lived connection's buffer stays small.
	if (_start > 0 && _start >= _buffer.size() / 2)
	{
		_buffer.erase(0, _start);
		_start = 0;
	}
	_buffer.append(data, size);
}


void RespParser::reset()
{
	_buffer.clear();
	_start = 0;
}


bool RespParser::next(RespValue& out)
{
	std::size_t pos = _start;
	RespValue value;
	if (!parse(pos, value, 0))
		return false;
	_start = pos;
	out = std::move(value);
	return true;
}


bool RespParser::line(std::size_t& pos, std::string_view& text)
{
	// The same limit whether the line is complete or not, so splitting never changes the outcome.
	constexpr std::size_t MAX_LINE = 64 * 1024;
	std::size_t end = _buffer.find("\r\n", pos);
	if ((end == std::string::npos ? _buffer.size() : end) - pos > MAX_LINE)
		throw RespProtocolError("RESP line longer than 64 KiB");
	if (end == std::string::npos)
		return false;
	text = std::string_view(_buffer).substr(pos, end - pos);
	pos = end + 2;
	return true;
}


std::int64_t RespParser::number(std::string_view text) const
{
	if (text.empty() || text.size() > 19)
		throw RespProtocolError("bad RESP number");
	bool negative = text[0] == '-';
	std::size_t i = negative ? 1 : 0;
	if (i == text.size())
		throw RespProtocolError("bad RESP number");
	std::int64_t value = 0;
	for (; i < text.size(); ++i)
	{
		char c = text[i];
		if (c < '0' || c > '9')
			throw RespProtocolError("bad RESP number");
		value = value * 10 + (c - '0');
	}
	return negative ? -value : value;
}


bool RespParser::parse(std::size_t& pos, RespValue& out, int depth)
{
	if (depth > MAX_DEPTH)
		throw RespProtocolError("RESP nesting too deep");
	if (pos >= _buffer.size())
		return false;
	char marker = _buffer[pos];
	std::size_t p = pos + 1;
	std::string_view text;
	if (!line(p, text))
		return false;
	switch (marker)
	{
		case '+':
			out.type = RespValue::Type::SIMPLE;
			out.text.assign(text);
			break;
		case '-':
			out.type = RespValue::Type::ERROR;
			out.text.assign(text);
			break;
		case ':':
			out.type = RespValue::Type::INTEGER;
			out.integer = number(text);
			break;
		case '$':
		{
			std::int64_t length = number(text);
			if (length == -1)
			{
				out.type = RespValue::Type::NIL;
				break;
			}
			if (length < 0 || static_cast<std::uint64_t>(length) > _maxBulk)
				throw RespProtocolError("RESP bulk string length out of range");
			auto n = static_cast<std::size_t>(length);
			if (_buffer.size() - p < n + 2)
				return false;
			if (_buffer[p + n] != '\r' || _buffer[p + n + 1] != '\n')
				throw RespProtocolError("RESP bulk string not followed by CRLF");
			out.type = RespValue::Type::BULK;
			out.text.assign(_buffer, p, n);
			p += n + 2;
			break;
		}
		case '*':
		{
			std::int64_t count = number(text);
			if (count == -1)
			{
				out.type = RespValue::Type::NIL;
				break;
			}
			if (count < 0 || count > MAX_ELEMENTS)
				throw RespProtocolError("RESP array length out of range");
			out.type = RespValue::Type::ARRAY;
			out.elements.clear();
			out.elements.reserve(static_cast<std::size_t>(std::min<std::int64_t>(count, 1024)));
			for (std::int64_t i = 0; i < count; ++i)
			{
				RespValue element;
				if (!parse(p, element, depth + 1))
					return false;
				out.elements.push_back(std::move(element));
			}
			break;
		}
		default:
			throw RespProtocolError("unknown RESP type marker");
	}
	pos = p;
	return true;
}


} // namespace Cluster
} // namespace Switchboard
