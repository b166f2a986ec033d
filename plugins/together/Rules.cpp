//
// Rules.cpp
//


#include "Rules.h"
#include "CivilTime.h"
#include "switchboard/util/HttpText.h"
#include <sodium.h>
#include <algorithm>
#include <cstdio>
#include <ctime>


namespace Switchboard {
namespace Together {


namespace {


bool lengthWithin(std::string_view text, std::size_t minimum, std::size_t maximum)
{
	const std::size_t n = codePoints(text);
	return n >= minimum && n <= maximum;
}


} // namespace


std::size_t codePoints(std::string_view utf8)
{
	std::size_t n = 0;
	for (char c : utf8)
		n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
	return n;
}


std::string usernameError(std::string_view username)
{
	bool allowed = username.size() >= 2 && username.size() <= 32;
	for (char c : username)
		allowed = allowed && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		                      c == '.' || c == '-');
	return allowed ? "" : "Username must be 2–32 characters: letters, digits, '_', '.' or '-'";
}


std::string emailError(std::string_view email)
{
	if (email.empty())
		return "";
	const std::size_t at = email.find('@');
	const bool valid = codePoints(email) <= 254 && at != std::string_view::npos && at > 0 &&
	                   email.find('@', at + 1) == std::string_view::npos &&
	                   email.substr(at + 1).find('.') != std::string_view::npos;
	return valid ? "" : "Invalid email address";
}


std::string passwordError(std::string_view password)
{
	return lengthWithin(password, 8, 128) ? "" : "Password must be 8–128 characters";
}


std::string serverNameError(std::string_view name)
{
	return lengthWithin(name, 1, 100) ? "" : "Server name must be 1–100 characters";
}


std::string serverDescriptionError(std::string_view description)
{
	return lengthWithin(description, 0, 1024) ? "" : "Server description must be at most 1024 characters";
}


std::string iconUrlError(std::string_view url)
{
	return lengthWithin(url, 0, 2048) ? "" : "Icon URL must be at most 2048 characters";
}


std::string avatarUrlError(std::string_view url)
{
	return lengthWithin(url, 0, 2048) ? "" : "Avatar URL must be at most 2048 characters";
}


std::string channelNameError(std::string_view name)
{
	return lengthWithin(name, 1, 100) ? "" : "Channel name must be 1–100 characters";
}


std::string channelTopicError(std::string_view topic)
{
	return lengthWithin(topic, 0, 1024) ? "" : "Channel topic must be at most 1024 characters";
}


std::string channelCategoryError(std::string_view category)
{
	return lengthWithin(category, 0, 100) ? "" : "Channel category must be at most 100 characters";
}


std::string messageContentError(std::string_view content)
{
	return lengthWithin(content, 1, 4000) ? "" : "Message content must be 1–4000 characters";
}


std::string customStatusError(std::string_view status)
{
	return lengthWithin(status, 0, 128) ? "" : "Custom status must be at most 128 characters";
}


bool pageLimit(std::string_view query, int& limit)
{
	if (query.empty())
	{
		limit = DEFAULT_PAGE;
		return true;
	}
	std::size_t i = query[0] == '-' || query[0] == '+' ? 1 : 0;
	if (i == query.size())
		return false;
	std::int64_t value = 0;
	for (; i < query.size(); ++i)
	{
		if (query[i] < '0' || query[i] > '9')
			return false;
		value = std::min<std::int64_t>(value * 10 + (query[i] - '0'), 1000000); // saturates: clamped below
	}
	if (query[0] == '-')
		value = -value;
	limit = static_cast<int>(value < 1 ? 1 : value > MAX_PAGE ? MAX_PAGE : value);
	return true;
}


std::string formatUuid(const unsigned char random[16])
{
	unsigned char bytes[16];
	for (int i = 0; i < 16; ++i)
		bytes[i] = random[i];
	bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40); // version 4
	bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
	static const char HEX[] = "0123456789abcdef";
	std::string out;
	out.reserve(36);
	for (int i = 0; i < 16; ++i)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out += '-';
		out += HEX[bytes[i] >> 4];
		out += HEX[bytes[i] & 0x0F];
	}
	return out;
}


bool parseUuid(std::string_view text, std::string& normalized)
{
	if (text.size() != 36)
		return false;
	std::string out(36, '\0');
	for (std::size_t i = 0; i < 36; ++i)
	{
		const bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
		if (hyphen ? text[i] != '-' : HttpText::hexDigitValue(text[i]) < 0)
			return false;
		out[i] = hyphen ? '-' : static_cast<char>(text[i] >= 'A' && text[i] <= 'F' ? text[i] - 'A' + 'a' : text[i]);
	}
	normalized = std::move(out);
	return true;
}


std::string formatTimestamp(std::int64_t micros)
{
	// Floor division, so instants before 1970 keep a fraction in 0..999999.
	std::int64_t seconds = micros / 1000000;
	std::int64_t fraction = micros % 1000000;
	if (fraction < 0)
	{
		fraction += 1000000;
		--seconds;
	}
	const CivilTime::UtcTime utc = CivilTime::utcTime(seconds);
	char buffer[96]; // room for any value the format may be given
	std::snprintf(buffer, sizeof(buffer), "%04lld-%02d-%02dT%02d:%02d:%02d.%06lldZ", static_cast<long long>(utc.year),
	              utc.month, utc.day, utc.hour, utc.minute, utc.second, static_cast<long long>(fraction));
	return buffer;
}


std::string sha256Hex(std::string_view text)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
	char hex[crypto_hash_sha256_BYTES * 2 + 1];
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	return hex;
}


std::string clientIp(const std::string& remoteAddress)
{
	if (!remoteAddress.empty() && remoteAddress[0] == '[')
		return remoteAddress.substr(1, remoteAddress.find(']') - 1);
	return remoteAddress.substr(0, remoteAddress.rfind(':'));
}


} // namespace Together
} // namespace Switchboard
