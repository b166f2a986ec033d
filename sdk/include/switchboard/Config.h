//
// Config.h
//
// Switchboard SDK: how a plugin declares its configuration keys and reads their validated values.
//


#ifndef Switchboard_Config_INCLUDED
#define Switchboard_Config_INCLUDED


#include "switchboard/util/ConfigParse.h"
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {


enum class ConfigType : std::uint32_t
{
	STRING,
	INTEGER, ///< decimal, optionally with a range
	BOOLEAN, ///< true/false, yes/no, on/off, 1/0
	DOUBLE,
	STRING_LIST ///< comma-separated, items trimmed; an empty value is the empty list
};


struct ConfigKey
/// One declared key of a plugin's section `[plugin.<name>]`. Plain C layout so descriptors can
/// be static constants. The host rejects unknown keys, values that do not parse as the type,
/// integers outside [minimum, maximum] (checked unless both are 0) and missing required keys,
/// before the plugin is created.
{
	const char* name;
	ConfigType type;
	const char* defaultValue; ///< nullptr: the key is required
	const char* description;  ///< one line, shown by --print-config
	std::int64_t minimum;
	std::int64_t maximum;
};


class Config
/// A plugin's validated configuration: every declared key has a value (given or default).
/// Immutable after start; safe to read from any thread. Getters of undeclared keys return
/// empty, 0 or false.
{
public:
	Config() = default;
	explicit Config(std::map<std::string, std::string, std::less<>> values):
	    _values(std::move(values))
	{
	}

	bool has(std::string_view key) const { return _values.find(key) != _values.end(); }

	std::string getString(std::string_view key) const
	{
		auto it = _values.find(key);
		return it == _values.end() ? std::string() : it->second;
	}

	std::int64_t getInt(std::string_view key) const
	{
		std::int64_t v = 0;
		return ConfigParse::parseInteger(getString(key), v) ? v : 0;
	}

	double getDouble(std::string_view key) const
	{
		double v = 0;
		return ConfigParse::parseDouble(getString(key), v) ? v : 0;
	}

	bool getBool(std::string_view key) const
	{
		bool v = false;
		return ConfigParse::parseBoolean(getString(key), v) && v;
	}

	std::vector<std::string> getList(std::string_view key) const { return ConfigParse::parseList(getString(key)); }

	const std::map<std::string, std::string, std::less<>>& values() const { return _values; }

private:
	std::map<std::string, std::string, std::less<>> _values;
};


} // namespace Switchboard


#endif // Switchboard_Config_INCLUDED
