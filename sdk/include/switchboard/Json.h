//
// Json.h
//
// Switchboard SDK: writing JSON strings exactly as JavaScript's JSON.stringify does, so that what
// plugins send matches what JavaScript servers and clients produce byte for byte.
//


#ifndef Switchboard_Json_INCLUDED
#define Switchboard_Json_INCLUDED


#include <string>
#include <string_view>


namespace Switchboard {
namespace Json {


inline std::string& appendString(std::string& out, std::string_view utf8)
/// Appends utf8 as a JSON string literal, quotes included: \" and \\, the short escapes
/// \b \f \n \r \t, \u00xx (lowercase hex) for other characters below U+0020, everything else raw
/// ("/", "<", non-ASCII and U+2028 included). The input must be valid UTF-8 (see
/// HttpText::replaceInvalidUtf8). Thread-safe; allocates only to grow out.
{
	static const char HEX[] = "0123456789abcdef";
	out.reserve(out.size() + utf8.size() + 2);
	out += '"';
	for (char ch : utf8)
	{
		auto c = static_cast<unsigned char>(ch);
		switch (c)
		{
			case '"':
				out += "\\\"";
				break;
			case '\\':
				out += "\\\\";
				break;
			case '\b':
				out += "\\b";
				break;
			case '\f':
				out += "\\f";
				break;
			case '\n':
				out += "\\n";
				break;
			case '\r':
				out += "\\r";
				break;
			case '\t':
				out += "\\t";
				break;
			default:
				if (c < 0x20)
				{
					out += "\\u00";
					out += HEX[c >> 4];
					out += HEX[c & 0xF];
				}
				else
					out += ch;
		}
	}
	out += '"';
	return out;
}


inline std::string quote(std::string_view utf8)
/// appendString into a new string.
{
	std::string out;
	return appendString(out, utf8);
}


} // namespace Json
} // namespace Switchboard


#endif // Switchboard_Json_INCLUDED
