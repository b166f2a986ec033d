//
// JsonText.cpp
//


#include "JsonText.h"
#include <cstdint>


namespace Switchboard {
namespace JsonText {


namespace {


class Scanner
/// One pass over valid or invalid JSON; every method leaves pos after what it consumed.
{
public:
	explicit Scanner(std::string_view text):
	    _text(text)
	{
	}

	void space()
	{
		while (_pos < _text.size() &&
		       (_text[_pos] == ' ' || _text[_pos] == '\t' || _text[_pos] == '\n' || _text[_pos] == '\r'))
			++_pos;
	}

	bool string()
	{
		if (!peek('"'))
			return false;
		for (++_pos; _pos < _text.size(); ++_pos)
		{
			const auto c = static_cast<unsigned char>(_text[_pos]);
			if (c == '"')
			{
				++_pos;
				return true;
			}
			if (c < 0x20)
				return false;
			if (c != '\\')
				continue;
			if (++_pos >= _text.size())
				return false;
			const char e = _text[_pos];
			if (e == 'u')
			{
				for (int i = 0; i < 4; ++i)
					if (++_pos >= _text.size() || !isHex(_text[_pos]))
						return false;
			}
			else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
				return false;
		}
		return false;
	}

	bool number()
	{
		// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
		if (peek('-'))
			++_pos;
		if (peek('0'))
			++_pos;
		else if (!digits())
			return false;
		if (peek('.'))
		{
			++_pos;
			if (!digits())
				return false;
		}
		if (peek('e') || peek('E'))
		{
			++_pos;
			if (peek('+') || peek('-'))
				++_pos;
			if (!digits())
				return false;
		}
		return true;
	}

	bool value(int depthLeft)
	{
		space();
		if (_pos >= _text.size())
			return false;
		const char c = _text[_pos];
		if (c == '"')
			return string();
		if (c == '{' || c == '[')
		{
			if (depthLeft == 0)
				return false;
			const bool object = c == '{';
			++_pos;
			space();
			if (peek(object ? '}' : ']'))
			{
				++_pos;
				return true;
			}
			while (true)
			{
				if (object)
				{
					space();
					if (!string())
						return false;
					space();
					if (!peek(':'))
						return false;
					++_pos;
				}
				if (!value(depthLeft - 1))
					return false;
				space();
				if (peek(','))
				{
					++_pos;
					continue;
				}
				if (!peek(object ? '}' : ']'))
					return false;
				++_pos;
				return true;
			}
		}
		if (c == '-' || (c >= '0' && c <= '9'))
			return number();
		for (std::string_view literal : {"true", "false", "null"})
			if (_text.substr(_pos, literal.size()) == literal)
			{
				_pos += literal.size();
				return true;
			}
		return false;
	}

	bool peek(char c) const { return _pos < _text.size() && _text[_pos] == c; }
	void skip() { ++_pos; }
	bool atEnd() const { return _pos == _text.size(); }
	std::size_t pos() const { return _pos; }

private:
	static bool isHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

	bool digits()
	{
		const std::size_t start = _pos;
		while (_pos < _text.size() && _text[_pos] >= '0' && _text[_pos] <= '9')
			++_pos;
		return _pos > start;
	}

	std::string_view _text;
	std::size_t _pos = 0;
};


unsigned hexValue(char c)
{
	return c <= '9' ? unsigned(c - '0') : unsigned((c | 0x20) - 'a' + 10);
}


void appendUtf8(std::string& out, std::uint32_t cp)
{
	if (cp < 0x80)
		out.push_back(static_cast<char>(cp));
	else if (cp < 0x800)
	{
		out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
		out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
	}
	else if (cp < 0x10000)
	{
		out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
		out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
		out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
	}
	else
	{
		out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
		out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
		out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
		out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
	}
}


} // namespace


bool isValid(std::string_view text, int maxDepth)
{
	Scanner scanner(text);
	if (!scanner.value(maxDepth))
		return false;
	scanner.space();
	return scanner.atEnd();
}


bool forEachMember(std::string_view object, const std::function<bool(const std::string&, std::string_view)>& visit)
{
	Scanner s(object);
	s.space();
	if (!s.peek('{'))
		return false;
	s.skip();
	while (true)
	{
		s.space();
		if (s.peek('}') || s.atEnd())
			return true;
		const std::size_t keyStart = s.pos();
		if (!s.string())
			return false;
		std::string name;
		if (!stringValue(object.substr(keyStart, s.pos() - keyStart), name))
			return false;
		s.space();
		if (!s.peek(':'))
			return false;
		s.skip();
		s.space();
		const std::size_t valueStart = s.pos();
		if (!s.value(MAX_DEPTH))
			return false;
		if (!visit(name, object.substr(valueStart, s.pos() - valueStart)))
			return true;
		s.space();
		if (!s.peek(','))
			return true;
		s.skip();
	}
}


bool member(std::string_view object, std::string_view key, std::string_view& value)
{
	bool found = false;
	forEachMember(object, [&](const std::string& name, std::string_view raw) {
		if (name == key)
		{
			value = raw;
			found = true;
		}
		return true;
	});
	return found;
}


bool stringValue(std::string_view token, std::string& value)
{
	if (token.size() < 2 || token.front() != '"' || token.back() != '"')
		return false;
	value.clear();
	for (std::size_t i = 1; i + 1 < token.size(); ++i)
	{
		const char c = token[i];
		if (c != '\\')
		{
			value.push_back(c);
			continue;
		}
		if (++i + 1 >= token.size())
			return false; // a backslash right before the closing quote
		switch (token[i])
		{
			case 'b':
				value.push_back('\b');
				break;
			case 'f':
				value.push_back('\f');
				break;
			case 'n':
				value.push_back('\n');
				break;
			case 'r':
				value.push_back('\r');
				break;
			case 't':
				value.push_back('\t');
				break;
			case 'u':
			{
				if (i + 4 >= token.size())
					return false;
				std::uint32_t cp = 0;
				for (int k = 1; k <= 4; ++k)
					cp = cp * 16 + hexValue(token[i + k]);
				i += 4;
				// A surrogate pair becomes one code point; a lone surrogate is kept as its 3 bytes.
				if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < token.size() && token[i + 1] == '\\' && token[i + 2] == 'u')
				{
					std::uint32_t low = 0;
					for (int k = 3; k <= 6; ++k)
						low = low * 16 + hexValue(token[i + k]);
					if (low >= 0xDC00 && low < 0xE000)
					{
						cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
						i += 6;
					}
				}
				appendUtf8(value, cp);
				break;
			}
			default:
				value.push_back(token[i]); // " \ /
		}
	}
	return true;
}


bool isNull(std::string_view token)
{
	return token == "null";
}


} // namespace JsonText
} // namespace Switchboard
