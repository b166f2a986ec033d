//
// ConfigSchema.cpp
//
// Validation of configuration values against Switchboard::ConfigKey declarations.
//


#include "core/ConfigSchema.h"
#include <cstdio>


namespace Switchboard {
namespace Core {


namespace {


bool hasRange(const Switchboard::ConfigKey& key)
{
	return key.minimum != 0 || key.maximum != 0;
}


bool inAllowed(std::string_view value, std::string_view allowed)
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


std::string listAllowed(std::string_view allowed)
{
	std::string out;
	for (char c : allowed)
		out += (c == '|') ? std::string(", ") : std::string(1, c);
	return out;
}


} // namespace


bool ConfigSchema::checkValue(const Switchboard::ConfigKey& key, std::string_view value, std::string_view allowed)
{
	switch (key.type)
	{
		case ConfigType::INTEGER:
		{
			std::int64_t v = 0;
			if (!ConfigParse::parseInteger(value, v))
				return false;
			if (hasRange(key) && (v < key.minimum || v > key.maximum))
				return false;
			break;
		}
		case ConfigType::BOOLEAN:
		{
			bool b = false;
			if (!ConfigParse::parseBoolean(value, b))
				return false;
			break;
		}
		case ConfigType::DOUBLE:
		{
			double d = 0;
			if (!ConfigParse::parseDouble(value, d))
				return false;
			break;
		}
		case ConfigType::STRING:
		case ConfigType::STRING_LIST:
			break;
		default:
			return false;
	}
	return allowed.empty() || inAllowed(ConfigParse::trim(value), allowed);
}


std::string ConfigSchema::expectation(const Switchboard::ConfigKey& key, std::string_view allowed)
{
	if (!allowed.empty())
		return "one of " + listAllowed(allowed);
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


std::string ConfigSchema::checkDeclarations(const Switchboard::ConfigKey* keys, std::size_t count,
                                            const std::set<std::string>& reserved)
{
	if (count > 0 && keys == nullptr)
		return "declares " + std::to_string(count) + " keys but no key table";
	std::set<std::string> seen;
	for (std::size_t i = 0; i < count; ++i)
	{
		const Switchboard::ConfigKey& key = keys[i];
		if (key.name == nullptr)
			return "key #" + std::to_string(i + 1) + " has no name";
		std::string name(key.name);
		if (!isValidName(name))
			return "key " + quote(name) + " is not a valid name (expected [a-z0-9_]+)";
		if (reserved.count(name))
			return "key " + quote(name) + " is owned by the host and cannot be declared";
		if (!seen.insert(name).second)
			return "key " + quote(name) + " is declared twice";
		if (static_cast<std::uint32_t>(key.type) > static_cast<std::uint32_t>(ConfigType::STRING_LIST))
			return "key " + quote(name) + " has an unknown type";
		if (key.type == ConfigType::INTEGER && key.minimum > key.maximum)
			return "key " + quote(name) + " has a minimum above its maximum";
		if (key.defaultValue != nullptr && !checkValue(key, key.defaultValue))
			return "key " + quote(name) + " has the default " + quote(key.defaultValue) + ", not " + expectation(key);
	}
	return std::string();
}


std::string ConfigSchema::defaultText(const Switchboard::ConfigKey& key)
{
	if (key.defaultValue == nullptr)
		return "required";
	if (*key.defaultValue == '\0')
		return "empty";
	return key.defaultValue;
}


bool ConfigSchema::isValidName(std::string_view name)
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


std::string ConfigSchema::quote(std::string_view value)
{
	std::string out = "\"";
	for (char c : value)
	{
		unsigned char u = static_cast<unsigned char>(c);
		if (c == '"' || c == '\\')
		{
			out += '\\';
			out += c;
		}
		else if (c == '\n')
			out += "\\n";
		else if (c == '\t')
			out += "\\t";
		else if (c == '\r')
			out += "\\r";
		else if (u < 0x20 || u == 0x7f)
		{
			char buf[8];
			std::snprintf(buf, sizeof(buf), "\\x%02x", u);
			out += buf;
		}
		else
			out += c;
	}
	out += '"';
	return out;
}


} // namespace Core
} // namespace Switchboard
