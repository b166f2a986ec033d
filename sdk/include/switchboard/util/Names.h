//
// util/Names.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): the one definition of the
// names the host accepts, shared by the host, its configuration and FakeHost.
//


#ifndef Switchboard_Util_Names_INCLUDED
#define Switchboard_Util_Names_INCLUDED


#include <string_view>


namespace Switchboard {
namespace Names {


inline bool isSectionName(std::string_view name) noexcept
/// [a-z0-9_]+: plugin names (descriptor, library file, [plugin.<name>], metric prefix), listener
/// names and the host's own configuration key names.
{
	if (name.empty())
		return false;
	for (char c : name)
	{
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}


inline bool isKeyName(std::string_view name) noexcept
/// A plugin's configuration key name: one or more isSectionName segments joined by '.', e.g.
/// "greeting" or "ws.send_queue.max_bytes"; no empty segment, so no leading, trailing or
/// doubled dot.
{
	while (true)
	{
		std::size_t dot = name.find('.');
		if (!isSectionName(name.substr(0, dot)))
			return false;
		if (dot == std::string_view::npos)
			return true;
		name.remove_prefix(dot + 1);
	}
}


inline bool isMetricName(std::string_view name) noexcept
/// [a-zA-Z_:][a-zA-Z0-9_:]*, the Prometheus metric name syntax.
{
	if (name.empty())
		return false;
	for (std::size_t i = 0; i < name.size(); ++i)
	{
		char c = name[i];
		bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
		if (!letter && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}


inline bool isLabelName(std::string_view name) noexcept
/// [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__" (reserved by Prometheus).
{
	if (name.empty() || name.substr(0, 2) == "__")
		return false;
	for (std::size_t i = 0; i < name.size(); ++i)
	{
		char c = name[i];
		bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		if (!letter && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}


} // namespace Names
} // namespace Switchboard


#endif // Switchboard_Util_Names_INCLUDED
