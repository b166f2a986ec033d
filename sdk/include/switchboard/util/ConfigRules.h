//
// util/ConfigRules.h
//
// Switchboard SDK utility (header-only, not part of the plugin ABI): the one definition of what a
// valid value of a declared configuration key is, how the expectation is worded in messages, and
// how a plugin's section is checked against its declared keys. The host and FakeHost both use it,
// so a plugin's tests see exactly the errors the host would print.
//


#ifndef Switchboard_Util_ConfigRules_INCLUDED
#define Switchboard_Util_ConfigRules_INCLUDED


#include "switchboard/Config.h"
#include "switchboard/util/ConfigParse.h"
#include "switchboard/util/Json.h"
#include "switchboard/util/Names.h"
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>


namespace Switchboard {
namespace ConfigRules {


constexpr const char* HOST_OWNED_PLUGIN_KEYS[] = {"enabled", "listener", "prefix"};
///< The keys the host owns in every [plugin.<name>] section; a plugin cannot declare them.


// `allowed`, where a function takes it, is an optional set of permitted values written "a|b|c"
// (the SDK's ConfigKey has no such field, so only the host's own keys use it); an empty view
// means any value of the key's type.


inline bool hasRange(const ConfigKey& key) noexcept
/// Whether an integer key's range is checked: unless minimum and maximum are both 0.
/// Thread-safe (pure).
{
	return key.minimum != 0 || key.maximum != 0;
}


inline bool isAllowed(std::string_view value, std::string_view allowed) noexcept
/// Whether value is one of the "a|b|c" alternatives (exact, case-sensitive match).
/// Thread-safe (pure).
{
	while (true)
	{
		std::size_t bar = allowed.find('|');
		if (allowed.substr(0, bar) == value)
			return true;
		if (bar == std::string_view::npos)
			return false;
		allowed.remove_prefix(bar + 1);
	}
}


inline bool checkValue(const ConfigKey& key, std::string_view value, std::string_view allowed = {})
/// True when value parses as the key's type (ConfigParse), lies within its range (integers,
/// unless minimum and maximum are both 0) and, if allowed is given, is one of its values.
/// Thread-safe (pure).
{
	switch (key.type)
	{
		case ConfigType::INTEGER:
		{
			std::int64_t number = 0;
			if (!ConfigParse::parseInteger(value, number))
				return false;
			if (hasRange(key) && (number < key.minimum || number > key.maximum))
				return false;
			break;
		}
		case ConfigType::BOOLEAN:
		{
			bool flag = false;
			if (!ConfigParse::parseBoolean(value, flag))
				return false;
			break;
		}
		case ConfigType::DOUBLE:
		{
			double number = 0;
			if (!ConfigParse::parseDouble(value, number))
				return false;
			break;
		}
		case ConfigType::STRING:
		case ConfigType::STRING_LIST:
			break;
		default:
			return false;
	}
	return allowed.empty() || isAllowed(ConfigParse::trim(value), allowed);
}


inline std::string expectation(const ConfigKey& key, std::string_view allowed = {})
/// What checkValue accepts, worded for "expected ..." messages: "an integer between 1 and 256",
/// "one of abort, skip", "a boolean (true/false, yes/no, on/off, 1/0)", ...
/// Thread-safe (pure).
{
	if (!allowed.empty())
	{
		std::string out = "one of ";
		for (char c : allowed)
		{
			if (c == '|')
				out += ", ";
			else
				out += c;
		}
		return out;
	}
	switch (key.type)
	{
		case ConfigType::INTEGER:
			if (hasRange(key))
				return "an integer between " + std::to_string(key.minimum) + " and " + std::to_string(key.maximum);
			return "an integer";
		case ConfigType::BOOLEAN:
			return "a boolean (true/false, yes/no, on/off, 1/0)";
		case ConfigType::DOUBLE:
			return "a number";
		case ConfigType::STRING:
			return "a string";
		case ConfigType::STRING_LIST:
			return "a comma-separated list";
	}
	return "a value of an unknown type";
}


inline std::string defaultText(const ConfigKey& key)
/// The default as shown to users: the value, "empty" for "", "required" for none.
/// Thread-safe (pure).
{
	if (key.defaultValue == nullptr)
		return "required";
	if (*key.defaultValue == '\0')
		return "empty";
	return key.defaultValue;
}


inline std::string checkDeclarations(const ConfigKey* keys, std::size_t count, const std::set<std::string>& reserved)
/// Checks a key table as a plugin declares it: a table when count > 0, non-null names of the
/// form Names::isKeyName (dot-separated [a-z0-9_]+ segments), no duplicates, none of the reserved names, a known type,
/// a sane range and a default that passes its own validation. Returns "" or the first problem, e.g. `key "n" has the
/// default "100", not an integer between 1 and 10`. Thread-safe (pure; reads keys only).
{
	if (count > 0 && keys == nullptr)
		return "declares " + std::to_string(count) + " keys but no key table";
	std::set<std::string, std::less<>> seen;
	for (std::size_t i = 0; i < count; ++i)
	{
		const ConfigKey& key = keys[i];
		if (key.name == nullptr)
			return "key #" + std::to_string(i + 1) + " has no name";
		std::string name(key.name);
		if (!Names::isKeyName(name))
			return "key " + Json::quote(name) +
			       " is not a valid name (expected [a-z0-9_]+ segments separated by dots, e.g. ws.max_bytes)";
		if (reserved.count(name))
			return "key " + Json::quote(name) + " is owned by the host and cannot be declared";
		if (!seen.insert(name).second)
			return "key " + Json::quote(name) + " is declared twice";
		if (static_cast<std::uint32_t>(key.type) > static_cast<std::uint32_t>(ConfigType::STRING_LIST))
			return "key " + Json::quote(name) + " has an unknown type";
		if (key.type == ConfigType::INTEGER && key.minimum > key.maximum)
			return "key " + Json::quote(name) + " has a minimum above its maximum";
		if (key.defaultValue != nullptr && !checkValue(key, key.defaultValue))
			return "key " + Json::quote(name) + " has the default " + Json::quote(key.defaultValue) + ", not " +
			       expectation(key);
	}
	return std::string();
}


inline std::string declaredNames(const ConfigKey* keys, std::size_t count)
/// The declared key names in declaration order, ", "-separated (unnamed entries skipped).
/// Thread-safe (pure).
{
	std::string out;
	for (std::size_t i = 0; i < count; ++i)
	{
		if (keys[i].name == nullptr)
			continue;
		if (!out.empty())
			out += ", ";
		out += keys[i].name;
	}
	return out;
}


inline bool validateSection(const ConfigKey* keys, std::size_t count,
                            const std::map<std::string, std::string, std::less<>>& given,
                            std::map<std::string, std::string, std::less<>>& values, std::vector<std::string>& errors,
                            std::string_view accepts = {})
/// Checks one plugin section against its declaration (which should have passed
/// checkDeclarations). given: the plugin's own keys as written (lower-case names, values
/// trimmed), without the host-owned ones. On return values holds every declared key: the given
/// value, or the default. Each problem appends one line "<key>: <problem>" to errors, so the
/// caller prefixes where the key came from:
///
///   greting: unknown key (accepts: greeting, max_size)
///   max_size: expected an integer between 1 and 1048576, got "big"
///   secret: missing required key (expected a string)
///
/// Unknown and invalid keys come first, in name order, then missing required keys in
/// declaration order. accepts replaces the parenthesised list of the unknown-key message (the
/// host writes "plugin echo accepts: enabled, listener, prefix, greeting, max_size"); empty
/// means "accepts: " followed by the declared names. Returns true when nothing was appended.
/// Thread-safe (pure; writes only values and errors).
{
	std::size_t errorsBefore = errors.size();
	values.clear();
	auto declared = [keys, count](std::string_view name) -> const ConfigKey* {
		for (std::size_t i = 0; i < count; ++i)
		{
			if (keys[i].name != nullptr && name == keys[i].name)
				return &keys[i];
		}
		return nullptr;
	};
	for (const auto& entry : given)
	{
		const ConfigKey* key = declared(entry.first);
		if (key == nullptr)
		{
			std::string list = accepts.empty() ? "accepts: " + declaredNames(keys, count) : std::string(accepts);
			errors.push_back(entry.first + ": unknown key (" + list + ")");
		}
		else if (!checkValue(*key, entry.second))
			errors.push_back(entry.first + ": expected " + expectation(*key) + ", got " + Json::quote(entry.second));
		else
			values[entry.first] = entry.second;
	}
	for (std::size_t i = 0; i < count; ++i)
	{
		const ConfigKey& key = keys[i];
		if (key.name == nullptr || given.find(std::string_view(key.name)) != given.end())
			continue; // a given but invalid value is reported above, not as missing
		if (key.defaultValue != nullptr)
			values[key.name] = key.defaultValue;
		else
			errors.push_back(std::string(key.name) + ": missing required key (expected " + expectation(key) + ")");
	}
	return errors.size() == errorsBefore;
}


} // namespace ConfigRules
} // namespace Switchboard


#endif // Switchboard_Util_ConfigRules_INCLUDED
