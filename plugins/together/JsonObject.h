//
// JsonObject.h
//
// Writes one JSON object member by member, in the order the protocol shows its keys, for the
// objects the plugin sends (users, servers, channels, messages, voice states).
//


#ifndef Switchboard_Together_JsonObject_INCLUDED
#define Switchboard_Together_JsonObject_INCLUDED


#include "switchboard/util/Json.h"
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>


namespace Switchboard {
namespace Together {


class JsonObject
{
public:
	JsonObject& text(std::string_view key, std::string_view value)
	{
		Json::appendString(name(key), value);
		return *this;
	}

	JsonObject& optional(std::string_view key, const std::optional<std::string>& value)
	/// The string, or null.
	{
		if (value)
			return text(key, *value);
		return raw(key, "null");
	}

	JsonObject& integer(std::string_view key, std::int64_t value) { return raw(key, std::to_string(value)); }
	JsonObject& boolean(std::string_view key, bool value) { return raw(key, value ? "true" : "false"); }

	JsonObject& raw(std::string_view key, std::string_view json)
	/// json as it is: a nested object, an array or a literal.
	{
		name(key).append(json);
		return *this;
	}

	std::string str() const { return _out + '}'; }

private:
	std::string& name(std::string_view key)
	{
		_out += _out.size() > 1 ? ",\"" : "\"";
		_out.append(key);
		_out += "\":";
		return _out;
	}

	std::string _out = "{";
};


} // namespace Together
} // namespace Switchboard


#endif // Switchboard_Together_JsonObject_INCLUDED
