//
// util/HttpText.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): header look-up, UTF-8
// repair, form decoding and query parsing for HTTP text.
//


#ifndef Switchboard_Util_HttpText_INCLUDED
#define Switchboard_Util_HttpText_INCLUDED


#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace Switchboard {


using HeaderList = std::vector<std::pair<std::string, std::string>>;


namespace HttpText {

inline bool equalsIgnoreCase(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); ++i)
	{
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z')
			x = static_cast<char>(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = static_cast<char>(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

inline std::string_view findHeader(const HeaderList& headers, std::string_view name)
{
	for (const auto& h : headers)
		if (equalsIgnoreCase(h.first, name))
			return h.second;
	return {};
}

inline void appendUtf8(std::string& out, std::uint32_t cp)
{
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
}

inline bool isValidUtf8(std::string_view in)
/// True when in is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
/// Allocates nothing.
{
	std::size_t i = 0;
	while (i < in.size())
	{
		unsigned char c = static_cast<unsigned char>(in[i]);
		if (c < 0x80)
		{
			++i;
			continue;
		}
		std::size_t need = 0;
		unsigned char lower = 0x80, upper = 0xBF;
		if (c >= 0xC2 && c <= 0xDF)
			need = 1;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			need = 2;
			lower = c == 0xE0 ? 0xA0 : 0x80;
			upper = c == 0xED ? 0x9F : 0xBF;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			need = 3;
			lower = c == 0xF0 ? 0x90 : 0x80;
			upper = c == 0xF4 ? 0x8F : 0xBF;
		}
		else
			return false;
		if (in.size() - i - 1 < need)
			return false;
		for (std::size_t k = 1; k <= need; ++k)
		{
			unsigned char d = static_cast<unsigned char>(in[i + k]);
			if (d < lower || d > upper)
				return false;
			lower = 0x80, upper = 0xBF;
		}
		i += need + 1;
	}
	return true;
}

inline std::string replaceInvalidUtf8(std::string_view in)
/// Returns in with every maximal invalid UTF-8 subsequence replaced by U+FFFD, as
/// browsers' TextDecoder does.
{
	std::string out;
	out.reserve(in.size());
	std::size_t i = 0;
	while (i < in.size())
	{
		unsigned char c = static_cast<unsigned char>(in[i]);
		if (c < 0x80)
		{
			out += static_cast<char>(c);
			++i;
			continue;
		}
		std::size_t need = 0;
		std::uint32_t cp = 0, lower = 0x80, upper = 0xBF;
		if (c >= 0xC2 && c <= 0xDF)
			need = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
		{
			need = 2, cp = c & 0x0F;
			if (c == 0xE0)
				lower = 0xA0;
			if (c == 0xED)
				upper = 0x9F;
		}
		else if (c >= 0xF0 && c <= 0xF4)
		{
			need = 3, cp = c & 0x07;
			if (c == 0xF0)
				lower = 0x90;
			if (c == 0xF4)
				upper = 0x8F;
		}
		else
		{
			appendUtf8(out, 0xFFFD);
			++i;
			continue;
		}
		std::size_t j = i + 1, got = 0;
		for (; got < need && j < in.size(); ++got, ++j)
		{
			unsigned char d = static_cast<unsigned char>(in[j]);
			if (d < lower || d > upper)
				break;
			lower = 0x80, upper = 0xBF;
			cp = (cp << 6) | (d & 0x3F);
		}
		if (got == need)
			appendUtf8(out, cp);
		else
			appendUtf8(out, 0xFFFD);
		i = j;
	}
	return out;
}

inline int hexDigitValue(char c) noexcept
/// 0..15 for a hexadecimal digit (either case), -1 for anything else.
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}


inline std::string formDecode(std::string_view in)
/// application/x-www-form-urlencoded decoding as WHATWG URLSearchParams does it: '+' is a
/// space, %XX is a byte, a malformed '%' stays literal, invalid UTF-8 becomes U+FFFD.
{
	auto hex = hexDigitValue;
	std::string bytes;
	bytes.reserve(in.size());
	for (std::size_t i = 0; i < in.size(); ++i)
	{
		char c = in[i];
		if (c == '+')
			bytes += ' ';
		else if (c == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0)
		{
			bytes += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
			i += 2;
		}
		else
			bytes += c;
	}
	return replaceInvalidUtf8(bytes);
}

inline HeaderList parseQuery(std::string_view query)
/// Splits a query string (without '?') into decoded name/value pairs, in order.
{
	HeaderList pairs;
	while (!query.empty())
	{
		std::size_t amp = query.find('&');
		std::string_view part = query.substr(0, amp);
		if (!part.empty())
		{
			std::size_t eq = part.find('=');
			if (eq == std::string_view::npos)
				pairs.emplace_back(formDecode(part), std::string());
			else
				pairs.emplace_back(formDecode(part.substr(0, eq)), formDecode(part.substr(eq + 1)));
		}
		if (amp == std::string_view::npos)
			break;
		query.remove_prefix(amp + 1);
	}
	return pairs;
}

} // namespace HttpText


} // namespace Switchboard


#endif // Switchboard_Util_HttpText_INCLUDED
