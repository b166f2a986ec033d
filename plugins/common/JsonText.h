//
// JsonText.h
//
// Reading JSON text without building a tree, for the bundled plugins: a strict syntax check (RFC 8259,
// any number of any size, as JavaScript accepts), the raw text of an object's member, and the
// value of a string token. The relay forwards values as the sender wrote them, so key order,
// number text and escapes survive byte for byte. Pure functions: thread-safe.
//


#ifndef Switchboard_Common_JsonText_INCLUDED
#define Switchboard_Common_JsonText_INCLUDED


#include <functional>
#include <string>
#include <string_view>


namespace Switchboard {
namespace JsonText {


constexpr int MAX_DEPTH = 64;

bool isValid(std::string_view text, int maxDepth = MAX_DEPTH);
/// True when text is exactly one JSON value, surrounded by optional whitespace, nested at most
/// maxDepth arrays and objects deep. The text is UTF-8 (the host has checked it).

bool member(std::string_view object, std::string_view key, std::string_view& value);
/// The raw text of the member named key of a valid JSON object (the last one when repeated; key
/// compared after unescaping). False when object is not an object or has no such member.

bool forEachMember(std::string_view object, const std::function<bool(const std::string&, std::string_view)>& visit);
/// Calls visit(name, raw value text) for each member of a valid JSON object, in order (names
/// unescaped); visit returns false to stop early. False when object is not an object.

bool stringValue(std::string_view token, std::string& value);
/// The value of a JSON string token (quotes included in token), escapes decoded to UTF-8.
/// False when token is not a string.

bool isNull(std::string_view token);


} // namespace JsonText
} // namespace Switchboard


#endif // Switchboard_Common_JsonText_INCLUDED
