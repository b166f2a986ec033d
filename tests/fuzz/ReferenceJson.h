//
// ReferenceJson.h
//
// A strict RFC 8259 JSON checker written for the fuzz targets only: an explicit-stack state
// machine (no recursion, so any depth is safe) that reports how deep the text nests, so each
// production reader can be compared with it under its own documented depth limit; and a
// decoder of string tokens with either treatment of lone surrogate escapes.
//


#ifndef Switchboard_Test_ReferenceJson_INCLUDED
#define Switchboard_Test_ReferenceJson_INCLUDED


#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace Test {


struct JsonAnalysis
{
	bool valid = false;
	///< Exactly one JSON value with optional whitespace (space, tab, LF, CR) around it. Bytes of
	///< 0x80 and above inside strings are accepted as they are: UTF-8 is a separate question.

	char top = 0;
	///< The first character of the top-level value when valid: '{', '[', '"', 't', 'f', 'n' or a
	///< number's first character.

	std::size_t valueDepth = 0;
	///< The most containers enclosing any one value (a scalar at the top: 0; [1]: 1).

	std::size_t containerDepth = 0;
	///< The longest chain of nested containers, the outermost included ([]: 1, [[]]: 2).
};


class ReferenceJsonChecker
{
public:
	static JsonAnalysis analyse(std::string_view text)
	{
		ReferenceJsonChecker checker(text);
		return checker.run();
	}

private:
	explicit ReferenceJsonChecker(std::string_view text):
	    _text(text)
	{
	}

	enum class Expect
	{
		VALUE,
		KEY,
		AFTER_VALUE
	};

	JsonAnalysis run()
	{
		JsonAnalysis result;
		Expect expect = Expect::VALUE;
		skipSpace();
		if (_pos < _text.size())
			result.top = _text[_pos];
		while (true)
		{
			skipSpace();
			if (expect == Expect::VALUE)
			{
				const std::size_t depth = _stack.size();
				result.valueDepth = std::max(result.valueDepth, depth);
				if (_pos >= _text.size())
					return fail();
				const char c = _text[_pos];
				if (c == '{' || c == '[')
				{
					result.containerDepth = std::max(result.containerDepth, depth + 1);
					_stack.push_back(c);
					++_pos;
					skipSpace();
					if (_pos < _text.size() && _text[_pos] == (c == '{' ? '}' : ']'))
					{
						_stack.pop_back();
						++_pos;
						expect = Expect::AFTER_VALUE;
					}
					else
						expect = c == '{' ? Expect::KEY : Expect::VALUE;
					continue;
				}
				if (!scalar())
					return fail();
				expect = Expect::AFTER_VALUE;
				continue;
			}
			if (expect == Expect::KEY)
			{
				if (!string())
					return fail();
				skipSpace();
				if (_pos >= _text.size() || _text[_pos] != ':')
					return fail();
				++_pos;
				expect = Expect::VALUE;
				continue;
			}
			// AFTER_VALUE
			if (_stack.empty())
			{
				if (_pos != _text.size())
					return fail();
				result.valid = true;
				return result;
			}
			if (_pos >= _text.size())
				return fail();
			const char c = _text[_pos++];
			const bool inObject = _stack.back() == '{';
			if (c == ',')
				expect = inObject ? Expect::KEY : Expect::VALUE;
			else if (c == (inObject ? '}' : ']'))
				_stack.pop_back();
			else
				return fail();
		}
	}

	static JsonAnalysis fail() { return JsonAnalysis(); }

	void skipSpace()
	{
		while (_pos < _text.size() &&
		       (_text[_pos] == ' ' || _text[_pos] == '\t' || _text[_pos] == '\n' || _text[_pos] == '\r'))
			++_pos;
	}

	bool scalar()
	{
		const char c = _text[_pos];
		if (c == '"')
			return string();
		if (c == '-' || (c >= '0' && c <= '9'))
			return number();
		for (std::string_view word : {std::string_view("true"), std::string_view("false"), std::string_view("null")})
		{
			if (_text.compare(_pos, word.size(), word) == 0)
			{
				_pos += word.size();
				return true;
			}
		}
		return false;
	}

	bool digitAt(std::size_t i) const { return i < _text.size() && _text[i] >= '0' && _text[i] <= '9'; }

	bool number()
	{
		if (_text[_pos] == '-')
			++_pos;
		if (!digitAt(_pos))
			return false;
		if (_text[_pos] == '0')
			++_pos; // no leading zeros: another digit after this one ends the value
		else
			while (digitAt(_pos))
				++_pos;
		if (_pos < _text.size() && _text[_pos] == '.')
		{
			++_pos;
			if (!digitAt(_pos))
				return false;
			while (digitAt(_pos))
				++_pos;
		}
		if (_pos < _text.size() && (_text[_pos] == 'e' || _text[_pos] == 'E'))
		{
			++_pos;
			if (_pos < _text.size() && (_text[_pos] == '+' || _text[_pos] == '-'))
				++_pos;
			if (!digitAt(_pos))
				return false;
			while (digitAt(_pos))
				++_pos;
		}
		return true;
	}

	bool string()
	{
		if (_pos >= _text.size() || _text[_pos] != '"')
			return false;
		++_pos;
		while (_pos < _text.size())
		{
			const auto c = static_cast<unsigned char>(_text[_pos++]);
			if (c == '"')
				return true;
			if (c < 0x20)
				return false;
			if (c != '\\')
				continue;
			if (_pos >= _text.size())
				return false;
			const char e = _text[_pos++];
			if (e == 'u')
			{
				for (int k = 0; k < 4; ++k, ++_pos)
				{
					if (_pos >= _text.size() || !std::isxdigit(static_cast<unsigned char>(_text[_pos])))
						return false;
				}
			}
			else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos)
				return false;
		}
		return false;
	}

	std::string_view _text;
	std::size_t _pos = 0;
	std::vector<char> _stack;
};


inline JsonAnalysis analyseJson(std::string_view text)
{
	return ReferenceJsonChecker::analyse(text);
}


inline std::string compactJson(std::string_view valid)
/// A valid JSON text without its insignificant whitespace, everything else byte for byte.
{
	std::string out;
	bool inString = false;
	for (std::size_t i = 0; i < valid.size(); ++i)
	{
		const char c = valid[i];
		if (inString)
		{
			out += c;
			if (c == '\\')
				out += valid[++i];
			else if (c == '"')
				inString = false;
		}
		else if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
		{
			out += c;
			inString = c == '"';
		}
	}
	return out;
}


enum class LoneSurrogate
{
	WTF8,       ///< kept as its 3-byte generalized UTF-8 form (JavaScript strings, PeerJS, JsonText)
	REPLACEMENT ///< decoded as U+FFFD (Go's encoding/json, GoVPN)
};


inline std::string decodeJsonString(std::string_view token, LoneSurrogate lone)
/// The value of a string token that analyseJson() accepts (quotes included).
{
	auto hex4 = [&](std::size_t at) {
		std::uint32_t value = 0;
		for (std::size_t k = 0; k < 4; ++k)
		{
			const char h = token[at + k];
			value = value * 16 + static_cast<std::uint32_t>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
		}
		return value;
	};
	auto put = [](std::string& out, std::uint32_t cp) {
		if (cp < 0x80)
			out += static_cast<char>(cp);
		else if (cp < 0x800)
		{
			out += static_cast<char>(0xC0 | (cp >> 6));
			out += static_cast<char>(0x80 | (cp & 0x3F));
		}
		else if (cp < 0x10000)
		{
			out += static_cast<char>(0xE0 | (cp >> 12));
			out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
			out += static_cast<char>(0x80 | (cp & 0x3F));
		}
		else
		{
			out += static_cast<char>(0xF0 | (cp >> 18));
			out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
			out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
			out += static_cast<char>(0x80 | (cp & 0x3F));
		}
	};
	std::string out;
	const std::size_t end = token.size() - 1;
	std::size_t i = 1;
	while (i < end)
	{
		const char c = token[i];
		if (c != '\\')
		{
			out += c;
			++i;
			continue;
		}
		const char e = token[i + 1];
		i += 2;
		switch (e)
		{
			case 'b':
				out += '\b';
				continue;
			case 'f':
				out += '\f';
				continue;
			case 'n':
				out += '\n';
				continue;
			case 'r':
				out += '\r';
				continue;
			case 't':
				out += '\t';
				continue;
			case 'u':
				break;
			default:
				out += e; // " \ /
				continue;
		}
		std::uint32_t unit = hex4(i);
		i += 4;
		if (unit >= 0xD800 && unit <= 0xDBFF && i + 6 <= end && token[i] == '\\' && token[i + 1] == 'u')
		{
			const std::uint32_t low = hex4(i + 2);
			if (low >= 0xDC00 && low <= 0xDFFF)
			{
				put(out, 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
				i += 6;
				continue;
			}
		}
		if (unit >= 0xD800 && unit <= 0xDFFF && lone == LoneSurrogate::REPLACEMENT)
			unit = 0xFFFD;
		put(out, unit);
	}
	return out;
}


} // namespace Test
} // namespace Switchboard


#endif // Switchboard_Test_ReferenceJson_INCLUDED
