//
// Formats.cpp
//


#include "Formats.h"
#include "CivilTime.h"
#include "Codec.h"
#include <ctime>


namespace Switchboard {
namespace Govpn {


namespace {


bool hasControlCharacter(std::string_view text)
{
	for (char c : text)
		if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
			return true;
	return false;
}


bool isOnlyWhitespace(std::string_view text)
{
	// Unicode spaces in their UTF-8 forms; control characters are refused before this runs.
	static const std::string_view SPACES[] = {
	    " ",           "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F",
	    "\xE3\x80\x80"};
	std::size_t i = 0;
	while (i < text.size())
	{
		bool matched = false;
		for (std::string_view space : SPACES)
			if (text.substr(i, space.size()) == space)
			{
				i += space.size();
				matched = true;
				break;
			}
		// U+2000..U+200A
		if (!matched && text.size() - i >= 3 && text.substr(i, 2) == "\xE2\x80" &&
		    static_cast<unsigned char>(text[i + 2]) >= 0x80 && static_cast<unsigned char>(text[i + 2]) <= 0x8A)
		{
			i += 3;
			matched = true;
		}
		if (!matched)
			return false;
	}
	return true;
}


} // namespace


bool isPublicKey(std::string_view text)
{
	// 32 bytes in canonical padded base64, decoded into the stack: no allocation.
	char bytes[decodedCapacity(44)];
	return text.size() == 44 && readBase64(text, bytes) == 32;
}


bool isRoomId(std::string_view text)
{
	if (text.size() != 16)
		return false;
	for (char c : text)
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	return true;
}


bool isPassword(std::string_view text)
{
	if (text.size() != 4)
		return false;
	for (char c : text)
		if (c < '0' || c > '9')
			return false;
	return true;
}


bool isRoomName(std::string_view text)
{
	return !text.empty() && text.size() <= 255 && !hasControlCharacter(text) && !isOnlyWhitespace(text);
}


bool isUsername(std::string_view text)
{
	return text.size() <= 255 && !hasControlCharacter(text);
}


std::string rfc3339(std::int64_t unixMs)
{
	// Truncated towards zero, as the C library's conversion of unixMs / 1000 was.
	const CivilTime::UtcTime utc = CivilTime::utcTime(unixMs / 1000);
	char buffer[64];
	std::snprintf(buffer, sizeof(buffer), "%04lld-%02d-%02dT%02d:%02d:%02dZ", static_cast<long long>(utc.year),
	              utc.month, utc.day, utc.hour, utc.minute, utc.second);
	return buffer;
}


std::string lowerHex(const unsigned char* bytes, std::size_t length)
{
	static const char HEX[] = "0123456789abcdef";
	std::string out;
	out.reserve(length * 2);
	for (std::size_t i = 0; i < length; ++i)
	{
		out += HEX[bytes[i] >> 4];
		out += HEX[bytes[i] & 0xF];
	}
	return out;
}


} // namespace Govpn
} // namespace Switchboard
