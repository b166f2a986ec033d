//
// util/Json.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): writing JSON strings exactly
// as JavaScript's JSON.stringify does, so that what plugins send matches what JavaScript servers
// and clients produce byte for byte. The one JSON string writer of the project.
//


#ifndef Switchboard_Util_Json_INCLUDED
#define Switchboard_Util_Json_INCLUDED


#include "switchboard/util/ByteScan.h"
#include <string>
#include <string_view>


namespace Switchboard {
namespace Json {


inline std::string& appendString(std::string& out, std::string_view text)
/// Appends text as a JSON string literal, quotes included: \" and \\, the short escapes
/// \b \f \n \r \t, \u00xx (lowercase hex) for other characters below U+0020, \udxxx (lowercase
/// hex) for a lone surrogate in its 3-byte WTF-8 form (as decoded from a JavaScript string), and
/// everything else raw ("/", "<", non-ASCII and U+2028 included). text should be UTF-8 or WTF-8
/// (see HttpText::replaceInvalidUtf8); other bytes are copied unchanged. Returns out.
/// Thread-safe; allocates only to grow out. Eight bytes at a time where nothing needs escaping.
{
	static const char HEX[] = "0123456789abcdef";
	out.reserve(out.size() + text.size() + 2);
	out.push_back('"');
	const char* p = text.data();
	const char* const end = p + text.size();
	const char* run = p;
	while (p != end)
	{
		// Skip to the next byte that may need an escape: '"', '\\', below 0x20, or 0xED (which
		// starts U+D000..U+DFFF, lone surrogates included).
		while (end - p >= 8)
		{
			const std::uint64_t word = ByteScan::loadWord(p);
			const std::uint64_t marks = ByteScan::bytesEqual(word, '"') | ByteScan::bytesEqual(word, '\\') |
			                            ByteScan::bytesBelowSpace(word) | ByteScan::bytesEqual(word, 0xED);
			if (marks != 0)
			{
				p += ByteScan::firstMarkedByte(marks);
				break;
			}
			p += 8;
		}
		if (p == end)
			break;
		const auto c = static_cast<unsigned char>(*p);
		if (c >= 0x20 && c != '"' && c != '\\' && c != 0xED)
		{
			++p;
			continue;
		}
		char escape[6] = {'\\', 'u', '0', '0', '0', '0'};
		std::size_t length = 2;
		std::size_t consumed = 1;
		switch (c)
		{
			case '"':
				escape[1] = '"';
				break;
			case '\\':
				escape[1] = '\\';
				break;
			case '\b':
				escape[1] = 'b';
				break;
			case '\f':
				escape[1] = 'f';
				break;
			case '\n':
				escape[1] = 'n';
				break;
			case '\r':
				escape[1] = 'r';
				break;
			case '\t':
				escape[1] = 't';
				break;
			case 0xED:
			{
				// ED A0..BF xx is a surrogate (U+D800..U+DFFF) in WTF-8; anything else starting with
				// ED is an ordinary character and is copied.
				if (end - p < 3 || (static_cast<unsigned char>(p[1]) & 0xE0) != 0xA0 ||
				    (static_cast<unsigned char>(p[2]) & 0xC0) != 0x80)
				{
					++p;
					continue;
				}
				const unsigned unit = 0xD000u | (static_cast<unsigned char>(p[1]) & 0x3Fu) << 6 |
				                      (static_cast<unsigned char>(p[2]) & 0x3Fu);
				escape[2] = HEX[unit >> 12];
				escape[3] = HEX[unit >> 8 & 0xF];
				escape[4] = HEX[unit >> 4 & 0xF];
				escape[5] = HEX[unit & 0xF];
				length = 6;
				consumed = 3;
				break;
			}
			default:
				escape[4] = HEX[c >> 4];
				escape[5] = HEX[c & 0xF];
				length = 6;
				break;
		}
		out.append(run, static_cast<std::size_t>(p - run));
		out.append(escape, length);
		p += consumed;
		run = p;
	}
	out.append(run, static_cast<std::size_t>(p - run));
	out.push_back('"');
	return out;
}


inline std::string quote(std::string_view text)
/// appendString into a new string.
{
	std::string out;
	return appendString(out, text);
}


} // namespace Json
} // namespace Switchboard


#endif // Switchboard_Util_Json_INCLUDED
