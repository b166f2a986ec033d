//
// ConfigSchema.h
//
// Validation of configuration values against Switchboard::ConfigKey declarations, shared by the
// host's own keys and the keys plugins declare.
//


#ifndef Switchboard_Core_ConfigSchema_INCLUDED
#define Switchboard_Core_ConfigSchema_INCLUDED


#include "switchboard/Config.h"
#include <cstddef>
#include <set>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Core {


class ConfigSchema
/// Stateless helpers: one place decides what a valid value of a declared key is and how the
/// expectation is worded in error messages and in --print-config.
///
/// `allowed` is an optional set of permitted values written "a|b|c" (the SDK's ConfigKey has
/// no such field, so only host keys use it); an empty view means any value of the type.
{
public:
	static bool checkValue(const Switchboard::ConfigKey& key, std::string_view value, std::string_view allowed = {});
	/// True when value parses as the key's type, lies within its range (integers, unless
	/// minimum and maximum are both 0) and is one of the allowed values if a set is given.

	static std::string expectation(const Switchboard::ConfigKey& key, std::string_view allowed = {});
	/// What checkValue accepts, for "expected ..." messages: "an integer between 1 and 256",
	/// "one of abort, skip", "a boolean (true/false, yes/no, on/off, 1/0)", ...

	static std::string checkDeclarations(const Switchboard::ConfigKey* keys, std::size_t count,
	                                     const std::set<std::string>& reserved);
	/// Checks a key table as a plugin declared it: non-null names made of [a-z0-9_], no
	/// duplicates, none of the reserved names, a known type, a sane range and a default that
	/// passes its own validation. Returns an empty string or a description of the first problem.

	static std::string defaultText(const Switchboard::ConfigKey& key);
	/// The default as shown to users: the value, "empty" for "", "required" for none.

	static bool isValidName(std::string_view name);
	/// [a-z0-9_]+: the form of key, listener and plugin names.

	static std::string quote(std::string_view value);
	/// value in double quotes, with quotes, backslashes and control characters escaped, so a
	/// message stays on one line whatever the input.
};


} // namespace Core
} // namespace Switchboard


#endif // Switchboard_Core_ConfigSchema_INCLUDED
