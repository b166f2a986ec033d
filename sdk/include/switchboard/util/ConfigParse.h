//
// util/ConfigParse.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): the one definition of how a
// configuration value of each ConfigType is parsed, used by the host, Config and FakeHost.
//


#ifndef Switchboard_Util_ConfigParse_INCLUDED
#define Switchboard_Util_ConfigParse_INCLUDED


#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {


namespace ConfigParse {
// The parsers the host validates with and Config reads with: one definition of each type.

inline std::string_view trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
		s.remove_suffix(1);
	return s;
}

inline bool parseInteger(std::string_view text, std::int64_t& out)
{
	std::string s(trim(text));
	if (s.empty())
		return false;
	char* end = nullptr;
	errno = 0;
	long long v = std::strtoll(s.c_str(), &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	out = v;
	return true;
}

inline bool parseDouble(std::string_view text, double& out)
{
	std::string s(trim(text));
	if (s.empty())
		return false;
	char* end = nullptr;
	errno = 0;
	double v = std::strtod(s.c_str(), &end);
	if (errno != 0 || *end != '\0')
		return false;
	out = v;
	return true;
}

inline bool parseBoolean(std::string_view text, bool& out)
{
	std::string s(trim(text));
	for (char& c : s)
		c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	if (s == "true" || s == "yes" || s == "on" || s == "1")
		out = true;
	else if (s == "false" || s == "no" || s == "off" || s == "0")
		out = false;
	else
		return false;
	return true;
}

inline std::vector<std::string> parseList(std::string_view text)
{
	std::vector<std::string> items;
	text = trim(text);
	while (!text.empty())
	{
		std::size_t comma = text.find(',');
		std::string_view item = trim(text.substr(0, comma));
		if (!item.empty())
			items.emplace_back(item);
		if (comma == std::string_view::npos)
			break;
		text.remove_prefix(comma + 1);
	}
	return items;
}

} // namespace ConfigParse


} // namespace Switchboard


#endif // Switchboard_Util_ConfigParse_INCLUDED
